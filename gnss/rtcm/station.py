"""What a reference station says about itself: 1005/1006 (antenna reference point), 1007/1008
(antenna descriptor), 1033 (receiver and antenna), 1013 (system parameters), 1029 (text) and
1230 (GLONASS code-phase biases).

The ARP is the point RTK baselines are measured from, so it is returned in metres as a float64
ECEF vector ready for array code, with the 1006 antenna height kept separate (RTCM's ARP is not
the phase centre and not the marker). Biases and intervals are in metres and seconds; text is
returned as broadcast (ISO 8859-1 descriptors, UTF-8 in 1029).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gnss.rtcm.bits import BitReader

__all__ = [
    "AntennaDescriptor",
    "GlonassBiases",
    "MessageAnnouncement",
    "ReceiverAntennaInfo",
    "StationArp",
    "SystemParameters",
    "TextMessage",
    "decode_1005_1006",
    "decode_1007_1008",
    "decode_1013",
    "decode_1029",
    "decode_1033",
    "decode_1230",
]


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


@dataclass(frozen=True, slots=True)
class AntennaDescriptor:
    """1007/1008: the antenna's IGS descriptor (DF030) and setup ID (DF031); 1008 adds its serial
    number (DF033, None in 1007)."""

    msg_type: int
    station_id: int
    descriptor: str
    setup_id: int
    serial: str | None


@dataclass(frozen=True, slots=True)
class MessageAnnouncement:
    """One entry of 1013: a message type the station sends, and how often (DF055-DF057)."""

    msg_type: int
    synchronous: bool
    interval_s: float


@dataclass(frozen=True, slots=True)
class SystemParameters:
    """1013: the station's UTC time (MJD DF051, seconds of day DF052), GPS-UTC leap seconds
    (DF054) and the messages it announces."""

    station_id: int
    mjd: int
    seconds_of_day: int
    leap_seconds: int
    announcements: tuple[MessageAnnouncement, ...]


@dataclass(frozen=True, slots=True)
class TextMessage:
    """1029: free text, UTF-8 (DF140), with the UTC time it was written. ``characters`` is DF138
    as sent (characters, not bytes); bytes that are not UTF-8 read as U+FFFD."""

    station_id: int
    mjd: int
    seconds_of_day: int
    characters: int
    text: str


@dataclass(frozen=True, slots=True)
class GlonassBiases:
    """1230: the station's GLONASS code-phase biases (DF423-DF426, metres; None when the mask
    DF422 leaves them out). ``aligned`` (DF421): the station's code and phase observations are
    already aligned, i.e. these biases have been removed from them."""

    station_id: int
    aligned: bool
    l1ca_m: float | None
    l1p_m: float | None
    l2ca_m: float | None
    l2p_m: float | None


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


def decode_1007_1008(payload: bytes) -> AntennaDescriptor:
    r = BitReader(payload)
    msg_type = r.u(12)
    station = r.u(12)
    descriptor = r.chars(r.u(8))
    setup = r.u(8)
    serial = r.chars(r.u(8)) if msg_type == 1008 else None
    return AntennaDescriptor(msg_type, station, descriptor, setup, serial)


def decode_1013(payload: bytes) -> SystemParameters:
    r = BitReader(payload, 12)
    station, mjd, sod, count, leap = r.u(12), r.u(16), r.u(17), r.u(5), r.u(8)
    announced = tuple(MessageAnnouncement(r.u(12), bool(r.u(1)), r.u(16) * 0.1) for _ in range(count))
    return SystemParameters(station, mjd, sod, leap, announced)


def decode_1029(payload: bytes) -> TextMessage:
    r = BitReader(payload, 12)
    station, mjd, sod, characters, units = r.u(12), r.u(16), r.u(17), r.u(7), r.u(8)
    text = bytes(r.u(8) for _ in range(units)).decode("utf-8", errors="replace")
    return TextMessage(station, mjd, sod, characters, text)


def decode_1230(payload: bytes) -> GlonassBiases:
    r = BitReader(payload, 12)
    station = r.u(12)
    aligned = bool(r.u(1))
    r.skip(3)
    mask = r.u(4)
    l1ca, l1p, l2ca, l2p = (r.s(16) * 0.02 if mask >> (3 - k) & 1 else None for k in range(4))
    return GlonassBiases(station, aligned, l1ca, l1p, l2ca, l2p)
