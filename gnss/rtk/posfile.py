"""RTKLIB solution files (``.pos``, lat/lon/height) and NMEA GGA sentences from solutions.

Why RTKLIB's layout, to the byte: RTKLIB's ``.pos`` is what RTKPLOT, RTKLIB's ``pos2kml`` and
every comparison script in the field read, and the reference solutions we must match are in it.
Writing the same columns, widths, header lines and line endings as ``rnx2rtkp`` 2.4.3 lets those
tools read our output and lets a test diff our lines against RTKLIB's for the same values.

The format (``out-solformat=llh``, ``out-timeform=hms`` or ``tow``, ``out-timendec=3``):

- header lines start with ``%``: ``program``, one ``inp file`` per input, ``obs start``/``obs end``
  (the rover's observation span), ``ref pos`` (the base, relative modes only), a blank ``%``, the
  quality legend and the column titles;
- one line per epoch: time, latitude and longitude (degrees, 9 decimals), ellipsoidal height
  (m, 4 decimals), Q (1 fix, 2 float, 3 SBAS, 4 DGPS, 5 single, 6 PPP), satellites, six standard
  deviations in metres (``sdn sde sdu`` are square roots of the ENU variances, ``sdne sdeu sdun``
  are *signed* square roots of the covariances, ``sign(c) * sqrt(|c|)``), age of differential (s)
  and the ambiguity ratio.

RTKLIB 2.4.3 writes the header lines from ``postpos.c`` with ``\\n`` and the legend and solution
lines from ``solution.c`` with ``\\r\\n``; we do the same, so files are byte-identical.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TextIO

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gnss.nmea import nmea_angle, with_checksum
from gnss.quality import GGA_QUALITY_OF_SOLUTION, SolutionQuality

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
TimeArray = NDArray[np.datetime64]
TimeFormat = Literal["hms", "tow"]

GPS_EPOCH: Final = np.datetime64("1980-01-06T00:00:00", "ns")
_WEEK_NS: Final = 604_800 * 1_000_000_000
_VALUES: Final = 13  # after the two time tokens: lat lon h Q ns 6 x sd age ratio

_LEGEND: Final = (
    "% (lat/lon/height=WGS84/ellipsoidal,Q=1:fix,2:float,3:sbas,4:dgps,5:single,6:ppp,ns=# of satellites)"
)
_TITLES: Final = (
    f"{'latitude(deg)':>14} {'longitude(deg)':>14} {'height(m)':>10} {'Q':>3} {'ns':>3} "
    f"{'sdn(m)':>8} {'sde(m)':>8} {'sdu(m)':>8} {'sdne(m)':>8} {'sdeu(m)':>8} {'sdun(m)':>8} "
    f"{'age(s)':>6} {'ratio':>6}"
)
_ROW: Final = "{} {:14.9f} {:14.9f} {:10.4f} {:3d} {:3d}" + " {:8.4f}" * 6 + " {:6.2f} {:6.1f}\r\n"

# GPS - UTC after each leap second, as (UTC date it took effect, seconds). Only GGA needs UTC.
_LEAPS: Final = (
    ("1981-07-01", 1), ("1982-07-01", 2), ("1983-07-01", 3), ("1985-07-01", 4), ("1988-01-01", 5),
    ("1990-01-01", 6), ("1991-01-01", 7), ("1992-07-01", 8), ("1993-07-01", 9), ("1994-07-01", 10),
    ("1996-01-01", 11), ("1997-07-01", 12), ("1999-01-01", 13), ("2006-01-01", 14), ("2009-01-01", 15),
    ("2012-07-01", 16), ("2015-07-01", 17), ("2017-01-01", 18),
)  # fmt: skip
_DIFFERENTIAL: Final = frozenset(
    {SolutionQuality.FIX, SolutionQuality.FLOAT, SolutionQuality.SBAS, SolutionQuality.DGPS}
)


class PosFormatError(ValueError):
    """The text is not an RTKLIB lat/lon/height solution file this reader understands."""


@dataclass(eq=False, slots=True)
class PosSolutions:
    """Solutions as a struct of arrays, one row per epoch (what the engine emits, what .pos holds).

    ``time`` is GPST as written (datetime64[ns], no time zone); ``llh`` is ``(n, 3)`` latitude and
    longitude in degrees and ellipsoidal height in metres; ``sd`` is ``(n, 6)``: sdn, sde, sdu,
    sdne, sdeu, sdun in metres, RTKLIB's signed-square-root convention (see :func:`sd_from_enu_cov`).
    ``header`` keeps a file's ``%`` metadata by RTKLIB's names: ``program``, ``inp file`` (one
    input per line), ``obs start``, ``obs end``, ``ref pos``, and ``time system`` from the legend.
    """

    time: TimeArray
    llh: FloatArray
    q: IntArray
    ns: IntArray
    sd: FloatArray
    age_s: FloatArray
    ratio: FloatArray
    header: dict[str, str] = field(default_factory=dict)
    dop: FloatArray | None = None  # (n, 4) GDOP, PDOP, HDOP, VDOP of the engine's epochs; NaN if unknown

    def __post_init__(self) -> None:
        self.time = np.asarray(self.time, dtype="datetime64[ns]").reshape(-1)
        n = self.time.shape[0]
        self.llh = np.asarray(self.llh, dtype=np.float64).reshape(n, 3)
        self.q = np.asarray(self.q, dtype=np.int64).reshape(n)
        self.ns = np.asarray(self.ns, dtype=np.int64).reshape(n)
        self.sd = np.asarray(self.sd, dtype=np.float64).reshape(n, 6)
        self.age_s = np.asarray(self.age_s, dtype=np.float64).reshape(n)
        self.ratio = np.asarray(self.ratio, dtype=np.float64).reshape(n)
        self.dop = (
            np.full((n, 4), np.nan) if self.dop is None else np.asarray(self.dop, np.float64).reshape(n, 4)
        )

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def from_lists(
        cls,
        time: ArrayLike,
        llh: ArrayLike,
        q: ArrayLike,
        ns: ArrayLike,
        sd: ArrayLike | None = None,
        age_s: ArrayLike | None = None,
        ratio: ArrayLike | None = None,
        header: dict[str, str] | None = None,
    ) -> PosSolutions:
        """From per-epoch lists (or arrays); missing statistics are zeros, as RTKLIB writes them
        when it has none (single solutions have age 0.00 and ratio 0.0)."""
        t = np.asarray(time, dtype="datetime64[ns]").reshape(-1)
        n = t.shape[0]
        return cls(
            time=t,
            llh=np.asarray(llh, dtype=np.float64).reshape(n, 3),
            q=np.asarray(q, dtype=np.int64),
            ns=np.asarray(ns, dtype=np.int64),
            sd=np.zeros((n, 6)) if sd is None else np.asarray(sd, dtype=np.float64),
            age_s=np.zeros(n) if age_s is None else np.asarray(age_s, dtype=np.float64),
            ratio=np.zeros(n) if ratio is None else np.asarray(ratio, dtype=np.float64),
            header=dict(header or {}),
        )

    def take(self, index: ArrayLike | slice) -> PosSolutions:
        """The rows selected by a slice, boolean mask or integer index, header kept."""
        i = index if isinstance(index, slice) else np.asarray(index)
        return PosSolutions(
            self.time[i],
            self.llh[i],
            self.q[i],
            self.ns[i],
            self.sd[i],
            self.age_s[i],
            self.ratio[i],
            dict(self.header),
            None if self.dop is None else self.dop[i],
        )

    @property
    def inputs(self) -> list[str]:
        """The ``inp file`` header entries, in order."""
        text = self.header.get("inp file", "")
        return text.split("\n") if text else []

    @property
    def ref_llh(self) -> tuple[float, float, float] | None:
        """The base position of the ``ref pos`` header line, if there is one in degrees."""
        parts = self.header.get("ref pos", "").split()
        if len(parts) != 3:
            return None
        try:
            lat, lon, h = (float(p) for p in parts)
        except ValueError:
            return None
        return lat, lon, h

    @property
    def obs_span(self) -> tuple[np.datetime64, np.datetime64] | None:
        """The rover observations' first and last epoch from ``obs start``/``obs end``, if given."""
        ends = [self.header.get(key, "").split()[:2] for key in ("obs start", "obs end")]
        if any(len(e) != 2 for e in ends):
            return None
        try:
            first, last = _parse_times(np.array([e[0] for e in ends]), np.array([e[1] for e in ends]))
        except ValueError:
            return None
        return first, last


def sd_from_enu_cov(cov_enu: ArrayLike) -> FloatArray:
    """``(..., 3, 3)`` ENU covariances (m^2) to RTKLIB's ``(..., 6)`` sdn sde sdu sdne sdeu sdun.

    RTKLIB (``outpos``) writes ``sqrt`` of the variances (0 when not positive) and
    ``sign(c) sqrt(|c|)`` of the covariances, so a column keeps the unit of metres and the sign.
    """
    c = np.asarray(cov_enu, dtype=np.float64)
    var = np.sqrt(np.clip(np.stack([c[..., 1, 1], c[..., 0, 0], c[..., 2, 2]], axis=-1), 0.0, None))
    cov = np.stack([c[..., 0, 1], c[..., 0, 2], c[..., 1, 2]], axis=-1)
    out: FloatArray = np.concatenate([var, np.sign(cov) * np.sqrt(np.abs(cov))], axis=-1)
    return out


# --- reading ----------------------------------------------------------------------------------


def read_pos(source: str | os.PathLike[str] | TextIO) -> PosSolutions:
    """Parse an RTKLIB ``.pos`` file (lat/lon/height in degrees; time as calendar or week + TOW).

    Columns are split on blanks, so any ``out-fieldsep`` of blanks or tabs reads; lines with extra
    trailing columns (demo5's velocities) keep their first 15 fields. One pass over the lines, then
    NumPy's C parser for the numbers: a day at 1 Hz reads in about 0.3 s. Times are kept in the
    time system the file was written in (``header["time system"]``, normally GPST).
    """
    if isinstance(source, str | os.PathLike):
        text = Path(source).read_text(encoding="utf-8", errors="replace")
    else:
        text = source.read()
    header: dict[str, str] = {}
    dates: list[str] = []
    clocks: list[str] = []
    values: list[str] = []
    for i, line in enumerate(text.splitlines()):
        if line.startswith("%"):
            _header_line(line, header)
        elif line.strip():
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise PosFormatError(f"line {i + 1}: not a solution line: {line!r}")
            dates.append(parts[0])
            clocks.append(parts[1])
            values.append(parts[2])
    if not values:
        return PosSolutions.from_lists(
            np.array([], "datetime64[ns]"), np.empty((0, 3)), [], [], header=header
        )
    try:
        time = _parse_times(np.array(dates), np.array(clocks))
        cols = np.loadtxt(values, dtype=np.float64, ndmin=2, usecols=range(_VALUES))
    except ValueError as exc:
        raise PosFormatError(f"unreadable solution line: {exc}") from exc
    return PosSolutions(
        time=time,
        llh=cols[:, 0:3],
        q=cols[:, 3].astype(np.int64),
        ns=cols[:, 4].astype(np.int64),
        sd=cols[:, 5:11],
        age_s=cols[:, 11],
        ratio=cols[:, 12],
        header=header,
    )


def _header_line(line: str, header: dict[str, str]) -> None:
    body = line[1:].strip()
    if body.startswith("("):
        return  # the quality legend
    key, sep, value = body.partition(":")
    key = key.strip()
    if sep and key in {"program", "inp file", "obs start", "obs end", "ref pos"}:
        value = value.strip()
        if key == "inp file" and key in header:
            value = header[key] + "\n" + value
        header[key] = value
        return
    titles = body.split()
    if len(titles) >= 2 and titles[0] in {"GPST", "UTC", "JST"}:
        if not any(t.startswith("latitude(deg)") for t in titles):
            raise PosFormatError(f"only lat/lon/height in degrees is supported, columns are {body!r}")
        header["time system"] = titles[0]


def _parse_times(first: NDArray[np.str_], second: NDArray[np.str_]) -> TimeArray:
    if "/" in str(first[0]):  # 2024/06/24 08:20:00.000
        iso = np.char.add(np.char.add(np.char.replace(first, "/", "-"), "T"), second)
        return iso.astype("datetime64[ns]")
    week = first.astype(np.int64)  # 2320 116400.000
    tow_ns = np.rint(second.astype(np.float64) * 1e9).astype(np.int64)
    ns = week * _WEEK_NS + tow_ns
    return GPS_EPOCH + ns.astype("timedelta64[ns]")


# --- writing ----------------------------------------------------------------------------------


def write_pos(
    dest: str | os.PathLike[str] | TextIO,
    sols: PosSolutions,
    *,
    program: str = "beidou-mobility rtk",
    inputs: Sequence[str] = (),
    ref_llh: tuple[float, float, float] | None = None,
    obs_span: tuple[np.datetime64, np.datetime64] | None = None,
    time_format: TimeFormat = "hms",
) -> None:
    """Write solutions as RTKLIB 2.4.3's ``rnx2rtkp`` does (``out-outhead=on``, 3 time decimals).

    ``inputs`` are the ``inp file`` lines; ``ref_llh`` (degrees, metres) the base of a relative
    solution (RTKLIB omits the line in single mode); ``obs_span`` the rover observations' first and
    last epoch (default: the first and last solution). Rows with Q=0 (no solution) are skipped, as
    RTKLIB writes none. A text stream should be opened with ``newline=""`` to keep the line ends.
    """
    text = pos_text(
        sols, program=program, inputs=inputs, ref_llh=ref_llh, obs_span=obs_span, time_format=time_format
    )
    if isinstance(dest, str | os.PathLike):
        with open(dest, "w", encoding="utf-8", newline="") as fh:  # input names may not be ASCII
            fh.write(text)
    else:
        dest.write(text)


def pos_text(
    sols: PosSolutions,
    *,
    program: str = "beidou-mobility rtk",
    inputs: Sequence[str] = (),
    ref_llh: tuple[float, float, float] | None = None,
    obs_span: tuple[np.datetime64, np.datetime64] | None = None,
    time_format: TimeFormat = "hms",
) -> str:
    """The whole ``.pos`` file as one string (see :func:`write_pos`)."""
    out = io.StringIO(newline="")
    out.write(f"% program   : {program}\n")
    for name in inputs:
        out.write(f"% inp file  : {name}\n")
    keep = sols.q != SolutionQuality.NONE
    sols = sols if keep.all() else sols.take(keep)
    if obs_span is None and len(sols):
        obs_span = (sols.time[0], sols.time[-1])
    if obs_span is not None:
        for label, t in zip(("obs start", "obs end  "), obs_span, strict=True):
            when = _time_strings(np.asarray([t], dtype="datetime64[ns]"), 1)[0]
            week, tow = _week_tow(np.asarray([t], dtype="datetime64[ns]"))
            out.write(f"% {label} : {when} GPST (week{int(week[0]):04d} {float(tow[0]):8.1f}s)\n")
    if ref_llh is not None:
        lat, lon, h = ref_llh
        out.write(f"% ref pos   :{lat:13.9f} {lon:14.9f} {h:10.4f}\n")
    out.write("%\n")
    out.write(_LEGEND + "\r\n")
    width = 20 if time_format == "hms" else 12  # RTKLIB: (timef ? 16 : 8) + timendec + 1
    out.write(f"%  {'GPST':<{width}} {_TITLES}\r\n")
    out.writelines(_solution_lines(sols, time_format))
    return out.getvalue()


def _solution_lines(sols: PosSolutions, time_format: TimeFormat) -> Iterable[str]:
    if time_format == "hms":
        stamps = _time_strings(sols.time, 3).tolist()
    else:
        week, tow = _week_tow(_round_ns(sols.time, 1_000_000))
        stamps = [f"{w:4d} {s:10.3f}" for w, s in zip(week.tolist(), tow.tolist(), strict=True)]
    lat, lon, h = sols.llh.T.tolist()
    sd = sols.sd.T.tolist()
    q, ns, age, ratio = sols.q.tolist(), sols.ns.tolist(), sols.age_s.tolist(), sols.ratio.tolist()
    columns = zip(stamps, lat, lon, h, q, ns, *sd, age, ratio, strict=True)
    return (_ROW.format(*row) for row in columns)


def _round_ns(time: TimeArray, unit_ns: int) -> TimeArray:
    """Round to a multiple of ``unit_ns``, halves up: what RTKLIB's ``time2str`` does."""
    ns = np.asarray(time, dtype="datetime64[ns]").astype(np.int64)
    rounded = (ns + unit_ns // 2) // unit_ns * unit_ns
    return rounded.astype("datetime64[ns]")


def _time_strings(time: TimeArray, decimals: int) -> NDArray[np.str_]:
    """``yyyy/mm/dd hh:mm:ss.sss`` with 0-3 decimals, rounded like RTKLIB's ``time2str``."""
    cut = 20 + decimals if decimals else 19
    if len(time) == 0:  # (np.char.replace fails on an empty array)
        return np.zeros(0, dtype=f"<U{cut}")
    ms = _round_ns(time, 10 ** (9 - decimals)).astype("datetime64[ms]")
    iso = np.datetime_as_string(ms, unit="ms")  # 2024-06-24T08:20:00.000
    text = np.char.replace(np.char.replace(iso, "-", "/"), "T", " ")
    return text.astype(f"<U{cut}")


def _week_tow(time: TimeArray) -> tuple[IntArray, FloatArray]:
    ns = (np.asarray(time, dtype="datetime64[ns]") - GPS_EPOCH).astype(np.int64)
    week = ns // _WEEK_NS
    return week, (ns - week * _WEEK_NS).astype(np.float64) / 1e9


# --- NMEA -------------------------------------------------------------------------------------


def gpst_minus_utc_s(time: ArrayLike) -> IntArray:
    """GPS - UTC in whole seconds at the given GPST times (leap seconds through 2017-01-01)."""
    t = np.asarray(time, dtype="datetime64[ns]")
    # a leap applies once GPST - offset reaches its UTC date, i.e. from date + offset in GPST
    starts = np.array(
        [np.datetime64(d, "ns") + np.timedelta64(n, "s") for d, n in _LEAPS], dtype="datetime64[ns]"
    )
    offsets = np.array([0] + [n for _, n in _LEAPS], dtype=np.int64)
    return offsets[np.searchsorted(starts, t, side="right")]


STATS_COLUMNS: Final = ("time_gpst", "q", "ns", "ratio", "age_s", "gdop", "pdop", "hdop", "vdop")


def stats_csv(sols: PosSolutions) -> str:
    """Per-epoch statistics as CSV: what the ``.pos`` layout has no room for (the DOPs of the
    epoch's single-point geometry) beside what it has (quality, satellites, ratio, age)."""
    time = np.datetime_as_string(sols.time, unit="ms")
    dop = sols.dop if sols.dop is not None else np.full((len(sols), 4), np.nan)
    rows = [",".join(STATS_COLUMNS)]
    for i in range(len(sols)):
        d = ",".join("" if not np.isfinite(v) else f"{v:.2f}" for v in dop[i].tolist())
        rows.append(
            f"{time[i]},{int(sols.q[i])},{int(sols.ns[i])},{float(sols.ratio[i]):.1f},{float(sols.age_s[i]):.2f},{d}"
        )
    return "\n".join(rows) + "\n"


def nmea_gga_lines(
    sols: PosSolutions,
    *,
    talker: str = "GN",
    geoid_sep_m: ArrayLike = 0.0,
    hdop: ArrayLike | None = None,
) -> list[str]:
    """One GGA sentence per solution (without line end), as RTKLIB's ``outnmea_gga`` writes them.

    Quality is RTKLIB's mapping (fix 4, float 5, DGPS 2, single 1, PPP 3, SBAS 2); time is UTC
    to the centisecond; latitude and longitude carry 7 decimals of minutes (2 mm). Without a geoid
    model the altitude is the ellipsoidal height and the separation ``geoid_sep_m`` (0 by default);
    HDOP defaults to the solutions' own (:attr:`PosSolutions.dop`), else RTKLIB's placeholder 1.0
    (what RTKLIB writes, and all a ``.pos`` file read back can give). The age of differential is
    written for differential solutions only (NMEA leaves it empty otherwise). Rows with Q=0 give
    an empty sentence.
    """
    n = len(sols)
    sep = np.broadcast_to(np.asarray(geoid_sep_m, dtype=np.float64), (n,)).tolist()
    if hdop is None:
        own = sols.dop[:, 2] if sols.dop is not None else np.full(n, np.nan)
        hdop = np.where(np.isfinite(own), own, 1.0)
    dop = np.broadcast_to(np.asarray(hdop, dtype=np.float64), (n,)).tolist()
    utc = sols.time - gpst_minus_utc_s(sols.time).astype("timedelta64[s]")
    clock = np.datetime_as_string(_round_ns(utc, 10_000_000).astype("datetime64[ms]"), unit="ms")
    lines = []
    for i in range(n):
        q = int(sols.q[i])
        if q not in GGA_QUALITY_OF_SOLUTION:
            lines.append(with_checksum(f"{talker}GGA,,,,,,,,,,,,,,"))
            continue
        hms = str(clock[i])[11:22].replace(":", "")  # hh:mm:ss.ss of the ISO string -> hhmmss.ss
        lat, lon, h = (float(v) for v in sols.llh[i])
        age = f"{float(sols.age_s[i]):.1f}" if q in _DIFFERENTIAL else ""
        quality = int(GGA_QUALITY_OF_SOLUTION[q])
        body = (
            f"{talker}GGA,{hms},{nmea_angle(lat, 2)},{'N' if lat >= 0 else 'S'},"
            f"{nmea_angle(lon, 3)},{'E' if lon >= 0 else 'W'},{quality},{int(sols.ns[i]):02d},"
            f"{dop[i]:.1f},{h - sep[i]:.3f},M,{sep[i]:.3f},M,{age},"
        )
        lines.append(with_checksum(body))
    return lines
