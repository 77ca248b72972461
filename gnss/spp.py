"""Single point positioning: weighted least squares over pseudoranges, one receiver clock per
system, with RAIM-style exclusion of a faulty satellite.

The pipeline, each step a small function over arrays (satellites along axis 0):
geometry (range with the Sagnac term, line-of-sight unit vectors, elevation/azimuth) ->
corrections (satellite clock, troposphere, optionally ionosphere) -> weighted Gauss-Newton on
(x, y, z, clock per system) -> if the residuals fail a chi-square test, exclude the satellite with
the largest standardised residual and solve again.

Weights follow RTKLIB's default error model: sigma^2 = a^2 + b^2 / sin^2(el), a = b = 0.3 m times
a per-combination factor (3 for an ionosphere-free combination, whose noise is about three times
a single frequency's). Separate clocks per system absorb the inter-system biases (GPST vs BDT
offsets, receiver hardware delays), so systems mix without a broadcast GGTO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.atmosphere import saastamoinen_m
from gnss.geodesy import ecef_to_geodetic

F64 = NDArray[np.float64]
C_MPS: Final = 299_792_458.0
OMEGA_E: Final = 7.2921151467e-5
ERR_A_M: Final = 0.3
ERR_B_M: Final = 0.3
MAX_ITER: Final = 12


def iono_free_pair(system: str, ephemeris_msg_type: int = 0) -> tuple[float, float]:
    """The two carrier frequencies (Hz) whose ionosphere-free combination the broadcast clock
    refers to, so that the combination needs no group-delay term: GPS and QZSS L1/L2, Galileo
    E1/E5a for F/NAV (RTCM 1045) and E1/E5b for I/NAV (1046). BeiDou's clock refers to B3I
    alone: with B1I/B3I, subtract c * TGD1 from B1I first."""
    if system in "GJ":
        return 1575.42e6, 1227.60e6
    if system == "E":
        return 1575.42e6, 1176.45e6 if ephemeris_msg_type == 1045 else 1207.14e6
    if system == "C":
        return 1561.098e6, 1268.52e6
    raise ValueError(f"no ionosphere-free pair for system {system!r}")


class SppFailed(ValueError):
    """Too few satellites, or the iteration did not converge."""


@dataclass
class SppSolution:
    ecef_m: F64
    clock_m: dict[str, float]  # receiver clock per system, metres
    used: NDArray[np.bool_]  # per input satellite
    residuals_m: F64  # per input satellite (NaN where not used)
    sigma_m: F64  # per input satellite: the error model's standard deviation
    dop: dict[str, float]  # gdop, pdop, hdop, vdop
    excluded: list[int] = field(default_factory=list)  # indices dropped by RAIM

    @property
    def n_used(self) -> int:
        return int(self.used.sum())


def geometry(rx: F64, sat: F64) -> tuple[F64, F64]:
    """Ranges with the Sagnac correction, and unit vectors receiver -> satellite."""
    d = sat - rx
    r = np.linalg.norm(d, axis=1)
    sagnac = OMEGA_E * (sat[:, 0] * rx[1] - sat[:, 1] * rx[0]) / C_MPS
    return r + sagnac, d / r[:, None]


def az_el(rx: F64, los: F64) -> tuple[F64, F64]:
    lat_deg, lon_deg, _ = ecef_to_geodetic(rx)
    lat, lon = np.radians(float(lat_deg)), np.radians(float(lon_deg))
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    e, n, u = los @ east, los @ north, los @ up
    return np.arctan2(e, n) % (2 * np.pi), np.arcsin(np.clip(u, -1, 1))


def solve(
    sat_pos_m: F64,
    sat_clock_s: F64,
    pr_m: F64,
    systems: NDArray[np.str_],
    *,
    error_factor: float = 1.0,
    elev_mask_deg: float = 10.0,
    iono_m: F64 | None = None,
    raim: bool = True,
    raim_k: float = 5.0,
    max_exclusions: int = 2,
    x0: F64 | None = None,
    extra_var_m2: F64 | None = None,
) -> SppSolution:
    """Position from pseudoranges (satellite positions at transmission, ECEF at transmission).

    RAIM-style exclusion: a satellite whose standardised residual exceeds ``raim_k`` times their
    robust spread (1.4826 x median absolute value, at least 1) is dropped and the solution redone,
    while at least two redundant satellites remain, up to ``max_exclusions`` times. A chi-square
    test on the error model alone would reject nearly every real epoch: the model's sigmas do not
    know the troposphere's residual or multipath, the robust spread does. ``x0`` (for instance
    the previous epoch's position) lets Gauss-Newton start near the answer: two or three
    iterations instead of six to eight from the Earth's centre. ``extra_var_m2`` adds per-satellite
    variances to the error model (the ionosphere and troposphere models' own errors, the
    ephemeris accuracy), which is what keeps a low satellite with a 5 m Klobuchar error from
    pulling a single-frequency solution."""
    excluded: list[int] = []
    keep = np.isfinite(pr_m) & np.all(np.isfinite(sat_pos_m), axis=1)
    while True:
        sol = _least_squares(
            sat_pos_m, sat_clock_s, pr_m, systems, keep, error_factor, elev_mask_deg, iono_m, x0, extra_var_m2
        )
        sol.excluded = list(excluded)
        used = np.flatnonzero(sol.used)
        dof = len(used) - 3 - len(sol.clock_m)
        if not raim or dof < 2 or len(excluded) >= max_exclusions:
            return sol
        v = np.abs(sol.residuals_m[used] / sol.sigma_m[used])
        spread = max(1.0, 1.4826 * float(np.median(v)))
        if v.max() <= raim_k * spread:
            return sol
        worst = int(used[np.argmax(v)])
        keep = keep.copy()
        keep[worst] = False
        excluded.append(worst)


def _least_squares(
    sat: F64,
    dts: F64,
    pr: F64,
    systems: NDArray[np.str_],
    keep: NDArray[np.bool_],
    efact: float,
    mask_deg: float,
    iono_m: F64 | None,
    x0: F64 | None = None,
    extra_var_m2: F64 | None = None,
) -> SppSolution:
    rx = np.zeros(3) if x0 is None else np.asarray(x0, dtype=np.float64).copy()
    names = sorted(set(systems[keep].tolist()))
    clocks = np.zeros(len(names))
    n = len(pr)
    for it in range(MAX_ITER):
        rng, los = geometry(rx, sat)
        first = it == 0 or np.linalg.norm(rx) < 1e6
        if first:
            el = np.full(n, np.pi / 2)
            tropo = np.zeros(n)
        else:
            _, el = az_el(rx, los)
            lat_deg, _, h = ecef_to_geodetic(rx)
            tropo = saastamoinen_m(np.radians(float(lat_deg)), float(h), el)
        use = keep & (first | (el >= np.radians(mask_deg)))
        sys_col = np.array([names.index(s) if s in names else -1 for s in systems])
        # a system whose satellites are all below the mask has no clock to estimate this time
        active, col_of_use = np.unique(sys_col[use], return_inverse=True)
        if use.sum() < 3 + len(active):
            raise SppFailed(f"{int(use.sum())} satellites for {3 + len(active)} unknowns")
        model = rng + clocks[np.clip(sys_col, 0, None)] - C_MPS * dts + tropo
        if iono_m is not None and not first:
            model = model + iono_m
        v = pr - model
        sin_el = np.maximum(np.sin(el), 0.1)
        sigma = np.sqrt(
            efact**2 * (ERR_A_M**2 + ERR_B_M**2 / sin_el**2) + (0.0 if extra_var_m2 is None else extra_var_m2)
        )
        idx = np.flatnonzero(use)
        h_mat = np.zeros((len(idx), 3 + len(active)))
        h_mat[:, :3] = -los[idx]
        h_mat[np.arange(len(idx)), 3 + col_of_use] = 1.0
        w = 1.0 / sigma[idx]
        dx, *_ = np.linalg.lstsq(h_mat * w[:, None], v[idx] * w, rcond=None)
        rx = rx + dx[:3]
        clocks[active] += dx[3:]
        if np.linalg.norm(dx) < 1e-4:
            break
    else:
        raise SppFailed("no convergence")
    # residuals after the last update, on the final geometry
    rng, los = geometry(rx, sat)
    _, el = az_el(rx, los)
    lat_deg, _, h = ecef_to_geodetic(rx)
    model = (
        rng
        + clocks[np.clip(sys_col, 0, None)]
        - C_MPS * dts
        + saastamoinen_m(np.radians(float(lat_deg)), float(h), el)
    )
    if iono_m is not None:
        model = model + iono_m
    residuals = np.full(n, np.nan)
    residuals[use] = (pr - model)[use]
    return SppSolution(
        rx,
        dict(zip(names, clocks.tolist(), strict=True)),
        use,
        residuals,
        sigma,
        _dops(rx, los[use], sys_col[use]),
    )


def _dops(rx: F64, los: F64, sys_col: NDArray[np.int64]) -> dict[str, float]:
    """DOPs of the satellites used, with a clock for each system among them."""
    _, col = np.unique(sys_col, return_inverse=True)
    h = np.zeros((len(los), 3 + int(col.max(initial=-1)) + 1))
    h[:, :3] = -los
    h[np.arange(len(los)), 3 + col] = 1.0
    q = np.linalg.inv(h.T @ h)
    lat_deg, lon_deg, _ = ecef_to_geodetic(rx)
    lat, lon = np.radians(float(lat_deg)), np.radians(float(lon_deg))
    r = np.array(
        [
            [-np.sin(lon), np.cos(lon), 0.0],
            [-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)],
            [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)],
        ]
    )
    q_enu = r @ q[:3, :3] @ r.T
    return {
        "gdop": float(np.sqrt(np.trace(q))),
        "pdop": float(np.sqrt(np.trace(q[:3, :3]))),
        "hdop": float(np.sqrt(q_enu[0, 0] + q_enu[1, 1])),
        "vdop": float(np.sqrt(q_enu[2, 2])),
    }
