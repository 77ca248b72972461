"""What is in a capture: counts per NMEA sentence and RTCM message type, noise, fix qualities and
the time span - the first thing to look at when a receiver misbehaves (``beidou gnss inspect``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from gnss.fixes import FixAssembler, PositionFix
from gnss.framer import StreamFramer
from gnss.nmea import Gga, Gns
from gnss.rtcm.decode import decode
from gnss.rtcm.framing import RtcmFrame
from gnss.rtcm.msm import MsmEpoch

CHUNK = 64 * 1024


def inspect_chunks(chunks: Iterable[bytes]) -> dict[str, Any]:
    framer = StreamFramer()
    assembler = FixAssembler()
    gga: Counter[str] = Counter()
    gns: Counter[str] = Counter()
    fixes: list[PositionFix] = []
    epochs: dict[str, list[float]] = {}  # MSM epoch times per system, in its own time scale

    def take(records: list[Any]) -> None:
        for record in records:
            if isinstance(record, RtcmFrame):
                msm = decode(record) if 1071 <= record.msg_type <= 1137 else None
                if isinstance(msm, MsmEpoch):
                    span = epochs.setdefault(msm.system, [msm.epoch_s, msm.epoch_s])
                    span[0], span[1] = min(span[0], msm.epoch_s), max(span[1], msm.epoch_s)
            elif isinstance(record, Gga):
                gga[str(record.quality)] += 1
            elif isinstance(record, Gns):
                gns[str(record.quality)] += 1
            fixes.extend(assembler.push(record))

    for chunk in chunks:
        take(framer.feed(chunk))
    take(framer.flush())
    fixes.extend(assembler.flush())
    s = framer.stats
    return {
        "nmea": dict(sorted(s.nmea.items())),
        "nmea_unparsed": dict(sorted(s.nmea_unparsed.items())),
        "rtcm": {str(k): v for k, v in sorted(s.rtcm.items())},
        "ubx_frames": s.ubx_frames,
        "bytes": s.bytes_in,
        "bytes_skipped": s.bytes_skipped,
        "crc_errors": s.crc_errors,
        "checksum_errors": s.checksum_errors,
        "comment_lines": s.comment_lines,
        # GGA qualities; a receiver that sends only GNS is judged by its GNS modes
        "fix_quality": dict(sorted((gga or gns).items())),
        "fixes": len(fixes),
        "time_span": _span(fixes),
        # seconds of week (of day for GLONASS, Moscow time) in each system's own time scale
        "msm_epochs": {
            sys: {"first_s": a, "last_s": b, "seconds": b - a} for sys, (a, b) in sorted(epochs.items())
        },
    }


def inspect_file(path: str, chunk: int = CHUNK) -> dict[str, Any]:
    def chunks() -> Iterable[bytes]:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                yield block

    return inspect_chunks(chunks())


def _span(fixes: list[PositionFix]) -> dict[str, Any] | None:
    if not fixes:
        return None
    dated = [f.time for f in fixes if f.time is not None]
    if dated:
        start, end = min(dated), max(dated)
        return {"start": start.isoformat(), "end": end.isoformat(), "seconds": (end - start).total_seconds()}
    tods = [f.tod for f in fixes]  # no date in the stream: times of day only
    return {"start_tod": min(tods), "end_tod": max(tods), "seconds": max(tods) - min(tods)}
