"""Post-processing: observation files in, one solution per rover epoch out.

The epoch loop is the only place that knows about files; the models and the filter take plain
arrays, so the live ("cloud RTK") path feeds the same :class:`gnss.rtk.filter.RtkFilter` from
RTCM MSM epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from gnss.geodesy import ecef_to_geodetic, enu_rotation
from gnss.orbits import C_MPS
from gnss.rinex import read_nav, read_obs
from gnss.rtk.broadcast import BroadcastNav
from gnss.rtk.filter import Q_SINGLE, EpochObs, RtkFilter
from gnss.rtk.obsdata import ObsSet, build
from gnss.rtk.options import RtkOptions
from gnss.rtk.posfile import PosSolutions, sd_from_enu_cov
from gnss.rtk.satellites import sat_states, single_point
from gnss.spp import SppFailed

F64 = NDArray[np.float64]
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
    data = build(rover_obs, base_obs, options.systems, options.freqs, options.max_base_age_s)
    return solve_epochs(data, BroadcastNav(read_nav(nav), options.systems), options, base_ecef_m, progress)


def solve_epochs(
    data: ObsSet,
    nav: BroadcastNav,
    options: RtkOptions,
    base_ecef_m: F64 | None,
    progress: Progress | None = None,
) -> PosSolutions:
    """The epoch loop. BLAS is held to one thread: the filter's matrices are ~100 x 100, where
    OpenBLAS's thread start-up costs 20x the arithmetic (13 ms instead of 0.5 ms per solve)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _solve_epochs(data, nav, options, base_ecef_m, progress)


def _solve_epochs(
    data: ObsSet,
    nav: BroadcastNav,
    options: RtkOptions,
    base_ecef_m: F64 | None,
    progress: Progress | None,
) -> PosSolutions:
    n = data.rover.t_gpst_s.size
    ecef = np.full((n, 3), np.nan)
    cov = np.zeros((n, 3, 3))
    q = np.zeros(n, np.int64)
    ns = np.zeros(n, np.int64)
    age = np.zeros(n)
    ratio = np.zeros(n)
    clock_s = np.zeros(n)
    rtk = None
    if options.mode != "single":
        if base_ecef_m is None:
            raise ValueError("a base position is needed")
        rtk = RtkFilter(data.sats, data.wavelength_m, base_ecef_m, options)
    prior: F64 | None = None
    for k in range(n):
        t = float(data.rover.t_gpst_s[k])
        pr, cp, lli = data.rover.pr_m[k], data.rover.cp_cyc[k], data.rover.lli[k]
        rs = sat_states(nav, data.sats, t, pr[:, 0])
        try:
            spp = single_point(
                nav, data.sats, rs, pr[:, 0], data.wavelength_m[:, 0], t, options.elmask_deg, prior
            )
            prior = spp.ecef_m
            clock_s[k] = spp.clock_m.get("G", next(iter(spp.clock_m.values()), 0.0)) / C_MPS
        except SppFailed:
            prior = None
            if progress:
                progress(k + 1, n)
            continue
        out_pos, out_cov, out_q, out_ns, out_ratio = spp.ecef_m, np.eye(3) * 0.0, Q_SINGLE, spp.n_used, 0.0
        j = int(data.base_index[k])
        if rtk is not None and data.base is not None and j >= 0:
            bpr = data.base.pr_m[j]
            bs = sat_states(nav, data.sats, float(data.base.t_gpst_s[j]), bpr[:, 0])
            ep = EpochObs(
                t, pr, cp, lli, bpr, data.base.cp_cyc[j], data.base.lli[j], rs, bs, spp.ecef_m,
                t - float(data.base.t_gpst_s[j]),
            )  # fmt: skip
            res = rtk.step(ep)
            out_pos, out_cov, out_q, out_ns, out_ratio = res.ecef_m, res.cov_m2, res.q, res.ns, res.ratio
            age[k] = ep.age_s
        ecef[k], cov[k], q[k], ns[k], ratio[k] = out_pos, out_cov, out_q, out_ns, out_ratio
        if progress:
            progress(k + 1, n)
    keep = q > 0
    # the solution's time is GPST itself: the receiver's time tag minus its clock offset, as
    # RTKLIB reports it (receivers that steer their clock in 1 ms steps tag epochs 30.001 s)
    times = data.rover.time - np.round(clock_s * 1e6).astype("timedelta64[us]")
    return _to_pos(times[keep], ecef[keep], cov[keep], q[keep], ns[keep], age[keep], ratio[keep])


def _to_pos(
    times: NDArray[np.datetime64],
    ecef: F64,
    cov: F64,
    q: NDArray[np.int64],
    ns: NDArray[np.int64],
    age: F64,
    ratio: F64,
) -> PosSolutions:
    lat, lon, h = ecef_to_geodetic(ecef)
    llh = np.stack([lat, lon, h], axis=1) if len(ecef) else np.zeros((0, 3))
    rot = enu_rotation(llh[:, 0], llh[:, 1])  # (n, 3, 3) ECEF -> ENU
    sd = sd_from_enu_cov(rot @ cov @ np.swapaxes(rot, 1, 2))
    return PosSolutions(time=times, llh=llh, q=q, ns=ns, sd=sd, age_s=age, ratio=ratio)
