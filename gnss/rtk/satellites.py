"""Satellite positions and clocks at transmission for one receiver epoch, and the rover's
single-point solution that seeds the RTK filter.

Each receiver gets its own satellite states (computed from its own pseudoranges): over a 5 km
baseline the transmission times differ by microseconds, and RTKLIB does the same, so nothing is
assumed equal that is not.

GLONASS satellites come from their state-vector ephemerides (:mod:`gnss.glonass`) and are
weighted as RTKLIB's ``pntpos`` weights them: their error model is 1.5 times GPS's (``EFACT_GLO``)
and their broadcast orbit carries 5 m of its own (``ERREPH_GLO``), where the other systems'
orbit and clock errors are left out of the weights (RTKLIB adds their URA; ours leaves them to
RAIM). Their receiver clock is a separate unknown like every system's but QZSS's, which shares
GPS's as in RTKLIB's ``pntpos``: QZSST is GPST and QZSS's L1 C/A is GPS's signal on GPS's carrier,
so there is no inter-system bias to estimate, and a clock of its own would spend the two or three
QZSS satellites on it instead of on the position (on the MatRTKLIB set, 0.5 m of horizontal error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss import glonass
from gnss.atmosphere import bds_klobuchar_m, klobuchar_m
from gnss.geodesy import ecef_to_geodetic
from gnss.orbits import C_MPS, transmit_states
from gnss.rtk.broadcast import BDT_GPST_S, WEEK_S, BroadcastNav
from gnss.spp import ERR_A_M, ERR_B_M, SppSolution, az_el, geometry, solve

F64 = NDArray[np.float64]
L1_HZ: Final = 1575.42e6
B1I_HZ: Final = 1561.098e6
IONO_MODEL_ERR: Final = 0.5
TROPO_MODEL_ERR_M: Final = 0.3
CODE_BIAS_ERR_M: Final = 0.3
EFACT_GLONASS: Final = 1.5  # RTKLIB's EFACT_GLO: GLONASS code error relative to GPS's


@dataclass(frozen=True, slots=True, eq=False)
class SatStates:
    pos_m: F64  # (n, 3) ECEF at transmission (frame of transmission; geometry() adds Sagnac)
    clock_s: F64  # (n,)
    tgd_s: F64  # (n,) group delay of the first frequency
    valid: NDArray[np.bool_]


def sat_states(nav: BroadcastNav, sats: NDArray[np.str_], t_gpst_s: float, pr_m: F64) -> SatStates:
    """States of ``sats`` for pseudoranges ``pr_m`` (NaN: not observed -> invalid) at ``t_gpst_s``."""
    sel = nav.select(sats, t_gpst_s)
    systems = sats.astype("<U1")
    t_sys = (t_gpst_s - np.where(systems == "C", BDT_GPST_S, 0.0)) % WEEK_S
    ok = sel.valid & np.isfinite(pr_m)
    pr = np.where(ok, pr_m, 2.2e7)
    pos, clk = np.zeros((len(sats), 3)), np.zeros(len(sats))
    if len(sel.eph) == len(sats) and len(sats):
        pos, clk = transmit_states(sel.eph, t_sys, pr)
    g = sel.glonass_rows
    if g.size:
        pos[g], clk[g] = glonass.transmit_states(sel.glonass, np.full(g.size, t_gpst_s), pr[g])
    return SatStates(pos, clk, sel.tgd_s, ok & np.all(np.isfinite(pos), axis=1))


def single_point(
    nav: BroadcastNav,
    sats: NDArray[np.str_],
    states: SatStates,
    pr1_m: F64,
    wavelength1_m: F64,
    t_gpst_s: float,
    elmask_deg: float,
    prior_ecef_m: F64 | None = None,
    bds_iono: bool = True,
) -> SppSolution:
    """First-frequency SPP with the broadcast group delay and Klobuchar ionosphere (scaled to
    each signal's frequency), as RTKLIB's ``pntpos`` with ``ionoopt=brdc``. With a prior (the
    previous epoch's position) the ionosphere is evaluated there and one solve suffices; without,
    a first solve without ionosphere provides the point to evaluate it at. With ``bds_iono``,
    BeiDou satellites take BeiDou's own broadcast model when the navigation data carry it
    (RTKLIB applies GPS's to every system)."""
    systems = sats.astype("<U1")
    clocks = np.where(systems == "J", "G", systems)  # one receiver clock per system, QZSS's is GPS's
    pr = np.where(states.valid, pr1_m - C_MPS * states.tgd_s, np.nan)
    if prior_ecef_m is None:
        first = solve(states.pos_m, states.clock_s, pr, clocks, elev_mask_deg=elmask_deg, raim=False)
        prior_ecef_m = first.ecef_m
    _, los = geometry(prior_ecef_m, states.pos_m)
    az, el = az_el(prior_ecef_m, los)
    lat, lon, _ = ecef_to_geodetic(prior_ecef_m)
    iono_l1 = klobuchar_m(
        nav.iono_alpha,
        nav.iono_beta,
        np.radians(float(lat)),
        np.radians(float(lon)),
        az,
        el,
        t_gpst_s % 86400.0,
    )
    freq = C_MPS / np.where(np.isfinite(wavelength1_m), wavelength1_m, C_MPS / L1_HZ)
    iono = iono_l1 * (freq / L1_HZ) ** -2
    bds = systems == "C"
    if bds_iono and nav.bds_iono is not None and bds.any():
        b1i = bds_klobuchar_m(
            *nav.bds_iono,
            np.radians(float(lat)),
            np.radians(float(lon)),
            az[bds],
            el[bds],
            (t_gpst_s - BDT_GPST_S) % 86400.0,
        )
        iono[bds] = b1i * (freq[bds] / B1I_HZ) ** -2
    sin_el = np.maximum(np.sin(el), 0.1)
    # RTKLIB's budget: broadcast ionosphere 50 % of itself, Saastamoinen 0.3 m at zenith, 0.3 m code bias
    extra = (IONO_MODEL_ERR * iono) ** 2 + (TROPO_MODEL_ERR_M / (sin_el + 0.1)) ** 2 + CODE_BIAS_ERR_M**2
    glo = systems == "R"
    if glo.any():  # see the module doc: (1.5^2 - 1) x the code model, plus the orbit's 5 m
        code_var = ERR_A_M**2 + ERR_B_M**2 / np.maximum(np.sin(el), 0.1) ** 2
        extra = extra + np.where(glo, (EFACT_GLONASS**2 - 1.0) * code_var + glonass.ERR_EPH_M**2, 0.0)
    return solve(
        states.pos_m,
        states.clock_s,
        pr,
        clocks,
        elev_mask_deg=elmask_deg,
        iono_m=iono,
        x0=prior_ecef_m,
        extra_var_m2=extra,
    )
