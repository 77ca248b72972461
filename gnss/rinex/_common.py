"""Pieces shared by the observation and navigation readers: header lines, floats, epoch times.

RINEX is a fixed-column format: the label of a header line sits in columns 61-80 and every
value has a fixed place, so we slice columns rather than split on blanks (a blank field is
a legal "missing" value and would shift every later field under ``split()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
I64 = NDArray[np.int64]
DT64 = NDArray[np.datetime64]

GPS_EPOCH: Final = np.datetime64("1980-01-06T00:00:00", "ns")
WEEK_S: Final = 604_800
END_OF_HEADER: Final = b"END OF HEADER"


class RinexError(ValueError):
    """The file is not a RINEX file this reader understands (bad version line, truncated header)."""


def read_bytes(source: str | Path | bytes) -> bytes:
    """File contents; bytes are taken as the file itself so tests can feed edited copies."""
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def split_header(text: bytes) -> tuple[list[bytes], list[bytes]]:
    """(header lines, body lines). Lines keep their columns; CR and trailing newline are dropped."""
    lines = text.replace(b"\r\n", b"\n").split(b"\n")
    for i, line in enumerate(lines):
        if line[60:].strip() == END_OF_HEADER:
            return lines[:i], lines[i + 1 :]
    raise RinexError("no END OF HEADER line")


def label(line: bytes) -> str:
    """A header line's label (columns 61-80)."""
    return line[60:80].decode("ascii", "replace").strip()


def rinex_float(field: bytes) -> float:
    """A Fortran float as RINEX writes it: ``D`` or ``E`` exponent, maybe no leading zero
    (``.1118D-07``); a blank field is NaN, the format's way of saying "not given"."""
    s = field.strip()
    if not s:
        return float("nan")
    return float(s.replace(b"D", b"E").replace(b"d", b"e"))


def rinex_int(field: bytes, default: int = 0) -> int:
    s = field.strip()
    return int(s) if s else default


def epoch(year: int, month: int, day: int, hour: int, minute: int, second: float) -> np.datetime64:
    """A calendar time as datetime64[ns]; seconds are rounded to the nanosecond, which keeps the
    7 decimals RINEX writes (receiver-clock-steered epochs like ``30.0050000``) exactly."""
    base = np.datetime64(f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}", "ns")
    return base + np.timedelta64(round(second * 1e9), "ns")


def two_digit_year(yy: int) -> int:
    """RINEX 2 years: 80-99 are 1980-1999, 00-79 are 2000-2079 (RINEX 2.11, 6.5)."""
    return yy + (1900 if yy >= 80 else 2000)


def gps_week_tow(time: DT64) -> tuple[I64, F64]:
    """(week, seconds of week) of datetime64 times counted from the GPS epoch 1980-01-06.

    This is arithmetic only: it does not change time scale. Fed GPST it gives GPS week/TOW;
    fed BDT (which RINEX uses for BeiDou navigation records) it gives weeks since 1980 on the
    BDT scale, not BDT weeks (those count from 2006-01-01, i.e. GPS week 1356).
    """
    ns = (np.asarray(time, dtype="datetime64[ns]") - GPS_EPOCH).astype(np.int64)
    week_ns = WEEK_S * 1_000_000_000
    week = ns // week_ns
    tow_s = (ns - week * week_ns).astype(np.float64) / 1e9
    return week.astype(np.int64), tow_s
