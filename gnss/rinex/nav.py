"""RINEX 2.10 (GPS) and 3.0x (mixed) broadcast navigation files into per-system structured arrays.

Each system gets one NumPy structured array, one row per broadcast record, in file order,
with ``sat`` (``'G05'``), ``toc`` (datetime64[ns] in the system's own time scale: GPST, GST,
BDT, QZST; UTC for GLONASS and SBAS, as RINEX writes them) and the record's fields under
unit-bearing names. Keplerian systems keep RINEX's units (s, m, rad, rad/s, sqrt(m));
GLONASS and SBAS state vectors are converted from km to metres (``x_m``, ``vx_m_s``,
``ax_m_s2``) because every consumer downstream works in metres. Flags and counters (IODE,
week, health ...) become int64, -1 where the file leaves them blank.

The clock triple of the first line is ``af0_s``, ``af1_s_s``, ``af2_s_s2`` for Keplerian
systems; for GLONASS it is ``clock_bias_s`` (= -TauN, as RINEX stores it), ``rel_freq_bias``
(+GammaN) and ``frame_time_s`` (tk, seconds of the UTC week).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rinex._common import (
    F64,
    RinexError,
    epoch,
    label,
    read_bytes,
    rinex_float,
    rinex_int,
    split_header,
    two_digit_year,
)

__all__ = ["NavData", "TimeCorrection", "read_nav"]

_KEPLER_ORBIT = (
    "crs_m", "delta_n_rad_s", "m0_rad",
    "cuc_rad", "e", "cus_rad", "sqrt_a_sqrt_m",
    "toe_s", "cic_rad", "omega0_rad", "cis_rad",
    "i0_rad", "crc_m", "omega_rad", "omega_dot_rad_s",
    "idot_rad_s",
)  # fmt: skip
_CLOCK = ("af0_s", "af1_s_s", "af2_s_s2")
_GPS = (
    *_CLOCK, "iode", *_KEPLER_ORBIT, "codes_l2", "week", "l2p_flag",
    "sv_accuracy_m", "health", "tgd_s", "iodc",
    "tot_s", "fit_interval_h",
)  # fmt: skip
_GAL = (
    *_CLOCK, "iodnav", *_KEPLER_ORBIT, "data_sources", "week", None,
    "sisa_m", "health", "bgd_e5a_e1_s", "bgd_e5b_e1_s",
    "tot_s",
)  # fmt: skip
_BDS = (
    *_CLOCK, "aode", *_KEPLER_ORBIT, None, "week", None,
    "sv_accuracy_m", "sat_h1", "tgd1_s", "tgd2_s",
    "tot_s", "aodc",
)  # fmt: skip
_GLO = (
    "clock_bias_s", "rel_freq_bias", "frame_time_s",
    "x_m", "vx_m_s", "ax_m_s2", "health",
    "y_m", "vy_m_s", "ay_m_s2", "freq_num",
    "z_m", "vz_m_s", "az_m_s2", "age_days",
)  # fmt: skip
_GLO_305 = (*_GLO, "status_flags", "group_delay_l1_l2_s", "urai", "health_flags")
_SBAS = (
    "af0_s", "af1_s_s", "tot_s",
    "x_m", "vx_m_s", "ax_m_s2", "health",
    "y_m", "vy_m_s", "ay_m_s2", "ura",
    "z_m", "vz_m_s", "az_m_s2", "iodn",
)  # fmt: skip
_INTEGER: Final = frozenset(
    {"iode", "iodc", "iodnav", "aode", "aodc", "week", "health", "codes_l2", "l2p_flag", "data_sources"}
    | {"sat_h1", "freq_num", "status_flags", "urai", "health_flags", "iodn", "ura"}
)
_KM: Final = frozenset({"x_m", "y_m", "z_m", "vx_m_s", "vy_m_s", "vz_m_s", "ax_m_s2", "ay_m_s2", "az_m_s2"})
_LAYOUT: Final[dict[str, tuple[str | None, ...]]] = {
    "G": _GPS,
    "J": _GPS,
    "I": _GPS,
    "E": _GAL,
    "C": _BDS,
    "R": _GLO,
    "S": _SBAS,
}


@dataclass(frozen=True, slots=True)
class TimeCorrection:
    """A ``TIME SYSTEM CORR`` (or RINEX 2 ``DELTA-UTC``) line: offset = a0 + a1 (t - t_ref)."""

    a0_s: float
    a1_s_s: float
    t_ref_s: int
    week: int


@dataclass(frozen=True, slots=True, eq=False)
class NavData:
    """A navigation file: header corrections and one structured array per system letter."""

    version: float
    ephemeris: dict[str, NDArray[np.void]]
    iono: dict[str, F64] = field(default_factory=dict)
    time_corrections: dict[str, TimeCorrection] = field(default_factory=dict)
    leap_seconds: int | None = None

    def __getitem__(self, system: str) -> NDArray[np.void]:
        return self.ephemeris[system]


def _dtype(names: tuple[str | None, ...]) -> np.dtype[np.void]:
    cols: list[tuple[str, str]] = [("sat", "<U3"), ("toc", "datetime64[ns]")]
    cols += [(n, "<i8" if n in _INTEGER else "<f8") for n in names if n is not None]
    return np.dtype(cols)


def _header(lines: list[bytes]) -> tuple[float, str, dict[str, F64], dict[str, TimeCorrection], int | None]:
    if not lines or label(lines[0]) != "RINEX VERSION / TYPE":
        raise RinexError("first line is not RINEX VERSION / TYPE")
    version = float(lines[0][:9])
    kind = lines[0][20:21].decode()
    if kind not in ("N", "G", "H"):
        raise RinexError(f"not a navigation file (type {kind!r})")
    system = {"N": lines[0][40:41].decode().strip() or "G", "G": "R", "H": "S"}[kind]
    if version < 3:
        system = {"N": "G", "G": "R", "H": "S"}[kind]
    iono: dict[str, F64] = {}
    corr: dict[str, TimeCorrection] = {}
    leap: int | None = None
    for line in lines[1:]:
        lab = label(line)
        if lab == "IONOSPHERIC CORR":
            params = np.array([rinex_float(line[5 + 12 * k : 17 + 12 * k]) for k in range(4)])
            name = line[:4].decode().strip()
            iono[name] = params[: 3 if name == "GAL" else 4]
        elif lab in ("ION ALPHA", "ION BETA"):
            params = np.array([rinex_float(line[2 + 12 * k : 14 + 12 * k]) for k in range(4)])
            iono["GPSA" if lab == "ION ALPHA" else "GPSB"] = params
        elif lab == "TIME SYSTEM CORR":
            corr[line[:4].decode().strip()] = TimeCorrection(
                rinex_float(line[5:22]),
                rinex_float(line[22:38]),
                rinex_int(line[38:45]),
                rinex_int(line[45:50]),
            )
        elif lab == "DELTA-UTC: A0,A1,T,W":
            corr["GPUT"] = TimeCorrection(
                rinex_float(line[3:22]),
                rinex_float(line[22:41]),
                rinex_int(line[41:50]),
                rinex_int(line[50:59]),
            )
        elif lab == "LEAP SECONDS":
            leap = rinex_int(line[:6])
    return version, system, iono, corr, leap


def _record_lines(system: str, version: float) -> int:
    if system in ("R", "S"):
        return 5 if system == "R" and version >= 3.05 else 4
    return 8


def read_nav(source: str | Path | bytes) -> NavData:
    """Read a RINEX 2.10/2.11 GPS or 3.0x (mixed or single-system) navigation file."""
    head, body = split_header(read_bytes(source))
    version, file_system, iono, corr, leap = _header(head)
    v2 = version < 3
    first_col, step = (22, 19) if v2 else (23, 19)
    orbit_col = 3 if v2 else 4
    rows: dict[str, list[tuple[str, np.datetime64, list[float]]]] = {}
    i, n = 0, len(body)
    while i < n:
        line = body[i]
        if not line.strip():
            i += 1
            continue
        if v2:
            system = file_system
            sat = f"{system}{rinex_int(line[:2]):02d}"
            yy, mo, d, h, mi = (int(x) for x in line[2:17].split())
            toc = epoch(two_digit_year(yy), mo, d, h, mi, float(line[17:22]))
        else:
            system = line[:1].decode()
            sat = line[:3].decode().replace(" ", "0")
            y, mo, d, h, mi, s = (int(x) for x in line[4:23].split())
            toc = epoch(y, mo, d, h, mi, s)
        if system not in _LAYOUT:
            raise RinexError(f"line {i + 1}: unknown system {system!r}")
        nlines = _record_lines(system, version)
        values = [rinex_float(line[first_col + step * k : first_col + step * (k + 1)]) for k in range(3)]
        for orbit in body[i + 1 : i + nlines]:
            values += [
                rinex_float(orbit[orbit_col + step * k : orbit_col + step * (k + 1)]) for k in range(4)
            ]
        rows.setdefault(system, []).append((sat, toc, values))
        i += nlines
    ephemeris = {s: _to_array(s, version, recs) for s, recs in rows.items()}
    return NavData(version=version, ephemeris=ephemeris, iono=iono, time_corrections=corr, leap_seconds=leap)


def _to_array(
    system: str, version: float, recs: list[tuple[str, np.datetime64, list[float]]]
) -> NDArray[np.void]:
    names = _GLO_305 if system == "R" and version >= 3.05 else _LAYOUT[system]
    out = np.zeros(len(recs), dtype=_dtype(names))
    out["sat"] = [r[0] for r in recs]
    out["toc"] = [r[1] for r in recs]
    width = max(len(names), max(len(r[2]) for r in recs))
    table = np.full((len(recs), width), np.nan)
    for k, (_, _, vals) in enumerate(recs):
        table[k, : len(vals)] = vals
    for j, name in enumerate(names):
        if name is None:
            continue
        col = table[:, j] * (1000.0 if name in _KM else 1.0)
        if name in _INTEGER:
            out[name] = np.where(np.isnan(col), -1, col).astype(np.int64)
        else:
            out[name] = col
    return out
