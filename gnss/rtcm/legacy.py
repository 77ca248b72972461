"""Legacy RTK observables: GPS 1001-1004 and GLONASS 1009-1012, as per-satellite arrays.

Each satellite is one fixed-width record, so the whole message is read as a (nsat, record) bit
table and each field is one matrix-vector product (:func:`gnss.rtcm.bits.records`).

L1 pseudorange is ``DF011 * 0.02 + DF014 * c/1000`` (GPS) or ``DF041 * 0.02 + DF044 * 2c/1000``
(GLONASS, 599584.916 m modulus); the non-extended messages (1001, 1003, 1009, 1011) carry no
ambiguity, so their ranges are modulo that unit. Phases are ``(L1 pr + phaserange - pr) /
wavelength`` as the standard defines them, without RTKLIB's epoch-to-epoch roll-over adjustment
(which needs state this stateless decoder does not keep).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rtcm.bits import BitReader, records, to_signed, unpack
from gnss.rtcm.signals import CLIGHT

__all__ = ["LEGACY_TYPES", "LegacyObs", "decode_legacy", "legacy_lock_time_s"]

F64 = NDArray[np.float64]
Ints = NDArray[np.int64]

_PRUNIT_GPS: Final = CLIGHT / 1000.0
_PRUNIT_GLO: Final = 2.0 * CLIGHT / 1000.0
_L1, _L2 = 1575.42e6, 1227.60e6
_G1, _G1_STEP, _G2, _G2_STEP = 1602.0e6, 0.5625e6, 1246.0e6, 0.4375e6

# (system, extended (ambiguity + CNR), dual frequency)
LEGACY_TYPES: Final = {
    1001: ("G", False, False),
    1002: ("G", True, False),
    1003: ("G", False, True),
    1004: ("G", True, True),
    1009: ("R", False, False),
    1010: ("R", True, False),
    1011: ("R", False, True),
    1012: ("R", True, True),
}


def _lock_table() -> F64:
    """DF013/DF019/DF043/DF049 (7 bits) -> minimum lock time in seconds; 127 means >= 937 s."""
    i = np.arange(128, dtype=np.float64)
    out = np.select(
        [i < 24, i < 48, i < 72, i < 96, i < 120, i < 127],
        [i, 2 * i - 24, 4 * i - 120, 8 * i - 408, 16 * i - 1176, 32 * i - 3096],
        937.0,
    )
    return np.asarray(out, dtype=np.float64)


_LOCK: Final = _lock_table()


def legacy_lock_time_s(indicator: Ints) -> F64:
    """Minimum lock time (s) for legacy lock time indicators (DF013/DF019/DF043/DF049)."""
    return np.asarray(_LOCK[indicator], dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class LegacyObs:
    """One legacy observation message; arrays have one entry per satellite.

    ``epoch_s``: GPS time of week (s) for 1001-1004, GLONASS time of day in Moscow time for
    1009-1012. ``prn`` is the satellite ID as sent (GPS 1-32, 40-58 = SBAS; GLONASS slot).
    ``glo_channel`` is the FDMA channel (-7..6) for GLONASS and -99 for GPS. Fields the message
    type does not carry (L2 in 1001/1002, CNR in 1001/1003...) are NaN, code indicators -1.
    """

    msg_type: int
    system: str
    station_id: int
    epoch_s: float
    synchronous: bool
    smoothing: bool
    smoothing_interval: int
    prn: Ints
    glo_channel: Ints
    l1_code: Ints
    l1_pr_m: F64
    l1_cp_cyc: F64
    l1_lock_ind: Ints
    l1_lock_s: F64
    l1_cn0_dbhz: F64
    l2_code: Ints
    l2_pr_m: F64
    l2_cp_cyc: F64
    l2_lock_ind: Ints
    l2_lock_s: F64
    l2_cn0_dbhz: F64


def _nan_invalid(raw: F64, width: int, scale: float) -> F64:
    """Signed field scaled, with RTCM's 'invalid' (most negative value) as NaN."""
    out = to_signed(raw, width) * scale
    out[raw == 2.0 ** (width - 1)] = np.nan
    return out


def _cnr(raw: F64) -> F64:
    out = raw * 0.25
    out[raw == 0.0] = np.nan
    return out


def decode_legacy(payload: bytes) -> LegacyObs:
    """Decode a 1001-1004 / 1009-1012 payload. Raises ``ShortPayload`` when truncated."""
    r = BitReader(payload)
    msg_type = r.u(12)
    system, extended, dual = LEGACY_TYPES[msg_type]
    glo = system == "R"
    station = r.u(12)
    epoch_s = r.u(27 if glo else 30) / 1000.0
    sync = bool(r.u(1))
    nsat = r.u(5)
    smooth = bool(r.u(1))
    smooth_int = r.u(3)

    layout = [6, 1] + ([5, 25] if glo else [24]) + [20, 7] + ([7 if glo else 8, 8] if extended else [])
    if dual:
        layout += [2, 14, 20, 7] + ([8] if extended else [])
    table = records(unpack(payload), r.pos, tuple(layout), nsat)
    cols = iter(table.T)
    prn = next(cols).astype(np.int64)
    l1_code = next(cols).astype(np.int64)
    chan = next(cols).astype(np.int64) - 7 if glo else np.full(nsat, -99, dtype=np.int64)
    pr1 = next(cols) * 0.02
    ppr1 = _nan_invalid(next(cols), 20, 0.0005)
    lock1 = next(cols).astype(np.int64)
    nan = np.full(nsat, np.nan)
    if extended:
        pr1 = pr1 + next(cols) * (_PRUNIT_GLO if glo else _PRUNIT_GPS)
        cn1 = _cnr(next(cols))
    else:
        cn1 = nan
    if glo:
        f1 = _G1 + chan * _G1_STEP
        f2 = _G2 + chan * _G2_STEP
    else:
        f1 = np.full(nsat, _L1)
        f2 = np.full(nsat, _L2)
    cp1 = (pr1 + ppr1) * f1 / CLIGHT
    minus = np.full(nsat, -1, dtype=np.int64)
    if dual:
        l2_code = next(cols).astype(np.int64)
        pr2 = pr1 + _nan_invalid(next(cols), 14, 0.02)
        cp2 = (pr1 + _nan_invalid(next(cols), 20, 0.0005)) * f2 / CLIGHT
        lock2 = next(cols).astype(np.int64)
        lock2_s = _LOCK[lock2]
        cn2 = _cnr(next(cols)) if extended else nan
    else:
        l2_code, pr2, cp2, lock2, lock2_s, cn2 = minus, nan, nan, minus, nan, nan
    return LegacyObs(
        msg_type=msg_type,
        system=system,
        station_id=station,
        epoch_s=epoch_s,
        synchronous=sync,
        smoothing=smooth,
        smoothing_interval=smooth_int,
        prn=prn,
        glo_channel=chan,
        l1_code=l1_code,
        l1_pr_m=pr1,
        l1_cp_cyc=cp1,
        l1_lock_ind=lock1,
        l1_lock_s=_LOCK[lock1],
        l1_cn0_dbhz=cn1,
        l2_code=l2_code,
        l2_pr_m=pr2,
        l2_cp_cyc=cp2,
        l2_lock_ind=lock2,
        l2_lock_s=lock2_s,
        l2_cn0_dbhz=cn2,
    )
