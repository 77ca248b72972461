"""Multiple Signal Messages (MSM1-7) decoded straight into NumPy arrays.

The MSM layout is column-major: every satellite field is a block of ``nsat`` equal-width values,
every cell field a block of ``ncell`` values. So each field is one slice of the unpacked payload
bits times a weight vector (:func:`gnss.rtcm.bits.block`), and the whole message costs a few dozen
NumPy calls whatever the number of satellites - this is where the speed over pyrtcm comes from.

Observables are rebuilt the way RTCM 10403.3 (3.5.16) defines them::

    pr_m   = c/1000 * (int_ms + mod1ms/1024 + fine_pr)          fine_pr in ms (2^-24 MSM4/5, 2^-29 MSM6/7)
    cp_cyc = c/1000 * (int_ms + mod1ms/1024 + fine_phase) / wavelength   (2^-29 MSM4/5, 2^-31 MSM6/7)
    prr    = rough_rate + fine_rate * 1e-4  (m/s),  doppler_hz = -prr / wavelength

Fields sent as the standard's "invalid" pattern (most negative value, int_ms = 255, CNR = 0)
come out as NaN. MSM1-3 carry no whole-millisecond part: their ranges are modulo one light
millisecond (about 300 km) and must be resolved by the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rtcm.bits import ShortPayload, columns, unpack
from gnss.rtcm.signals import CLIGHT, code_table, freq_tables

__all__ = ["MSM_SYSTEMS", "MsmEpoch", "decode_msm", "is_msm", "lock_time_s"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

MSM_SYSTEMS: Final = {107: "G", 108: "R", 109: "E", 110: "S", 111: "J", 112: "C", 113: "I"}
"""Message type // 10 -> system letter."""

RANGE_MS: Final = CLIGHT / 1000.0
_HEADER_BITS = 169
_GLO_CHANNEL_UNKNOWN = 14  # DF419 values 14 and 15 mean "not known"


def _lock_table_msm4() -> F64:
    """DF402 (4 bits): minimum lock time, 0 and 2^(i+4) ms."""
    ms = np.array([0] + [2 ** (i + 4) for i in range(1, 16)], dtype=np.float64)
    return ms / 1000.0


def _lock_table_msm6() -> F64:
    """DF407 (10 bits): i ms below 64, then 32 steps per octave; 704 means >= 2^26 ms, above reserved."""
    i = np.arange(1024, dtype=np.int64)
    n = np.maximum(i // 32, 1)
    ms = (np.int64(1) << (n - 1)) * (i - 32 * (n - 1))
    out = np.asarray(ms / 1000.0, dtype=np.float64)
    out[705:] = np.nan
    return out


_WAVELENGTHS: Final = {s: CLIGHT / freq_tables(s)[0] for s in MSM_SYSTEMS.values() if s != "R"}
_LOCK4: Final = _lock_table_msm4()
_LOCK10: Final = _lock_table_msm6()


def lock_time_s(indicator: I64 | NDArray[np.int16], msm: int) -> F64:
    """Minimum lock time (s) for a lock time indicator: DF402 (MSM2-5) or DF407 (MSM6/7)."""
    table = _LOCK10 if msm >= 6 else _LOCK4
    return np.asarray(table[np.asarray(indicator, dtype=np.int64)], dtype=np.float64)


def is_msm(msg_type: int) -> bool:
    return msg_type // 10 in MSM_SYSTEMS and 1 <= msg_type % 10 <= 7


@dataclass(frozen=True, slots=True, eq=False)
class MsmEpoch:
    """One MSM message. Satellite arrays (``sat_*``) have ``nsat`` entries, cell arrays ``ncell``.

    ``epoch_s`` is the time of week in the system's own scale (GPST, GST, QZSST, NavIC; BDT for 'C', which
    runs 14 s behind GPST). For GLONASS ('R') it is the time of day in Moscow time (UTC + 3 h) and
    ``glo_day_of_week`` holds DF416 (0 = Sunday, 7 = not known); it is None for other systems.

    ``sat_prn``/``prn`` are the satellite numbers of the mask (1..64): the RINEX number for
    G/R/E/C/J/I (QZSS PRN = 192 + n), SBAS PRN = 119 + n.
    """

    msg_type: int
    system: str
    msm: int
    station_id: int
    epoch_s: float
    glo_day_of_week: int | None
    multiple_message: bool
    iods: int
    clock_steering: int
    external_clock: int
    smoothing: bool
    smoothing_interval: int
    sat_prn: I64
    sat_rough_range_ms: F64
    sat_ext_info: I64
    sat_glo_channel: F64
    sat_rough_rate_mps: F64
    sat_index: I64
    prn: I64
    sig_id: I64
    code: NDArray[np.str_]
    wavelength_m: F64
    pr_m: F64
    cp_cyc: F64
    prr_mps: F64
    doppler_hz: F64
    cn0_dbhz: F64
    lock_ind: I64
    lock_s: F64
    half_cycle: NDArray[np.bool_]

    @property
    def nsat(self) -> int:
        return int(self.sat_prn.shape[0])

    @property
    def ncell(self) -> int:
        return int(self.prn.shape[0])


@dataclass(frozen=True, slots=True)
class _Fields:
    """The fields of one data section (satellite or cell) of one MSM level, in transmission order.

    ``widths`` drive the single gather of :func:`gnss.rtcm.bits.columns`; signed fields are two's
    complement and their most negative value is RTCM's 'invalid'; ``scale`` converts to
    milliseconds (ranges), m/s (rates) or dB-Hz (CNR).
    """

    names: tuple[str, ...]
    widths: tuple[int, ...]
    half: F64  # 2^(w-1) for signed fields (the raw pattern of 'invalid'), inf for unsigned ones
    full: F64  # 2^w for signed fields, 0 for unsigned ones
    scale: F64

    @classmethod
    def of(cls, *fields: tuple[str, int, bool, float]) -> _Fields:
        return cls(
            tuple(f[0] for f in fields),
            tuple(f[1] for f in fields),
            np.array([2.0 ** (f[1] - 1) if f[2] else np.inf for f in fields]),
            np.array([2.0 ** f[1] if f[2] else 0.0 for f in fields]),
            np.array([f[3] for f in fields], dtype=np.float64),
        )

    @property
    def bits_per_item(self) -> int:
        return sum(self.widths)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def decode(self, bits: NDArray[np.uint8], start: int, count: int) -> tuple[F64, F64]:
        """(raw unsigned values, scaled values with invalid signed fields as NaN), both (count, nf)."""
        raw = columns(bits, start, self.widths, count)
        out: F64 = (raw - (raw >= self.half) * self.full) * self.scale
        out[raw == self.half] = np.nan
        return raw, out


_SAT_ONLY_MOD = _Fields.of(("mod1ms", 10, False, 2.0**-10))
_SAT_4 = _Fields.of(("int_ms", 8, False, 1.0), ("mod1ms", 10, False, 2.0**-10))
_SAT_5 = _Fields.of(
    ("int_ms", 8, False, 1.0),
    ("ext", 4, False, 1.0),
    ("mod1ms", 10, False, 2.0**-10),
    ("rate", 14, True, 1.0),
)
_PR15 = ("pr", 15, True, 2.0**-24)
_CP22 = ("cp", 22, True, 2.0**-29)
_LOCK4F = ("lock", 4, False, 1.0)
_HALF = ("half", 1, False, 1.0)
_CNR6 = ("cnr", 6, False, 1.0)
_PR20 = ("pr", 20, True, 2.0**-29)
_CP24 = ("cp", 24, True, 2.0**-31)
_LOCK10F = ("lock", 10, False, 1.0)
_CNR10 = ("cnr", 10, False, 2.0**-4)
_RATE = ("rate", 15, True, 1e-4)

_LAYOUTS: Final[dict[int, tuple[_Fields, _Fields]]] = {
    1: (_SAT_ONLY_MOD, _Fields.of(_PR15)),
    2: (_SAT_ONLY_MOD, _Fields.of(_CP22, _LOCK4F, _HALF)),
    3: (_SAT_ONLY_MOD, _Fields.of(_PR15, _CP22, _LOCK4F, _HALF)),
    4: (_SAT_4, _Fields.of(_PR15, _CP22, _LOCK4F, _HALF, _CNR6)),
    5: (_SAT_5, _Fields.of(_PR15, _CP22, _LOCK4F, _HALF, _CNR6, _RATE)),
    6: (_SAT_4, _Fields.of(_PR20, _CP24, _LOCK10F, _HALF, _CNR10)),
    7: (_SAT_5, _Fields.of(_PR20, _CP24, _LOCK10F, _HALF, _CNR10, _RATE)),
}


def decode_msm(payload: bytes, glo_channels: Mapping[int, int] | None = None) -> MsmEpoch:
    """Decode one MSM payload (header and CRC stripped).

    ``glo_channels`` maps GLONASS slot -> FDMA channel (-7..6) for MSM1-4/6, which do not carry it;
    without it those GLONASS phases and Dopplers are NaN. Raises :class:`ShortPayload` when the
    payload is shorter than its masks announce, ``ValueError`` when it is not an MSM.
    """
    if len(payload) * 8 < _HEADER_BITS:
        raise ShortPayload("MSM header truncated")
    head = int.from_bytes(payload[:22], "big") >> 7  # the 169 header bits
    msg_type = head >> 157
    system = MSM_SYSTEMS.get(msg_type // 10)
    level = msg_type % 10
    if system is None or level not in _LAYOUTS:
        raise ValueError(f"message {msg_type} is not an MSM")
    epoch = (head >> 115) & 0x3FFFFFFF
    dow: int | None = None
    if system == "R":
        dow = epoch >> 27
        epoch &= 0x7FFFFFF
    flags = (head >> 96) & 0x7FFFF  # multiple(1) iods(3) reserved(7) steer(2) ext(2) smooth(1) int(3)
    sat_fields, cell_fields = _LAYOUTS[level]

    bits = unpack(payload)
    sats = bits[73:137].nonzero()[0] + 1
    sigs = bits[137:169].nonzero()[0] + 1
    nsat, nsig = sats.shape[0], sigs.shape[0]
    pos = _HEADER_BITS + nsat * nsig
    if nsat * nsig > 64:
        raise ShortPayload(f"cell mask of {nsat * nsig} bits exceeds the 64 allowed")
    cells = bits[_HEADER_BITS:pos].nonzero()[0]
    sat_index = cells // nsig
    sig_id = sigs[cells % nsig]
    ncell = cells.shape[0]

    sat_raw, sat_val = sat_fields.decode(bits, pos, nsat)
    pos += sat_fields.bits_per_item * nsat
    cell_raw, cell_val = cell_fields.decode(bits, pos, ncell)
    sat_names, cell_names = sat_fields.names, cell_fields.names

    rough_ms = sat_val[:, sat_fields.index("mod1ms")]
    if "int_ms" in sat_names:
        int_ms = sat_raw[:, 0]
        rough_ms = np.where(int_ms == 255, np.nan, rough_ms + int_ms)
    has_ext = "ext" in sat_names
    ext = sat_raw[:, 1].astype(np.int64) if has_ext else np.full(nsat, -1, dtype=np.int64)
    rough_rate = sat_val[:, 3] if has_ext else np.full(nsat, np.nan)

    nan_cell = np.full(ncell, np.nan)
    cell_rough = rough_ms[sat_index]
    if level >= 3:  # fine pseudorange and fine phase in columns 0 and 1: one operation for both
        ranges = RANGE_MS * (cell_rough[:, None] + cell_val[:, :2])
        pr_m, cp_m = ranges[:, 0], ranges[:, 1]
    elif level == 2:
        pr_m, cp_m = nan_cell, RANGE_MS * (cell_rough + cell_val[:, 0])
    else:
        pr_m, cp_m = RANGE_MS * (cell_rough + cell_val[:, 0]), nan_cell
    if "lock" in cell_names:
        j = cell_fields.index("lock")
        lock_ind = cell_raw[:, j].astype(np.int64)
        lock_s = (_LOCK10 if cell_fields.widths[j] == 10 else _LOCK4)[lock_ind]
        half = cell_raw[:, j + 1] == 1.0
    else:
        lock_ind = np.full(ncell, -1, dtype=np.int64)
        lock_s = nan_cell
        half = np.zeros(ncell, dtype=bool)
    if "cnr" in cell_names:
        cn0 = cell_val[:, 4]
        cn0[cell_raw[:, 4] == 0.0] = np.nan
    else:
        cn0 = nan_cell
    prr = rough_rate[sat_index] + cell_val[:, 5] if "rate" in cell_names else nan_cell

    if system == "R":
        if has_ext:
            glo_ch = np.where(ext < _GLO_CHANNEL_UNKNOWN, ext - 7.0, np.nan)
        else:
            channels = glo_channels or {}
            glo_ch = np.array([channels.get(int(p), np.nan) for p in sats], dtype=np.float64)
        base, step = freq_tables(system)
        wavelength = CLIGHT / (base[sig_id] + step[sig_id] * glo_ch[sat_index])
    else:
        glo_ch = np.full(nsat, np.nan)
        wavelength = _WAVELENGTHS[system][sig_id]

    return MsmEpoch(
        msg_type=msg_type,
        system=system,
        msm=level,
        station_id=(head >> 145) & 0xFFF,
        epoch_s=epoch / 1000.0,
        glo_day_of_week=dow,
        multiple_message=bool(flags >> 18),
        iods=(flags >> 15) & 7,
        clock_steering=(flags >> 6) & 3,
        external_clock=(flags >> 4) & 3,
        smoothing=bool((flags >> 3) & 1),
        smoothing_interval=flags & 7,
        sat_prn=sats,
        sat_rough_range_ms=rough_ms,
        sat_ext_info=ext,
        sat_glo_channel=glo_ch,
        sat_rough_rate_mps=rough_rate,
        sat_index=sat_index,
        prn=sats[sat_index],
        sig_id=sig_id,
        code=code_table(system)[sig_id],
        wavelength_m=wavelength,
        pr_m=pr_m,
        cp_cyc=cp_m / wavelength,
        prr_mps=prr,
        doppler_hz=-prr / wavelength,
        cn0_dbhz=cn0,
        lock_ind=lock_ind,
        lock_s=lock_s,
        half_cycle=half,
    )
