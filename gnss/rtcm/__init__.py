"""RTCM 3: sans-I/O framing (:mod:`.framing`) and decoding into typed records and NumPy arrays.

Typical use::

    framer = RtcmFramer()
    for frame in framer.feed(chunk):
        record = decode(frame)
"""

from gnss.rtcm.decode import Record, Unknown, decode, message_type
from gnss.rtcm.ephemeris import GlonassEphemeris, KeplerEphemeris, decode_ephemeris
from gnss.rtcm.framing import RtcmFrame, RtcmFramer, crc24q, frame_at
from gnss.rtcm.legacy import LegacyObs, decode_legacy
from gnss.rtcm.msm import MsmEpoch, decode_msm
from gnss.rtcm.ssr import SsrCorrections, decode_ssr
from gnss.rtcm.station import (
    AntennaDescriptor,
    GlonassBiases,
    ReceiverAntennaInfo,
    StationArp,
    SystemParameters,
    TextMessage,
)

__all__ = [
    "AntennaDescriptor",
    "GlonassBiases",
    "GlonassEphemeris",
    "KeplerEphemeris",
    "LegacyObs",
    "MsmEpoch",
    "ReceiverAntennaInfo",
    "Record",
    "RtcmFrame",
    "RtcmFramer",
    "SsrCorrections",
    "StationArp",
    "SystemParameters",
    "TextMessage",
    "Unknown",
    "crc24q",
    "decode",
    "decode_ephemeris",
    "decode_legacy",
    "decode_msm",
    "decode_ssr",
    "frame_at",
    "message_type",
]
