"""A mountpoint's live description, computed from the frames that pass through it: which messages
at which rates, which constellations and bands, where the base is, how many bits per second.
This is what the sourcetable's STR record and the caster's metrics say about a stream."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from gnss.geodesy import ecef_to_geodetic
from gnss.rtcm.decode import decode
from gnss.rtcm.framing import RtcmFrame
from gnss.rtcm.msm import MsmEpoch
from gnss.rtcm.station import StationArp

SYSTEM_NAMES = {"G": "GPS", "R": "GLO", "E": "GAL", "J": "QZS", "C": "BDS", "S": "SBAS", "I": "IRS"}
SYSTEM_ORDER = "GRECJSI"
RATE_WINDOW_S = 60.0
ARP_TYPES = (1005, 1006)


@dataclass
class StreamStats:
    bytes_in: int = 0
    bytes_out: int = 0
    frames: int = 0
    frames_dropped: int = 0
    clients_dropped: int = 0
    last_frame_at: float | None = None  # time.monotonic()
    connected_at: float | None = None
    lat: float | None = None
    lon: float | None = None
    height: float | None = None
    systems: set[str] = field(default_factory=set)
    bands: set[str] = field(default_factory=set)
    _times: dict[int, deque[float]] = field(default_factory=dict)
    _bytes: deque[tuple[float, int]] = field(default_factory=deque)

    def observe(self, frame: RtcmFrame, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.frames += 1
        self.bytes_in += len(frame.raw)
        self.last_frame_at = now
        times = self._times.setdefault(frame.msg_type, deque(maxlen=64))
        times.append(now)
        self._bytes.append((now, len(frame.raw)))
        while self._bytes and now - self._bytes[0][0] > RATE_WINDOW_S:
            self._bytes.popleft()
        if frame.msg_type in ARP_TYPES:
            arp = decode(frame)
            if isinstance(arp, StationArp):
                lat, lon, h = ecef_to_geodetic(np.asarray(arp.ecef_m, dtype=np.float64))
                self.lat, self.lon, self.height = float(lat), float(lon), float(h)
        elif 1071 <= frame.msg_type <= 1137 and len(self._times[frame.msg_type]) < 4:
            # the first few MSMs of a type tell its system and bands; they do not change
            msm = decode(frame)
            if isinstance(msm, MsmEpoch):
                self.systems.add(msm.system)
                self.bands.update(str(code)[0] for code in set(msm.code.tolist()))

    def rates(self) -> dict[int, int]:
        """Message type -> seconds between messages (NTRIP's ``1005(10)``), 0 when sent once."""
        out = {}
        for msg_type, times in sorted(self._times.items()):
            if len(times) < 2:
                out[msg_type] = 0
            else:
                out[msg_type] = max(1, round((times[-1] - times[0]) / (len(times) - 1)))
        return out

    def bitrate(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        if not self._bytes:
            return 0
        span = max(1.0, min(RATE_WINDOW_S, now - self._bytes[0][0]))
        return int(sum(n for _, n in self._bytes) * 8 / span)

    def nav_systems(self) -> str:
        return "+".join(SYSTEM_NAMES[s] for s in SYSTEM_ORDER if s in self.systems)

    def carrier(self) -> int:
        """0 no phase, 1 single frequency, 2 dual (or more) frequency."""
        if not self.systems:
            return 0
        return 2 if len(self.bands) >= 2 else 1

    def age_s(self, now: float | None = None) -> float | None:
        if self.last_frame_at is None:
            return None
        return (time.monotonic() if now is None else now) - self.last_frame_at
