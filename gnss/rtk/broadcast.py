"""Broadcast ephemerides of a navigation file, chosen per satellite for each epoch.

RTKLIB's rule, kept so both engines see the same orbits: the healthy record whose reference time is
nearest the epoch, within a validity span per system (GPS/QZSS 2 h, Galileo 3 h, BeiDou 6 h either
side; QZSS's bit 0 of health, which concerns another signal, is ignored). Galileo broadcasts both
I/NAV (E1/E5b) and F/NAV (E1/E5a) records; I/NAV is preferred because the positioning pairs E1 with
E5b. Times here are absolute GPST seconds since the GPS epoch, so week rollovers and BDT's own week
count never need special cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.orbits import KeplerArrays
from gnss.rinex import NavData

F64 = NDArray[np.float64]
WEEK_S: Final = 604_800.0
BDT_GPST_S: Final = 14.0  # BDT = GPST - 14 s
BDT_WEEK0: Final = 1356  # GPS week of BDT's epoch, 2006-01-01
MAX_DTOE_S: Final = {"G": 7200.0, "J": 7200.0, "E": 10800.0, "C": 21600.0}
_GPS_EPOCH: Final = np.datetime64("1980-01-06T00:00:00", "ns")
_BDT_EPOCH: Final = np.datetime64("2006-01-01T00:00:00", "ns")
_FIELDS: Final = {
    "sqrt_a": "sqrt_a_sqrt_m", "e": "e", "i0_rad": "i0_rad", "omega0_rad": "omega0_rad",
    "omega_rad": "omega_rad", "m0_rad": "m0_rad", "delta_n_radps": "delta_n_rad_s",
    "omega_dot_radps": "omega_dot_rad_s", "idot_radps": "idot_rad_s", "crs_m": "crs_m",
    "crc_m": "crc_m", "cus_rad": "cus_rad", "cuc_rad": "cuc_rad", "cis_rad": "cis_rad",
    "cic_rad": "cic_rad", "af0_s": "af0_s", "af1_sps": "af1_s_s", "af2_sps2": "af2_s_s2", "toe_s": "toe_s",
}  # fmt: skip


def gpst_seconds(time: NDArray[np.datetime64]) -> F64:
    """datetime64 in GPST -> seconds since the GPS epoch (float64: sub-microsecond for decades)."""
    return np.asarray((time.astype("datetime64[ns]") - _GPS_EPOCH).astype(np.int64) / 1e9, dtype=np.float64)


def system_time_of_week(system: str, t_gpst_s: F64 | float) -> F64:
    """Seconds of week in the satellite system's own time scale (BDT for BeiDou)."""
    t = np.asarray(t_gpst_s, dtype=np.float64) - (BDT_GPST_S if system == "C" else 0.0)
    return np.asarray(t % WEEK_S, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Selection:
    """Ephemerides for the requested satellites (rows aligned with them) and which have one."""

    eph: KeplerArrays
    valid: NDArray[np.bool_]
    tgd_s: F64  # the group delay of the first frequency: GPS/QZSS TGD, Galileo BGD E1/E5b, BDS TGD1


class BroadcastNav:
    """All Keplerian records of a navigation file, indexed for per-epoch selection."""

    def __init__(self, nav: NavData, systems: str = "GECJ") -> None:
        self.iono_alpha = nav.iono.get("GPSA", np.zeros(4))
        self.iono_beta = nav.iono.get("GPSB", np.zeros(4))
        chunks: list[dict[str, np.ndarray]] = []
        for system in systems:
            rec = nav.ephemeris.get(system)
            if rec is None or len(rec) == 0:
                continue
            chunks.append(_columns(system, rec))
        if chunks:
            self._cols = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        else:
            self._cols = _columns("G", np.zeros(0, dtype=[("sat", "<U3")]))
        rows: dict[str, list[int]] = {}
        for i, sat in enumerate(self._cols["sat"].tolist()):
            rows.setdefault(sat, []).append(i)
        self._by_sat = {k: np.asarray(v, dtype=np.intp) for k, v in rows.items()}
        self._last: tuple[tuple[bytes, float], Selection] | None = None

    def select(self, sats: NDArray[np.str_], t_gpst_s: float) -> Selection:
        """The record to use for each satellite at one epoch (rows of unknown satellites are
        filled with the first record and flagged invalid)."""
        key = (sats.tobytes(), t_gpst_s)
        if self._last is not None and self._last[0] == key:
            return self._last[1]  # base and rover epochs at the same instant
        out = self._select(sats, t_gpst_s)
        self._last = (key, out)
        return out

    def _select(self, sats: NDArray[np.str_], t_gpst_s: float) -> Selection:
        rows = np.zeros(len(sats), dtype=np.intp)
        valid = np.zeros(len(sats), dtype=bool)
        for i, sat in enumerate(sats.tolist()):
            cand = self._by_sat.get(sat)
            if cand is None:
                continue
            dt = np.abs(self._cols["toe_abs"][cand] - t_gpst_s)
            ok = self._cols["healthy"][cand] & (dt <= MAX_DTOE_S[sat[0]])
            if not ok.any():
                continue
            # preferred records first, then nearest
            score = dt + np.where(self._cols["preferred"][cand], 0.0, 1e7) + np.where(ok, 0.0, 1e9)
            rows[i] = cand[int(np.argmin(score))]
            valid[i] = True
        return Selection(self._take(rows), valid, self._cols["tgd_s"][rows] if len(rows) else np.zeros(0))

    def _take(self, rows: NDArray[np.intp]) -> KeplerArrays:
        c = self._cols
        if len(c["sat"]) == 0:
            rows = np.zeros(0, dtype=np.intp)
        return KeplerArrays(
            system=c["system"][rows], prn=c["prn"][rows], toc_s=c["toc_s"][rows],
            **{name: c[name][rows] for name in _FIELDS},
        )  # fmt: skip


def _columns(system: str, rec: NDArray[np.void]) -> dict[str, np.ndarray]:
    n = len(rec)
    names = rec.dtype.names or ()
    out: dict[str, np.ndarray] = {
        "sat": rec["sat"].astype("<U3") if n else np.zeros(0, "<U3"),
        "system": np.full(n, system, dtype="<U1"),
        "prn": np.array([int(s[1:]) for s in rec["sat"].tolist()], dtype=np.int64)
        if n
        else np.zeros(0, np.int64),
    }
    for name, src in _FIELDS.items():
        out[name] = rec[src].astype(np.float64) if src in names else np.zeros(n)
    if n == 0:
        out.update(
            toc_s=np.zeros(0), toe_abs=np.zeros(0), healthy=np.zeros(0, bool), preferred=np.zeros(0, bool)
        )
        out["tgd_s"] = np.zeros(0)
        return out
    epoch0 = _BDT_EPOCH if system == "C" else _GPS_EPOCH
    toc_sys_s = (rec["toc"].astype("datetime64[ns]") - epoch0).astype(np.int64) / 1e9
    out["toc_s"] = toc_sys_s % WEEK_S
    week = rec["week"].astype(np.float64) + (BDT_WEEK0 if system == "C" else 0)
    toe_abs = week * WEEK_S + out["toe_s"] + (BDT_GPST_S if system == "C" else 0.0)
    # RINEX's week may be the week of transmission: bring toe within half a week of toc
    toc_abs = toc_sys_s + (BDT_WEEK0 * WEEK_S + BDT_GPST_S if system == "C" else 0.0)
    out["toe_abs"] = toe_abs - np.round((toe_abs - toc_abs) / WEEK_S) * WEEK_S
    health_field = "sat_h1" if system == "C" else "health"
    health = rec[health_field] if health_field in names else np.zeros(n, np.int64)
    if system == "J":
        health = health & ~1  # bit 0 is the L1C/B (formerly LEX) signal's health, as RTKLIB masks it
    out["healthy"] = health == 0
    if system == "E":
        sources = rec["data_sources"] if "data_sources" in names else np.ones(n, np.int64)
        out["preferred"] = (sources & 1) != 0  # I/NAV
        out["tgd_s"] = rec["bgd_e5b_e1_s"].astype(np.float64)
    else:
        out["preferred"] = np.ones(n, bool)
        out["tgd_s"] = rec["tgd1_s" if system == "C" else "tgd_s"].astype(np.float64)
    return out
