"""Post-processing: observation files in, one solution per rover epoch out.

The epoch loop is the only place that knows about files; the models and the filter take plain
arrays, so the live ("cloud RTK") path feeds the same :class:`gnss.rtk.filter.RtkFilter` from
RTCM MSM epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from gnss.geodesy import ecef_to_geodetic, enu_rotation
from gnss.orbits import C_MPS
from gnss.quality import SolutionQuality
from gnss.rinex import read_nav, read_obs
from gnss.rtk.antennas import Antennas, receiver_antennas
from gnss.rtk.broadcast import BroadcastNav
from gnss.rtk.filter import EpochObs, RtkFilter
from gnss.rtk.obsdata import ObsSet, ReceiverEpochs, build
from gnss.rtk.options import RtkOptions
from gnss.rtk.posfile import PosSolutions, sd_from_enu_cov
from gnss.rtk.satellites import sat_states, single_point
from gnss.spp import SppFailed

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
Progress = Callable[[int, int], None]


def solve_rinex(
    rover: Path,
    base: Path | None,
    nav: Path,
    options: RtkOptions,
    *,
    base_ecef_m: F64 | None = None,
    progress: Progress | None = None,
) -> PosSolutions:
    """Solve a rover observation file against a base file (not needed in ``single`` mode).
    The base position defaults to the base file's header position."""
    rover_obs = read_obs(rover)
    base_obs = read_obs(base) if base is not None and options.mode != "single" else None
    if options.mode != "single" and base_obs is None:
        raise ValueError(f"mode {options.mode!r} needs a base observation file")
    if base_ecef_m is None and base_obs is not None:
        base_ecef_m = np.asarray(base_obs.header.approx_xyz_m, dtype=np.float64)
    eph = BroadcastNav(read_nav(nav), options.systems_used)
    data = build(
        rover_obs, base_obs, options.systems_used, options.freqs, options.max_base_age_s, eph.glonass_channels
    )
    antennas = receiver_antennas(
        options, data.n_freqs, rover_obs.header, base_obs.header if base_obs is not None else None
    )
    return solve_epochs(data, eph, options, base_ecef_m, progress, antennas=antennas)


def solve_epochs(
    data: ObsSet,
    nav: BroadcastNav,
    options: RtkOptions,
    base_ecef_m: F64 | None,
    progress: Progress | None = None,
    *,
    antennas: Antennas | None = None,
) -> PosSolutions:
    """The epoch loop. BLAS is held to one thread: the filter's matrices are ~100 x 100, where
    OpenBLAS's thread start-up costs 20x the arithmetic (13 ms instead of 0.5 ms per solve).
    ``antennas``: the receivers' antenna models (default: from the options, without headers)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _solve_epochs(data, nav, options, base_ecef_m, progress, antennas)


@dataclass(frozen=True, slots=True)
class Observed:
    """One receiver's observables at one epoch, ``(n_sats, n_freqs)``; phase in cycles."""

    pr_m: F64
    cp_cyc: F64
    lli: I8
    dop_hz: F64
    cn0_dbhz: F64

    def masked(self, cn0_min_dbhz: float) -> Observed:
        """Signals weaker than the mask are not observed (a signal without C/N0 is kept)."""
        if cn0_min_dbhz <= 0.0:
            return self
        weak = self.cn0_dbhz < cn0_min_dbhz
        if not weak.any():
            return self
        return Observed(
            np.where(weak, np.nan, self.pr_m),
            np.where(weak, np.nan, self.cp_cyc),
            self.lli,
            np.where(weak, np.nan, self.dop_hz),
            self.cn0_dbhz,
        )


def observed_at(epochs: ReceiverEpochs, k: int) -> Observed:
    return Observed(epochs.pr_m[k], epochs.cp_cyc[k], epochs.lli[k], epochs.dop_hz[k], epochs.cn0_dbhz[k])


NO_DOP: Final = (np.nan, np.nan, np.nan, np.nan)


@dataclass(frozen=True, slots=True)
class EpochSolution:
    """One rover epoch's answer: position (ECEF m) with covariance, quality (RTKLIB's Q: 1 fix,
    2 float, 4 DGNSS, 5 single), satellites used, AR ratio, age of the base epoch, receiver clock."""

    ecef_m: F64
    cov_m2: F64
    q: int
    ns: int
    ratio: float
    age_s: float
    clock_s: float
    dop: tuple[float, float, float, float] = NO_DOP  # GDOP, PDOP, HDOP, VDOP of the single point


class EpochSolver:
    """The per-epoch step shared by post-processing and the live engine: single point (seeded
    with the previous epoch's position), then the RTK/DGNSS filter when a base epoch is given.

    Satellites are the caller's columns; the live engine adds columns as satellites rise
    (:meth:`add_satellites`), so its arrays grow while earlier columns keep their filter states.
    """

    def __init__(
        self,
        sats: NDArray[np.str_],
        wavelength_m: F64,
        options: RtkOptions,
        base_ecef_m: F64 | None,
        antennas: Antennas | None = None,
    ) -> None:
        self.options = options
        self.sats = sats
        self.wavelength_m = wavelength_m
        self.rtk: RtkFilter | None = None
        if options.mode != "single":
            if base_ecef_m is None:
                raise ValueError("a base position is needed")
            if antennas is None:
                antennas = receiver_antennas(options, wavelength_m.shape[1])
            self.rtk = RtkFilter(sats, wavelength_m, base_ecef_m, options, antennas)
        self.prior: F64 | None = None

    def add_satellites(self, sats: NDArray[np.str_], wavelength_m: F64) -> None:
        self.sats = np.concatenate([self.sats, sats])
        self.wavelength_m = np.vstack([self.wavelength_m, wavelength_m])
        if self.rtk is not None:
            self.rtk.add_satellites(sats, wavelength_m)

    def update_wavelengths(self, cols: NDArray[np.intp], wavelength_m: F64) -> None:
        """This epoch's wavelengths of columns ``cols``: a slot seen for the first time gets its
        own; a slot whose signal moved to another carrier (BeiDou's first slot: B1I or B1C) gets
        the new one and its ambiguity starts over."""
        current = self.wavelength_m[cols]
        changed = np.isfinite(wavelength_m) & (current != wavelength_m)
        if not changed.any():
            return
        rows, slots = np.nonzero(changed)
        self.wavelength_m[cols[rows], slots] = wavelength_m[rows, slots]
        if self.rtk is not None:
            self.rtk.restart_signals(cols[rows], slots, wavelength_m[rows, slots])

    def step(
        self,
        nav: BroadcastNav,
        t_gpst_s: float,
        rover: Observed,
        base: tuple[float, Observed] | None,
    ) -> EpochSolution | None:
        """``base``: the matched base epoch's GPST and observables, or None. None: no single-point
        solution."""
        rover = rover.masked(self.options.cn0_mask_dbhz)
        pr = rover.pr_m
        rs = sat_states(nav, self.sats, t_gpst_s, pr[:, 0])
        try:
            spp = single_point(
                nav,
                self.sats,
                rs,
                pr[:, 0],
                self.wavelength_m[:, 0],
                t_gpst_s,
                self.options.elmask_deg,
                self.prior,
                self.options.bds_iono,
            )
        except SppFailed:
            self.prior = None
            return None
        self.prior = spp.ecef_m
        clock_s = spp.clock_m.get("G", next(iter(spp.clock_m.values()), 0.0)) / C_MPS
        dop = (spp.dop["gdop"], spp.dop["pdop"], spp.dop["hdop"], spp.dop["vdop"])
        if self.rtk is None or base is None:
            single = SolutionQuality.SINGLE
            return EpochSolution(spp.ecef_m, np.zeros((3, 3)), single, spp.n_used, 0.0, 0.0, clock_s, dop)
        t_base, b = base[0], base[1].masked(self.options.cn0_mask_dbhz)
        bs = sat_states(nav, self.sats, t_base, b.pr_m[:, 0])
        ep = EpochObs(
            t_gpst_s, pr, rover.cp_cyc, rover.lli, b.pr_m, b.cp_cyc, b.lli, rs, bs, spp.ecef_m,
            t_gpst_s - t_base, rover.dop_hz, b.dop_hz,
        )  # fmt: skip
        res = self.rtk.step(ep)
        return EpochSolution(res.ecef_m, res.cov_m2, res.q, res.ns, res.ratio, ep.age_s, clock_s, dop)


def _solve_epochs(
    data: ObsSet,
    nav: BroadcastNav,
    options: RtkOptions,
    base_ecef_m: F64 | None,
    progress: Progress | None,
    antennas: Antennas | None = None,
) -> PosSolutions:
    n = data.rover.t_gpst_s.size
    ecef = np.full((n, 3), np.nan)
    cov = np.zeros((n, 3, 3))
    q = np.zeros(n, np.int64)
    ns = np.zeros(n, np.int64)
    age = np.zeros(n)
    ratio = np.zeros(n)
    clock_s = np.zeros(n)
    dop = np.full((n, 4), np.nan)
    solver = EpochSolver(data.sats, data.wavelength_m, options, base_ecef_m, antennas)
    rv, bs = data.rover, data.base
    for k in range(n):
        j = int(data.base_index[k])
        base = None
        if bs is not None and j >= 0:
            base = (float(bs.t_gpst_s[j]), observed_at(bs, j))
        sol = solver.step(nav, float(rv.t_gpst_s[k]), observed_at(rv, k), base)
        if sol is not None:
            ecef[k], cov[k], q[k], ns[k] = sol.ecef_m, sol.cov_m2, sol.q, sol.ns
            ratio[k], age[k], clock_s[k], dop[k] = sol.ratio, sol.age_s, sol.clock_s, sol.dop
        if progress:
            progress(k + 1, n)
    keep = q > 0
    return pos_solutions(
        solution_times(rv.time, clock_s)[keep],
        ecef[keep],
        cov[keep],
        q[keep],
        ns[keep],
        age[keep],
        ratio[keep],
        dop[keep],
    )


def solution_times(tags: NDArray[np.datetime64], clock_s: F64) -> NDArray[np.datetime64]:
    """The solution's time is GPST itself: the receiver's time tag minus its clock offset, as
    RTKLIB reports it (receivers that steer their clock in 1 ms steps tag epochs 30.001 s)."""
    out: NDArray[np.datetime64] = tags - np.round(np.asarray(clock_s) * 1e6).astype("timedelta64[us]")
    return out


def pos_solutions(
    times: NDArray[np.datetime64],
    ecef: F64,
    cov: F64,
    q: NDArray[np.int64],
    ns: NDArray[np.int64],
    age: F64,
    ratio: F64,
    dop: F64 | None = None,
) -> PosSolutions:
    lat, lon, h = ecef_to_geodetic(ecef)
    llh = np.stack([lat, lon, h], axis=1) if len(ecef) else np.zeros((0, 3))
    rot = enu_rotation(llh[:, 0], llh[:, 1])  # (n, 3, 3) ECEF -> ENU
    sd = sd_from_enu_cov(rot @ cov @ np.swapaxes(rot, 1, 2))
    return PosSolutions(time=times, llh=llh, q=q, ns=ns, sd=sd, age_s=age, ratio=ratio, dop=dop)
