"""RINEX 2.10/2.11 and 3.0x observation files straight into NumPy arrays.

Why our own reader: georinex builds an xarray Dataset line by line and takes ~13 s on a 5-minute
1 Hz multi-GNSS file; the RTK engine needs the same data as plain arrays in well under a second.

How it is fast: one Python pass over the *epoch* lines only (a few hundred per file) records
which body lines are satellite records. Those records are then padded to a fixed width, joined
into one byte buffer per satellite system and viewed as an ``(n_records, n_obs, 16)`` uint8
array, so every ``F14.3`` value, LLI and signal-strength digit of the file is decoded by a
handful of vectorised NumPy operations (digits times place values, exact in float64 because
the integers stay below 2^53). Fields that do not follow ``F14.3`` (the decimal point not in
column 11) fall back to ``float()`` one by one, so odd writers cost speed, not correctness.

Shapes: every per-code array is ``(n_epochs, n_sats)``, so ``arr[k]`` is epoch ``k`` with
satellites along axis 0 like the rest of ``gnss``. Missing observations are NaN; LLI and
signal strength are int8 with 0 for blank (blank and 0 mean the same in RINEX).

Times are ``datetime64[ns]`` in the file's time system (``ObsHeader.time_system``, GPS unless
the header says otherwise); :func:`gnss.rinex.gps_week_tow` turns them into week and TOW.
Datetime64 was chosen over (week, TOW) because it is unambiguous across week rollovers, sorts
and subtracts directly, and is what the RINEX epoch line actually states.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rinex._common import (
    DT64,
    F64,
    I8,
    RinexError,
    epoch,
    label,
    read_bytes,
    rinex_float,
    rinex_int,
    split_header,
    two_digit_year,
)
from gnss.rtcm.signals import CLIGHT, SIGNALS

__all__ = ["ObsHeader", "Observations", "SignalObs", "read_obs"]

_FIELD = 16  # F14.3 value + LLI digit + signal-strength digit
_V2_PER_LINE = 5
_V2_SATS_PER_LINE = 12
_V3_CODES_PER_LINE = 13
_V2_CODES_PER_LINE = 9
_SPACE, _MINUS, _DOT, _ZERO = 32, 45, 46, 48
_INT_POS: Final = np.array([*range(10), 11, 12, 13])
_PLACE: Final = 10.0 ** np.arange(12, -1, -1)

# RINEX 2 codes -> RINEX 3 signal, per system, as RTKLIB's convcode() maps them (ver. 2.11):
# the bare band digit means the civil signal, except GPS/GLONASS band 2 which is the P code
# tracked semi-codeless (L2/P2 -> 2W/2P); P1 is 1W (GPS) / 1P (GLONASS); C2 is L2C.
_V2_BAND: Final[dict[str, dict[str, str]]] = {
    "G": {"1": "1C", "2": "2W", "5": "5X"},
    "R": {"1": "1C", "2": "2P"},
    "E": {"1": "1X", "5": "5X", "6": "6X", "7": "7X", "8": "8X"},
    "S": {"1": "1C", "5": "5X"},
    "J": {"1": "1C", "2": "2X", "5": "5X", "6": "6X"},
    "C": {"1": "2I", "2": "2I", "6": "6I", "7": "7I"},
}
_V2_SPECIAL: Final[dict[tuple[str, str], str]] = {
    ("G", "P1"): "C1W",
    ("G", "P2"): "C2W",
    ("G", "C2"): "C2X",
    ("R", "P1"): "C1P",
    ("R", "P2"): "C2P",
    ("R", "C2"): "C2C",
}


def v2_to_v3(system: str, code: str) -> str | None:
    """RINEX 3 code (``'C1W'``) of a RINEX 2 observation code (``'P1'``) for one system."""
    if (system, code) in _V2_SPECIAL:
        return _V2_SPECIAL[(system, code)]
    kind = "C" if code[0] == "P" else code[0]
    sig = _V2_BAND.get(system, {}).get(code[1:2])
    return None if sig is None else kind + sig


@dataclass(frozen=True, slots=True)
class ObsHeader:
    """What the header says. Positions in metres (ECEF), antenna delta as (H, E, N) metres."""

    version: float
    system: str
    marker_name: str
    approx_xyz_m: F64
    antenna_delta_hen_m: F64
    obs_types: dict[str, list[str]]
    interval_s: float | None
    time_first_obs: np.datetime64 | None
    time_system: str
    glonass_slots: dict[str, int]
    leap_seconds: int | None
    receiver: str
    antenna: str


@dataclass(frozen=True, slots=True, eq=False)
class SignalObs:
    """The four observables of one signal (``'1C'``) for every satellite, ``(n_epochs, n_sats)``.

    ``wavelength_m`` has one value per satellite (NaN where the system lacks the signal, or for
    GLONASS when the header gives no frequency channel).
    """

    signal: str
    pr_m: F64
    cp_cyc: F64
    dop_hz: F64
    cn0_dbhz: F64
    lli: I8
    wavelength_m: F64


@dataclass(frozen=True, slots=True, eq=False)
class Observations:
    """One observation file. ``data``/``lli``/``ssi`` are keyed by the file's own codes
    (``'C1C'`` in RINEX 3, ``'C1'``/``'P2'`` in RINEX 2); :meth:`signal` hides that difference."""

    header: ObsHeader
    time: DT64
    flags: I8
    clock_offset_s: F64
    sats: NDArray[np.str_]
    data: dict[str, F64]
    lli: dict[str, I8]
    ssi: dict[str, I8]
    skipped_events: int = 0
    cycle_slip_records: int = 0
    _systems: NDArray[np.str_] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_systems", np.array([s[0] for s in self.sats], dtype="<U1"))

    @property
    def systems(self) -> NDArray[np.str_]:
        """System letter of each satellite column."""
        return self._systems

    def columns(self, system: str) -> NDArray[np.intp]:
        """Column indices of one system's satellites."""
        return np.flatnonzero(self._systems == system)

    def _v3_array(self, code3: str, source: Mapping[str, NDArray[np.generic]]) -> NDArray[np.generic] | None:
        """The array of a RINEX 3 code, assembled per system from RINEX 2 codes when needed."""
        if self.header.version >= 3:
            return source.get(code3)
        out: NDArray[np.generic] | None = None
        for system, codes in self.header.obs_types.items():
            cols = self.columns(system)
            for code in codes:
                if v2_to_v3(system, code) == code3 and code in source:
                    arr = source[code]
                    if out is None:
                        out = np.full_like(arr, np.nan if arr.dtype.kind == "f" else 0)
                    out[:, cols] = arr[:, cols]
                    break
        return out

    def signal(self, sig: str) -> SignalObs:
        """Pseudorange, phase, Doppler, C/N0 and phase LLI of one RINEX 3 signal (``'1C'``,
        ``'2I'``); absent observables come back all-NaN so callers need no special cases."""
        shape = (self.time.size, self.sats.size)

        def get(kind: str) -> F64:
            arr = self._v3_array(kind + sig, self.data)
            return np.full(shape, np.nan) if arr is None else np.asarray(arr, dtype=np.float64)

        lli = self._v3_array("L" + sig, self.lli)
        return SignalObs(
            signal=sig,
            pr_m=get("C"),
            cp_cyc=get("L"),
            dop_hz=get("D"),
            cn0_dbhz=get("S"),
            lli=np.zeros(shape, np.int8) if lli is None else np.asarray(lli, dtype=np.int8),
            wavelength_m=self.wavelength_m(sig),
        )

    def wavelength_m(self, sig: str) -> F64:
        """Carrier wavelength of ``sig`` per satellite, from :mod:`gnss.rtcm.signals`."""
        out = np.full(self.sats.size, np.nan)
        for system, table in SIGNALS.items():
            match = next((s for s in table.values() if s.code == sig), None)
            cols = self.columns(system)
            if match is None or cols.size == 0:
                continue
            if match.fdma_step_hz:
                for c in cols:
                    k = self.header.glonass_slots.get(str(self.sats[c]))
                    if k is not None:
                        out[c] = CLIGHT / (match.freq_hz + k * match.fdma_step_hz)
            else:
                out[cols] = CLIGHT / match.freq_hz
        return out


# --- header -----------------------------------------------------------------------------------


def _parse_header(lines: list[bytes]) -> ObsHeader:
    if not lines or label(lines[0]) != "RINEX VERSION / TYPE":
        raise RinexError("first line is not RINEX VERSION / TYPE")
    first = lines[0]
    version = float(first[:9])
    if first[20:21] not in (b"O", b"o"):
        raise RinexError(f"not an observation file (type {first[20:21]!r})")
    system = first[40:41].decode().strip() or "G"
    marker = receiver = antenna = ""
    xyz = np.full(3, np.nan)
    hen = np.zeros(3)
    obs_types: dict[str, list[str]] = {}
    v2_types: list[str] = []
    v2_count = 0
    current_sys = ""
    interval: float | None = None
    first_obs: np.datetime64 | None = None
    time_system = (
        "GPS" if system in ("G", "M") else {"R": "GLO", "E": "GAL", "C": "BDT", "J": "QZS"}.get(system, "GPS")
    )
    slots: dict[str, int] = {}
    leap: int | None = None
    for line in lines[1:]:
        lab = label(line)
        if lab == "MARKER NAME":
            marker = line[:60].decode(errors="replace").strip()
        elif lab == "REC # / TYPE / VERS":
            receiver = line[20:40].decode(errors="replace").strip()
        elif lab == "ANT # / TYPE":
            antenna = line[20:40].decode(errors="replace").strip()
        elif lab == "APPROX POSITION XYZ":
            xyz = np.array([rinex_float(line[i : i + 14]) for i in (0, 14, 28)])
        elif lab == "ANTENNA: DELTA H/E/N":
            hen = np.array([rinex_float(line[i : i + 14]) for i in (0, 14, 28)])
        elif lab == "SYS / # / OBS TYPES":
            if line[:1].strip():  # a new system; blank column 1 continues the previous one
                current_sys = line[:1].decode()
                obs_types[current_sys] = []
            codes = line[7 : 7 + 4 * _V3_CODES_PER_LINE].decode().split()
            obs_types[current_sys].extend(codes)
        elif lab == "# / TYPES OF OBSERV":
            if not v2_types:
                v2_count = rinex_int(line[:6])
            v2_types.extend(line[6 : 6 + 6 * _V2_CODES_PER_LINE].decode().split())
        elif lab == "INTERVAL":
            interval = rinex_float(line[:10])
        elif lab == "TIME OF FIRST OBS":
            y, mo, d, h, mi = (int(line[i : i + 6]) for i in (0, 6, 12, 18, 24))
            first_obs = epoch(y, mo, d, h, mi, float(line[30:43]))
            time_system = line[48:51].decode().strip() or time_system
        elif lab == "GLONASS SLOT / FRQ #":
            for k in range(8):
                chunk = line[4 + 7 * k : 11 + 7 * k]
                if chunk[:3].strip():
                    slots[chunk[:3].decode().replace(" ", "0")] = int(chunk[3:])
        elif lab == "LEAP SECONDS":
            leap = rinex_int(line[:6])
    if version < 3:
        if len(v2_types) != v2_count:
            raise RinexError(f"# / TYPES OF OBSERV announces {v2_count} codes, lists {len(v2_types)}")
        systems = ["G", "R", "E", "S", "J", "C"] if system == "M" else [system]
        obs_types = {s: list(v2_types) for s in systems}
    return ObsHeader(
        version=version,
        system=system,
        marker_name=marker,
        approx_xyz_m=xyz,
        antenna_delta_hen_m=hen,
        obs_types=obs_types,
        interval_s=interval,
        time_first_obs=first_obs,
        time_system=time_system,
        glonass_slots=slots,
        leap_seconds=leap,
        receiver=receiver,
        antenna=antenna,
    )


# --- body -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scan:
    """Result of the one Python pass: epoch facts and, per satellite record, where it lives."""

    times: list[np.datetime64] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    clocks: list[float] = field(default_factory=list)
    rec_epoch: list[int] = field(default_factory=list)
    rec_sat: list[bytes] = field(default_factory=list)
    rec_bytes: list[bytes] = field(default_factory=list)
    events: int = 0
    slips: int = 0


def _clock(field_: bytes) -> float:
    return rinex_float(field_) if field_.strip() else float("nan")


def _scan_v3(body: list[bytes], obs_types: dict[str, list[str]]) -> _Scan:
    scan = _Scan()
    widths = {s.encode(): _FIELD * len(c) for s, c in obs_types.items()}
    i, n = 0, len(body)
    while i < n:
        line = body[i]
        if line[:1] != b">":
            i += 1  # stray or blank line between records
            continue
        flag = rinex_int(line[31:32])
        count = rinex_int(line[32:35])
        if flag > 1:
            # 2-5: `count` special records (header lines, comments) follow; 6: `count` cycle-slip
            # records in observation format. Neither is an observation epoch.
            if flag == 6:
                scan.slips += count
            else:
                scan.events += 1
            i += 1 + count
            continue
        y, mo, d, h, mi = (int(x) for x in line[2:29].split()[:5])
        k = len(scan.times)
        scan.times.append(epoch(y, mo, d, h, mi, float(line[18:29])))
        scan.flags.append(flag)
        scan.clocks.append(_clock(line[41:56]))
        for rec in body[i + 1 : i + 1 + count]:
            sat = rec[:3]
            width = widths.get(sat[:1])
            if width is None:
                continue  # a system the header does not declare: nothing to decode it with
            scan.rec_epoch.append(k)
            scan.rec_sat.append(sat)
            scan.rec_bytes.append(rec[3 : 3 + width].ljust(width))
        i += 1 + count
    return scan


def _scan_v2(body: list[bytes], nobs: int, default_sys: bytes) -> _Scan:
    scan = _Scan()
    lines_per_sat = -(-nobs // _V2_PER_LINE)
    i, n = 0, len(body)
    while i < n:
        line = body[i]
        if not line.strip():
            i += 1
            continue
        flag = rinex_int(line[28:29])
        count = rinex_int(line[29:32])
        if 2 <= flag <= 5:
            scan.events += 1  # `count` header/comment lines follow; the date may be blank
            i += 1 + count
            continue
        list_lines = -(-count // _V2_SATS_PER_LINE)
        sat_list = b"".join(body[j][32:68].ljust(36) for j in range(i, i + list_lines))
        i += list_lines
        if flag == 6:
            scan.slips += count
            i += count * lines_per_sat
            continue
        yy, mo, d, h, mi = (int(x) for x in line[:15].split())
        k = len(scan.times)
        scan.times.append(epoch(two_digit_year(yy), mo, d, h, mi, float(line[15:26])))
        scan.flags.append(flag)
        scan.clocks.append(_clock(line[68:80]))
        for s in range(count):
            sat = sat_list[3 * s : 3 * s + 3]
            if sat[:1] == b" ":
                sat = default_sys + sat[1:]
            start = i + s * lines_per_sat
            scan.rec_epoch.append(k)
            scan.rec_sat.append(sat)
            scan.rec_bytes.append(
                b"".join(body[j][:80].ljust(80) for j in range(start, start + lines_per_sat))
            )
        i += count * lines_per_sat
    return scan


def _digits(chars: NDArray[np.uint8]) -> I8:
    """One LLI or signal-strength column: '0'-'9' to 0-9, anything else (blank) to 0."""
    d = chars.astype(np.int16) - _ZERO
    return np.where((d >= 0) & (d <= 9), d, 0).astype(np.int8)


def _values(chars: NDArray[np.uint8]) -> F64:
    """Decode ``F14.3`` fields ``(..., 14)`` to float64; all-blank fields are NaN.

    value = (digits . place values) / 1000: the integer is exact and so is the IEEE division,
    which makes the result bit-identical to ``float(text)``.
    """
    blank = (chars == _SPACE).all(axis=-1)
    digit = (chars >= _ZERO) & (chars <= _ZERO + 9)
    allowed = digit | (chars == _SPACE) | (chars == _MINUS)
    regular = (chars[..., 10] == _DOT) & allowed[..., _INT_POS].all(axis=-1)
    num = np.where(digit[..., _INT_POS], chars[..., _INT_POS] - _ZERO, 0).astype(np.float64) @ _PLACE
    neg = (chars == _MINUS).any(axis=-1)
    out = np.where(neg, -num, num) / 1000.0
    out[blank] = np.nan
    for idx in zip(*np.nonzero(~regular & ~blank), strict=True):  # odd writers: slow but right
        out[idx] = rinex_float(chars[idx].tobytes())
    return out


def _assemble(header: ObsHeader, scan: _Scan) -> Observations:
    n_ep = len(scan.times)
    rec_sat = np.array([s.replace(b" ", b"0").decode() for s in scan.rec_sat], dtype="<U3")
    sats = np.unique(rec_sat)
    col = np.searchsorted(sats, rec_sat)
    ep = np.asarray(scan.rec_epoch, dtype=np.intp)
    rec_sys = np.array([s[0] for s in rec_sat], dtype="<U1") if rec_sat.size else np.array([], "<U1")
    all_codes = list(dict.fromkeys(c for codes in header.obs_types.values() for c in codes))
    data = {c: np.full((n_ep, sats.size), np.nan) for c in all_codes}
    lli = {c: np.zeros((n_ep, sats.size), np.int8) for c in all_codes}
    ssi = {c: np.zeros((n_ep, sats.size), np.int8) for c in all_codes}
    for system, codes in header.obs_types.items():
        rows = np.flatnonzero(rec_sys == system)
        if rows.size == 0 or not codes:
            continue
        nobs = len(codes)
        width = len(scan.rec_bytes[rows[0]])
        buf = b"".join(scan.rec_bytes[r] for r in rows)
        block = np.frombuffer(buf, dtype=np.uint8).reshape(rows.size, width)
        fields = block[:, : _FIELD * nobs].reshape(rows.size, nobs, _FIELD)
        values = _values(fields[..., :14])
        lli_d = _digits(fields[..., 14])
        ssi_d = _digits(fields[..., 15])
        e, c = ep[rows], col[rows]
        for k, code in enumerate(codes):
            data[code][e, c] = values[:, k]
            lli[code][e, c] = lli_d[:, k]
            ssi[code][e, c] = ssi_d[:, k]
    return Observations(
        header=header,
        time=np.array(scan.times, dtype="datetime64[ns]"),
        flags=np.array(scan.flags, dtype=np.int8),
        clock_offset_s=np.array(scan.clocks, dtype=np.float64),
        sats=sats,
        data=data,
        lli=lli,
        ssi=ssi,
        skipped_events=scan.events,
        cycle_slip_records=scan.slips,
    )


def read_obs(source: str | Path | bytes) -> Observations:
    """Read a RINEX 2.10/2.11 or 3.0x observation file (path, or the file's bytes)."""
    head, body = split_header(read_bytes(source))
    header = _parse_header(head)
    if header.version >= 3:
        scan = _scan_v3(body, header.obs_types)
    else:
        nobs = len(next(iter(header.obs_types.values())))
        scan = _scan_v2(body, nobs, header.system.encode() if header.system != "M" else b"G")
    return _assemble(header, scan)
