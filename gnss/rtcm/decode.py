"""One entry point from a frame (or bare payload) to a typed record, dispatching on message type.

Message types we do not decode come back as :class:`Unknown` rather than None, so a caller can
count and log them (or forward the raw frame) without a second type switch; ``None`` is kept for
payloads that are too short for what their own header announces (a CRC-valid but malformed
message, e.g. from a buggy encoder), which must not stop a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from gnss.rtcm.bits import ShortPayload
from gnss.rtcm.ephemeris import EPHEMERIS_TYPES, GlonassEphemeris, KeplerEphemeris, decode_ephemeris
from gnss.rtcm.framing import RtcmFrame
from gnss.rtcm.legacy import LEGACY_TYPES, LegacyObs, decode_legacy
from gnss.rtcm.msm import MsmEpoch, decode_msm, is_msm
from gnss.rtcm.ssr import SSR_TYPES, SsrCorrections, decode_ssr
from gnss.rtcm.station import (
    AntennaDescriptor,
    GlonassBiases,
    ReceiverAntennaInfo,
    StationArp,
    SystemParameters,
    TextMessage,
    decode_1005_1006,
    decode_1007_1008,
    decode_1013,
    decode_1029,
    decode_1033,
    decode_1230,
)

__all__ = ["Record", "Unknown", "decode", "message_type"]


@dataclass(frozen=True, slots=True)
class Unknown:
    """A valid frame of a type this package does not decode."""

    msg_type: int
    length: int


Record = (
    MsmEpoch
    | LegacyObs
    | KeplerEphemeris
    | GlonassEphemeris
    | SsrCorrections
    | StationArp
    | AntennaDescriptor
    | ReceiverAntennaInfo
    | SystemParameters
    | TextMessage
    | GlonassBiases
    | Unknown
)

_STATION: Final[dict[int, Callable[[bytes], Record]]] = {
    1005: decode_1005_1006,
    1006: decode_1005_1006,
    1007: decode_1007_1008,
    1008: decode_1007_1008,
    1013: decode_1013,
    1029: decode_1029,
    1033: decode_1033,
    1230: decode_1230,
}


def message_type(payload: bytes) -> int:
    """DF002 (the first 12 bits); 0 for a payload shorter than 2 bytes."""
    return (payload[0] << 4) | (payload[1] >> 4) if len(payload) >= 2 else 0


def decode(frame_or_payload: RtcmFrame | bytes) -> Record | None:
    """Decode a frame (``RtcmFrame``) or a payload (``bytes`` without header and CRC).

    Returns the typed record, :class:`Unknown` for types not handled here, or None when the
    payload is truncated/malformed.
    """
    payload = frame_or_payload.payload if isinstance(frame_or_payload, RtcmFrame) else frame_or_payload
    msg_type = message_type(payload)
    try:
        if is_msm(msg_type):
            return decode_msm(payload)
        if msg_type in LEGACY_TYPES:
            return decode_legacy(payload)
        if msg_type in EPHEMERIS_TYPES:
            return decode_ephemeris(msg_type, payload)
        if msg_type in SSR_TYPES:
            return decode_ssr(payload)
        station = _STATION.get(msg_type)
        if station is not None:
            return station(payload)
    except ShortPayload:
        return None
    return Unknown(msg_type, len(payload))
