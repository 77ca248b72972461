"""Reference-station descriptions: 1005/1006 (antenna reference point) and 1033 (receiver and antenna).

The ARP is the point RTK baselines are measured from, so it is returned in metres as a float64
ECEF vector ready for array code, with the 1006 antenna height kept separate (RTCM's ARP is not
the phase centre and not the marker).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gnss.rtcm.bits import BitReader

__all__ = ["ReceiverAntennaInfo", "StationArp", "decode_1005_1006", "decode_1033"]


@dataclass(frozen=True, slots=True, eq=False)
class StationArp:
    """Antenna reference point, ECEF metres (DF025-DF027, 0.1 mm), in the ITRF of ``itrf_year``.

    ``itrf_year`` is DF021 as sent (0 = not specified). ``antenna_height_m`` (DF028) is only in 1006.
    """

    msg_type: int
    station_id: int
    itrf_year: int
    gps: bool
    glonass: bool
    galileo: bool
    reference_station: bool
    single_oscillator: bool
    quarter_cycle: int
    ecef_m: NDArray[np.float64]
    antenna_height_m: float | None


@dataclass(frozen=True, slots=True)
class ReceiverAntennaInfo:
    """1033 descriptors as broadcast (ISO 8859-1 text, trailing blanks kept)."""

    station_id: int
    antenna_descriptor: str
    antenna_setup_id: int
    antenna_serial: str
    receiver_type: str
    receiver_firmware: str
    receiver_serial: str


def decode_1005_1006(payload: bytes) -> StationArp:
    r = BitReader(payload)
    msg_type = r.u(12)
    station = r.u(12)
    itrf = r.u(6)
    gps, glo, gal, ref = r.u(1), r.u(1), r.u(1), r.u(1)
    x = r.s(38)
    single_osc = r.u(1)
    r.skip(1)
    y = r.s(38)
    quarter = r.u(2)
    z = r.s(38)
    height = r.u(16) * 1e-4 if msg_type == 1006 else None
    return StationArp(
        msg_type=msg_type,
        station_id=station,
        itrf_year=itrf,
        gps=bool(gps),
        glonass=bool(glo),
        galileo=bool(gal),
        reference_station=bool(ref),
        single_oscillator=bool(single_osc),
        quarter_cycle=quarter,
        ecef_m=np.array([x, y, z], dtype=np.float64) * 1e-4,
        antenna_height_m=height,
    )


def decode_1033(payload: bytes) -> ReceiverAntennaInfo:
    r = BitReader(payload, 12)
    station = r.u(12)
    antenna = r.chars(r.u(8))
    setup = r.u(8)
    antenna_serial = r.chars(r.u(8))
    rx_type = r.chars(r.u(8))
    rx_fw = r.chars(r.u(8))
    rx_serial = r.chars(r.u(8))
    return ReceiverAntennaInfo(station, antenna, setup, antenna_serial, rx_type, rx_fw, rx_serial)
