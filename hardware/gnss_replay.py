"""Replaying a capture at its recorded pace: the receiver simulator of the tests and the demo.

The pace comes from the capture itself: each NMEA epoch's time of day (GGA/RMC/GNS/ZDA...) marks
the byte offset where that epoch starts; bytes between two marks are sent together, after waiting
the recorded interval (divided by ``speed``). A capture with no NMEA times is sent at a steady
``fallback_rate`` bytes per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from gnss.framer import StreamFramer

STEP = 64  # bytes fed at a time while finding marks: an epoch boundary is placed within this


def pace_marks(data: bytes) -> list[tuple[int, float]]:
    """(byte offset, seconds since the first epoch) at each new epoch of the capture."""
    framer = StreamFramer()
    marks: list[tuple[int, float]] = []
    first: float | None = None
    last: float | None = None
    for start in range(0, len(data) + STEP, STEP):
        before = framer.consumed
        records = framer.feed(data[start : start + STEP]) if start < len(data) else framer.flush()
        for record in records:
            tod = getattr(record, "tod", None)
            if tod is None or tod == last:
                continue
            if first is None:
                first = tod
            elapsed = (tod - first) % 86_400.0  # a capture across midnight keeps counting
            if last is not None and elapsed < marks[-1][1]:
                continue  # a stray older time: no going back
            last = tod
            marks.append((before, elapsed))
    return marks


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
