"""Broadcast ephemerides of a navigation file, chosen per satellite for each epoch.

RTKLIB's rule, kept so both engines see the same orbits: the healthy record whose reference time is
nearest the epoch, within a validity span per system (GPS/QZSS 2 h, Galileo 3 h, BeiDou 6 h either
side; QZSS's bit 0 of health, which concerns another signal, is ignored). Galileo broadcasts both
I/NAV (E1/E5b) and F/NAV (E1/E5a) records; I/NAV is preferred because the positioning pairs E1 with
E5b. Times here are absolute GPST seconds since the GPS epoch, so week rollovers and BDT's own week
count never need special cases.

GLONASS records (state vectors, :mod:`gnss.glonass`) are kept apart from the Keplerian ones and
chosen by RTKLIB's ``selgeph`` rule: nearest reference time within 30 min (the records come every
30 min), healthy. RINEX gives their reference time in UTC: as RTKLIB's reader does, it is rounded
to the 15 min grid the broadcast ``tb`` lives on, then taken to GPST with the leap seconds of the
file's header, or of the table of leap seconds when the header has none.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.glonass import GlonassArrays
from gnss.orbits import KeplerArrays
from gnss.rinex import NavData
from gnss.rtcm.ephemeris import KeplerEphemeris

F64 = NDArray[np.float64]
WEEK_S: Final = 604_800.0
BDT_GPST_S: Final = 14.0  # BDT = GPST - 14 s
BDT_WEEK0: Final = 1356  # GPS week of BDT's epoch, 2006-01-01
MAX_DTOE_S: Final = {"G": 7200.0, "J": 7200.0, "E": 10800.0, "C": 21600.0, "R": 1800.0}
GLONASS_TB_GRID_S: Final = 900.0  # tb, the GLONASS record's reference time, is a multiple of 15 min
# GPST - UTC from each leap second on (IERS Bulletin C; RTKLIB's leaps[]), newest first
LEAP_SECONDS: Final = (
    ("2017-01-01", 18), ("2015-07-01", 17), ("2012-07-01", 16), ("2009-01-01", 15), ("2006-01-01", 14),
    ("1999-01-01", 13), ("1997-07-01", 12), ("1996-01-01", 11), ("1994-07-01", 10), ("1993-07-01", 9),
    ("1992-07-01", 8), ("1991-01-01", 7), ("1990-01-01", 6), ("1988-01-01", 5), ("1985-07-01", 4),
    ("1983-07-01", 3), ("1982-07-01", 2), ("1981-07-01", 1),
)  # fmt: skip
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


def leap_seconds(utc: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """GPST - UTC (s) at UTC times, from :data:`LEAP_SECONDS` (0 before 1981-07-01)."""
    starts = np.array([d for d, _ in LEAP_SECONDS[::-1]], dtype="datetime64[ns]")
    values = np.array([0] + [n for _, n in LEAP_SECONDS[::-1]], dtype=np.int64)
    return values[np.searchsorted(starts, utc.astype("datetime64[ns]"), side="right")]


@dataclass(frozen=True, slots=True)
class Selection:
    """Ephemerides for the requested satellites (rows aligned with them) and which have one.
    GLONASS satellites (``glonass_rows`` of the request) have theirs in ``glonass``, in that
    order; their rows of ``eph`` are placeholders."""

    eph: KeplerArrays
    valid: NDArray[np.bool_]
    tgd_s: F64  # the group delay of the first frequency: GPS/QZSS TGD, Galileo BGD E1/E5b, BDS TGD1
    glonass_rows: NDArray[np.intp]
    glonass: GlonassArrays


class BroadcastNav:
    """All Keplerian records of a navigation file, indexed for per-epoch selection."""

    def __init__(self, nav: NavData, systems: str = "GECJ") -> None:
        self.iono_alpha = nav.iono.get("GPSA", np.zeros(4))
        self.iono_beta = nav.iono.get("GPSB", np.zeros(4))
        # BeiDou's own model (RINEX 3 BDSA/BDSB), when the file has it
        bdsa, bdsb = nav.iono.get("BDSA"), nav.iono.get("BDSB")
        self.bds_iono: tuple[F64, F64] | None = None if bdsa is None or bdsb is None else (bdsa, bdsb)
        chunks: list[dict[str, np.ndarray]] = []
        for system in systems.replace("R", ""):
            rec = nav.ephemeris.get(system)
            if rec is None or len(rec) == 0:
                continue
            chunks.append(_columns(system, rec))
        if chunks:
            self._cols = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        else:
            self._cols = _columns("G", np.zeros(0, dtype=[("sat", "<U3")]))
        glo = nav.ephemeris.get("R") if "R" in systems else None
        self._glo = _glonass_records(glo, nav.leap_seconds)
        self._index()

    def _index(self) -> None:
        """Rows of each satellite in the columns, and an empty selection cache."""
        rows: dict[str, list[int]] = {}
        for i, sat in enumerate(self._cols["sat"].tolist()):
            rows.setdefault(sat, []).append(i)
        self._by_sat = {k: np.asarray(v, dtype=np.intp) for k, v in rows.items()}
        # the same grouping as flat arrays, for selecting every satellite's record at once
        sats = self._cols["sat"]
        self._order = np.argsort(sats, kind="stable").astype(np.intp)
        self._names, self._starts = np.unique(sats[self._order], return_index=True)
        self._max_dtoe = np.array([MAX_DTOE_S.get(str(s)[:1], 0.0) for s in sats.tolist()], dtype=np.float64)
        glo_rows: dict[str, list[int]] = {}
        for i, sat in enumerate(self._glo.sat.tolist()):
            glo_rows.setdefault(sat, []).append(i)
        self._glo_by_sat = {k: np.asarray(v, dtype=np.intp) for k, v in glo_rows.items()}
        self._last: tuple[tuple[bytes, float], Selection] | None = None

    @property
    def glonass_records(self) -> tuple[NDArray[np.str_], GlonassArrays]:
        """Every GLONASS record (satellite, state; ``toe_s`` in absolute GPST seconds)."""
        return self._glo.sat, self._glo.eph

    @property
    def glonass_channels(self) -> dict[str, int]:
        """FDMA channel of each GLONASS satellite, as its (last) broadcast record states it."""
        return dict(zip(self._glo.sat.tolist(), self._glo.eph.freq_num.tolist(), strict=True))

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
        rows, valid = self._kepler_rows(sats, t_gpst_s)
        glo_at: list[int] = []
        glo_rows: list[int] = []
        for i in np.flatnonzero(np.char.startswith(sats, "R")).tolist():
            sat = str(sats[i])
            glo_at.append(i)
            glo_rows.append(self._glo.select(sat, self._glo_by_sat.get(sat), t_gpst_s))
            valid[i] = glo_rows[-1] >= 0
        tgd = self._cols["tgd_s"][rows] if len(rows) and len(self._cols["sat"]) else np.zeros(len(rows))
        # GLONASS: the G1 group delay dTauN is only in RINEX 3.05 records and not applied (0 in
        # RTKLIB too for the 3.04 files here)
        tgd[glo_at] = 0.0
        glo = self._glo.eph.take(np.maximum(np.asarray(glo_rows, dtype=np.intp), 0))
        return Selection(self._take(rows), valid, tgd, np.asarray(glo_at, dtype=np.intp), glo)

    def _kepler_rows(
        self, sats: NDArray[np.str_], t_gpst_s: float
    ) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """RTKLIB's choice for every satellite at once: among its healthy records within the
        system's toe limit, a preferred one (Galileo I/NAV) before the others, then the nearest
        toe; the first of equals."""
        rows = np.zeros(len(sats), dtype=np.intp)
        valid = np.zeros(len(sats), dtype=bool)
        if len(self._order) == 0 or len(sats) == 0:
            return rows, valid
        c = self._cols
        dt = np.abs(c["toe_abs"] - t_gpst_s)
        dt = np.where(np.isnan(dt), np.inf, dt)  # a record without its toe (a truncated file) is never chosen
        ok = c["healthy"] & (dt <= self._max_dtoe)
        score = (dt + np.where(c["preferred"], 0.0, 1e7) + np.where(ok, 0.0, 1e9))[self._order]
        best = np.minimum.reduceat(score, self._starts)
        # the first record of each group reaching its minimum
        group = np.repeat(np.arange(len(self._starts)), np.diff(np.append(self._starts, len(score))))
        hits = np.flatnonzero(score == best[group])
        first = hits[np.unique(group[hits], return_index=True)[1]]
        where = np.searchsorted(self._names, sats)
        known = (where < len(self._names)) & (self._names[np.minimum(where, len(self._names) - 1)] == sats)
        g = np.where(known, where, 0)
        rows = np.where(known, self._order[first[g]], 0).astype(np.intp)
        valid = known & (best[g] < 1e9)
        return rows, valid

    def _take(self, rows: NDArray[np.intp]) -> KeplerArrays:
        c = self._cols
        if len(c["sat"]) == 0:
            rows = np.zeros(0, dtype=np.intp)
        return KeplerArrays(
            system=c["system"][rows], prn=c["prn"][rows], toc_s=c["toc_s"][rows],
            **{name: c[name][rows] for name in _FIELDS},
        )  # fmt: skip

    @classmethod
    def from_ephemerides(
        cls,
        records: Iterable[KeplerEphemeris],
        systems: str = "GECJ",
        *,
        near_gpst_s: F64 | float | None = None,
        iono_alpha: F64 | None = None,
        iono_beta: F64 | None = None,
    ) -> BroadcastNav:
        """Navigation from decoded RTCM ephemerides (1019 GPS, 1042 BeiDou, 1044 QZSS, 1045/1046
        Galileo), selected by the same rule as a navigation file's records.

        ``near_gpst_s`` (one time, or one per record: when each was received) places every
        record's toe within half a week of it, which settles the broadcast week's ambiguities
        (GPS/QZSS send it modulo 1024, and it is the week of transmission, not always toe's).
        Without it the broadcast weeks are used: Galileo's GST week + 1024 and BeiDou's BDT week
        + 1356 are absolute, GPS/QZSS's are resolved against those, or today's date if none.
        RTCM carries no ionosphere coefficients: without ``iono_alpha``/``iono_beta`` the
        Klobuchar model gets RTKLIB's defaults, as RTKLIB itself does when the navigation data
        have none.
        """
        recs = [r for r in records if r.system in systems]
        nav = cls(NavData(version=3.04, ephemeris={}), systems)  # every attribute, then our records
        nav.bds_iono = None
        nav.iono_alpha = np.asarray(_ION_DEFAULT[:4] if iono_alpha is None else iono_alpha, np.float64)
        nav.iono_beta = np.asarray(_ION_DEFAULT[4:] if iono_beta is None else iono_beta, np.float64)
        nav._cols = _ephemeris_columns(recs, near_gpst_s)
        nav._index()
        return nav


@dataclass(frozen=True, slots=True, eq=False)
class _GlonassRecords:
    sat: NDArray[np.str_]
    eph: GlonassArrays  # toe_s: absolute GPST seconds
    healthy: NDArray[np.bool_]

    def select(self, sat: str, cand: NDArray[np.intp] | None, t_gpst_s: float) -> int:
        """Row of the healthy record nearest ``t_gpst_s`` within 30 min, -1 if none."""
        if cand is None:
            return -1
        dt = np.abs(self.eph.toe_s[cand] - t_gpst_s)
        ok = self.healthy[cand] & (dt <= MAX_DTOE_S["R"])
        if not ok.any():
            return -1
        return int(cand[int(np.argmin(np.where(ok, dt, np.inf)))])


def _glonass_records(rec: NDArray[np.void] | None, leap_header: int | None) -> _GlonassRecords:
    """GLONASS records of a RINEX navigation file, reference times in GPST (see module doc)."""
    n = 0 if rec is None else len(rec)
    if rec is None or n == 0:
        z, z3, zi = np.zeros(0), np.zeros((0, 3)), np.zeros(0, np.int64)
        return _GlonassRecords(
            np.zeros(0, "<U3"), GlonassArrays(zi, z, z3, z3, z3, z, z, zi), np.zeros(0, bool)
        )
    utc_s = (rec["toc"].astype("datetime64[ns]") - _GPS_EPOCH).astype(np.int64) / 1e9
    tb_utc_s = np.floor((utc_s + GLONASS_TB_GRID_S / 2) / GLONASS_TB_GRID_S) * GLONASS_TB_GRID_S
    leap = leap_seconds(rec["toc"]) if leap_header is None else np.full(n, leap_header, np.int64)
    freq = rec["freq_num"].astype(np.int64)
    freq = np.where(freq > 128, freq - 256, freq)  # some receivers write the channel as a byte
    eph = GlonassArrays(
        prn=np.array([int(s[1:]) for s in rec["sat"].tolist()], dtype=np.int64),
        toe_s=tb_utc_s + leap,
        pos_m=np.stack([rec["x_m"], rec["y_m"], rec["z_m"]], axis=1).astype(np.float64),
        vel_m_s=np.stack([rec["vx_m_s"], rec["vy_m_s"], rec["vz_m_s"]], axis=1).astype(np.float64),
        acc_m_s2=np.stack([rec["ax_m_s2"], rec["ay_m_s2"], rec["az_m_s2"]], axis=1).astype(np.float64),
        tau_n_s=-rec["clock_bias_s"].astype(np.float64),  # RINEX stores -TauN
        gamma_n=rec["rel_freq_bias"].astype(np.float64),
        freq_num=freq,
    )
    return _GlonassRecords(rec["sat"].astype("<U3"), eph, rec["health"] == 0)


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


# --- navigation from RTCM ephemerides (BroadcastNav.from_ephemerides) -------------------------

# RTKLIB's ion_default (rtkcmn.c, 2004-01-01): its Klobuchar coefficients when the data carry none
_ION_DEFAULT: Final = np.array(
    [0.1118e-07, -0.7451e-08, -0.5961e-07, 0.1192e-06, 0.1167e06, -0.2294e06, -0.1311e06, 0.1049e07]
)
GST_WEEK0: Final = 1024  # GPS week of GST's epoch, 1999-08-22
_GPS_WEEK_ROLL: Final = 1024  # GPS/QZSS ephemerides send the week modulo 1024


def _ephemeris_columns(recs: list[KeplerEphemeris], near_gpst_s: F64 | float | None) -> dict[str, np.ndarray]:
    n = len(recs)
    systems = np.array([r.system for r in recs], dtype="<U1")
    prn = np.array([r.prn for r in recs], dtype=np.int64)
    out: dict[str, np.ndarray] = {
        "sat": np.array([f"{r.system}{r.prn:02d}" for r in recs], dtype="<U3"),
        "system": systems,
        "prn": prn,
        **{name: np.array([getattr(r, name) for r in recs], dtype=np.float64) for name in _FIELDS},
    }
    out["toc_s"] = np.array([r.toc_s for r in recs], dtype=np.float64)
    bdt = systems == "C"
    # toe as GPST seconds of the week it was sent in (BDT's toe is 14 s behind GPST's)
    toe_gpst = out["toe_s"] + np.where(bdt, BDT_GPST_S, 0.0)
    week = np.array([r.week for r in recs], dtype=np.float64)
    week += np.where(bdt, BDT_WEEK0, 0) + np.where(systems == "E", GST_WEEK0, 0)
    if near_gpst_s is None:
        modular = np.isin(systems, ["G", "J"])
        absolute = week[~modular]
        ref = float(np.median(absolute)) if absolute.size else _gps_week_today()
        week = np.where(modular, week + np.round((ref - week) / _GPS_WEEK_ROLL) * _GPS_WEEK_ROLL, week)
        toe_abs = week * WEEK_S + toe_gpst
    else:
        near = np.broadcast_to(np.asarray(near_gpst_s, dtype=np.float64), (n,))
        toe_abs = toe_gpst + np.round((near - toe_gpst) / WEEK_S) * WEEK_S
    out["toe_abs"] = toe_abs
    health = np.array([r.health for r in recs], dtype=np.int64)
    # QZSS: bit 0 concerns another signal (RTKLIB masks it); Galileo: RINEX's layout, 0 = all good
    out["healthy"] = np.where(systems == "J", health & ~1, health) == 0
    msg = np.array([r.msg_type for r in recs], dtype=np.int64)
    out["preferred"] = (systems != "E") | (msg == 1046)  # Galileo I/NAV (E1/E5b) first
    # first-frequency group delay: GPS/QZSS TGD, BeiDou TGD1 (B1I), Galileo BGD E5b/E1 of I/NAV
    # (F/NAV has only BGD E1/E5a, the one its E1/E5a clock goes with)
    tgd = [r.tgd_s[1] if r.msg_type == 1046 else r.tgd_s[0] for r in recs]
    out["tgd_s"] = np.array(tgd, dtype=np.float64)
    return out


def _gps_week_today() -> float:
    now = np.datetime64(datetime.datetime.now(datetime.UTC).replace(tzinfo=None), "ns")
    return float((now - _GPS_EPOCH) // np.timedelta64(7, "D"))
