"""Replaying a capture at its recorded pace: the receiver simulator of the tests and the demo.

The pace comes from the capture itself: each epoch's time - an NMEA time of day (GGA/RMC/GNS/ZDA...)
or, in an RTCM-only capture, the MSM epoch time of the first MSM type seen - marks the byte offset
where that epoch starts; bytes between two marks are sent together, after waiting
the recorded interval (divided by ``speed``). A capture with neither is sent at a steady
``fallback_rate`` bytes per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from gnss.framer import StreamFramer
from gnss.rtcm.decode import decode
from gnss.rtcm.framing import RtcmFrame
from gnss.rtcm.msm import MsmEpoch

STEP = 64  # bytes fed at a time while finding marks: an epoch boundary is placed within this


def pace_marks(data: bytes) -> list[tuple[int, float]]:
    """(byte offset, seconds since the first epoch) at each new epoch of the capture."""
    framer = StreamFramer()
    marks: list[tuple[int, float]] = []
    first: float | None = None
    last: float | None = None
    # what paces: NMEA times of day (0), or one MSM message type's epochs - whichever comes first
    clock_type: int | None = None
    for start in range(0, len(data) + STEP, STEP):
        before = framer.consumed
        records = framer.feed(data[start : start + STEP]) if start < len(data) else framer.flush()
        for record in records:
            tod = _epoch_time(record, clock_type)
            if tod is not None and clock_type is None:
                clock_type = record.msg_type if isinstance(record, RtcmFrame) else 0
            if tod is None or tod == last:
                continue
            if first is None:
                first = tod
            elapsed = (tod - first) % (604_800.0 if clock_type else 86_400.0)  # across midnight/week
            if last is not None and elapsed < marks[-1][1]:
                continue  # a stray older time: no going back
            last = tod
            marks.append((before, elapsed))
    return marks


def _epoch_time(record: object, clock_type: int | None) -> float | None:
    if isinstance(record, RtcmFrame):
        if clock_type == 0:
            return None
        if not 1071 <= record.msg_type <= 1137 or clock_type not in (None, record.msg_type):
            return None
        msm = decode(record)
        return float(msm.epoch_s) if isinstance(msm, MsmEpoch) else None
    tod = getattr(record, "tod", None) if clock_type in (None, 0) else None
    return float(tod) if tod is not None else None


async def paced_chunks(
    data: bytes,
    *,
    speed: float = 1.0,
    fallback_rate: float = 4096.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[bytes]:
    """The capture in pieces, each yielded when it would have left the receiver."""
    marks = pace_marks(data)
    if len(marks) < 2:
        step = max(1, int(fallback_rate * speed / 10))
        for i in range(0, len(data), step):
            yield data[i : i + step]
            await sleep(0.1)
        return
    offsets = [0] + [m[0] for m in marks[1:]] + [len(data)]
    times = [0.0] + [m[1] for m in marks[1:]]
    for i in range(len(offsets) - 1):
        if i > 0:
            await sleep(max(0.0, (times[i] - times[i - 1]) / speed))
        piece = data[offsets[i] : offsets[i + 1]]
        if piece:
            yield piece
