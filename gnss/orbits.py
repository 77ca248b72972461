"""Satellite position and clock from broadcast Keplerian ephemerides (GPS, Galileo, QZSS, BeiDou).

One vectorised kernel for every satellite of every system at once: rows are ephemerides, each
evaluated at its own time. The algorithm is the interface documents' (IS-GPS-200 20.3.3.4.3,
Galileo OS SIS ICD 5.1.1, IS-QZSS, BDS-SIS-ICD 5.2.4); what differs between systems is only:

- the Earth's gravitational constant and rotation rate of the system's frame (WGS84 for GPS and
  QZSS; GTRF for Galileo; CGCS2000 for BeiDou, whose rotation rate is 7.292115e-5, not WGS84's);
- BeiDou GEO satellites (C01-C05, C59-C63): their orbit is computed in a frame that does not
  rotate with the Earth and then turned by R_Z(omega_e t_k) R_X(-5 deg), since their inclination is
  near zero and the broadcast elements are referred to a plane tilted by 5 degrees.

Times are seconds of week in the satellite's own time scale (GPST; GST = GPST as broadcast; BDT =
GPST - 14 s): the caller converts. The clock returned includes the relativistic correction
(F e sqrt(A) sin E) but no group delay: which TGD/BGD applies depends on the signal, so the
positioning code subtracts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rtcm.ephemeris import KeplerEphemeris

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

C_MPS: Final = 299_792_458.0
HALF_WEEK_S: Final = 302_400.0
# (mu m^3/s^2, omega_e rad/s) per system
FRAME: Final = {
    "G": (3.986005e14, 7.2921151467e-5),
    "J": (3.986005e14, 7.2921151467e-5),
    "E": (3.986004418e14, 7.2921151467e-5),
    "C": (3.986004418e14, 7.292115e-5),
}
BDS_GEO_PRNS: Final = frozenset({1, 2, 3, 4, 5, 59, 60, 61, 62, 63})
_GEO_TILT: Final = np.radians(-5.0)
_KEPLER_ITERATIONS: Final = 12  # Newton on E: e < 0.03 converges to 1e-15 in 4-5 steps


@dataclass(frozen=True)
class KeplerArrays:
    """Ephemerides as a struct of arrays (one row each), in SI units and radians."""

    system: NDArray[np.str_]
    prn: I64
    toe_s: F64
    toc_s: F64
    sqrt_a: F64
    e: F64
    i0_rad: F64
    omega0_rad: F64
    omega_rad: F64
    m0_rad: F64
    delta_n_radps: F64
    omega_dot_radps: F64
    idot_radps: F64
    crs_m: F64
    crc_m: F64
    cus_rad: F64
    cuc_rad: F64
    cis_rad: F64
    cic_rad: F64
    af0_s: F64
    af1_sps: F64
    af2_sps2: F64

    @classmethod
    def from_records(cls, records: Sequence[KeplerEphemeris]) -> KeplerArrays:
        values: dict[str, np.ndarray] = {}
        for f in fields(cls):
            column = [getattr(r, f.name) for r in records]
            if f.name == "system":
                values[f.name] = np.array(column, dtype=np.str_)
            elif f.name == "prn":
                values[f.name] = np.array(column, dtype=np.int64)
            else:
                values[f.name] = np.array(column, dtype=np.float64)
        return cls(**values)

    def __len__(self) -> int:
        return len(self.prn)

    @property
    def is_bds_geo(self) -> NDArray[np.bool_]:
        geo: NDArray[np.bool_] = (self.system == "C") & np.isin(self.prn, list(BDS_GEO_PRNS))
        return geo


def wrap_week(dt_s: F64) -> F64:
    """A time difference brought into [-half week, half week) (crossing a week boundary)."""
    return np.asarray((dt_s + HALF_WEEK_S) % (2 * HALF_WEEK_S) - HALF_WEEK_S, dtype=np.float64)


def eccentric_anomaly(m_rad: F64, e: F64) -> F64:
    """Kepler's equation M = E - e sin E, by Newton's method (vectorised)."""
    big_e = np.array(m_rad, dtype=np.float64, copy=True)
    for _ in range(_KEPLER_ITERATIONS):
        big_e -= (big_e - e * np.sin(big_e) - m_rad) / (1.0 - e * np.cos(big_e))
    return big_e


def satellite_state(eph: KeplerArrays, t_s: F64) -> tuple[F64, F64]:
    """ECEF positions (n, 3) in metres of each row's satellite at its time ``t_s`` (n,), and its
    clock offset in seconds (relativistic term included, group delay not)."""
    t = np.asarray(t_s, dtype=np.float64)
    mu = np.array([FRAME[s][0] for s in eph.system])
    we = np.array([FRAME[s][1] for s in eph.system])
    a = eph.sqrt_a**2
    tk = wrap_week(t - eph.toe_s)
    n = np.sqrt(mu / a**3) + eph.delta_n_radps
    big_e = eccentric_anomaly(eph.m0_rad + n * tk, eph.e)
    sin_e, cos_e = np.sin(big_e), np.cos(big_e)
    v = np.arctan2(np.sqrt(1.0 - eph.e**2) * sin_e, cos_e - eph.e)
    phi = v + eph.omega_rad
    sin2, cos2 = np.sin(2 * phi), np.cos(2 * phi)
    u = phi + eph.cus_rad * sin2 + eph.cuc_rad * cos2
    r = a * (1.0 - eph.e * cos_e) + eph.crs_m * sin2 + eph.crc_m * cos2
    i = eph.i0_rad + eph.idot_radps * tk + eph.cis_rad * sin2 + eph.cic_rad * cos2
    x_orb, y_orb = r * np.cos(u), r * np.sin(u)

    geo = eph.is_bds_geo
    # GEO: the node in an inertial-like frame (no -omega_e t_k); the rest: in ECEF directly
    node = eph.omega0_rad + (eph.omega_dot_radps - np.where(geo, 0.0, we)) * tk - we * eph.toe_s
    cos_n, sin_n, cos_i = np.cos(node), np.sin(node), np.cos(i)
    pos = np.stack(
        [x_orb * cos_n - y_orb * cos_i * sin_n, x_orb * sin_n + y_orb * cos_i * cos_n, y_orb * np.sin(i)],
        axis=1,
    )
    if geo.any():
        pos[geo] = _geo_to_ecef(pos[geo], we[geo] * tk[geo])

    f = -2.0 * np.sqrt(mu) / C_MPS**2
    dt = wrap_week(t - eph.toc_s)
    clock = eph.af0_s + eph.af1_sps * dt + eph.af2_sps2 * dt**2 + f * eph.e * eph.sqrt_a * sin_e
    return pos, clock


def _geo_to_ecef(xyz: F64, angle: F64) -> F64:
    """R_Z(angle) R_X(-5 deg) applied row by row (BDS-SIS-ICD's GEO transformation)."""
    c5, s5 = np.cos(_GEO_TILT), np.sin(_GEO_TILT)
    x = xyz[:, 0]
    y = c5 * xyz[:, 1] + s5 * xyz[:, 2]
    z = -s5 * xyz[:, 1] + c5 * xyz[:, 2]
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([ca * x + sa * y, -sa * x + ca * y, z], axis=1)


def earth_rotation(pos: F64, travel_s: F64, omega_e: F64 | float = FRAME["G"][1]) -> F64:
    """Satellite positions at transmission expressed in the ECEF frame of reception (Sagnac):
    the Earth turned by omega_e * travel time meanwhile."""
    angle = np.asarray(omega_e) * np.asarray(travel_s)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([ca * pos[:, 0] + sa * pos[:, 1], -sa * pos[:, 0] + ca * pos[:, 1], pos[:, 2]], axis=1)


def clock_polynomial(eph: KeplerArrays, t_s: F64) -> F64:
    """The broadcast clock polynomial alone (no relativistic term: that needs the orbit)."""
    dt = wrap_week(np.asarray(t_s, dtype=np.float64) - eph.toc_s)
    out: F64 = eph.af0_s + eph.af1_sps * dt + eph.af2_sps2 * dt**2
    return out


def transmit_states(eph: KeplerArrays, t_rx_s: F64, pr_m: F64) -> tuple[F64, F64]:
    """Satellite positions (ECEF at transmission, not yet rotated to the reception frame) and
    clocks for pseudoranges ``pr_m`` received at ``t_rx_s``. As RTKLIB's ``satposs``: the
    transmission time is reception minus flight time minus the clock polynomial (evaluated twice,
    which settles it), then one orbit evaluation there; the relativistic term it then adds to
    the clock (<= 45 ns) would move the satellite by 0.2 mm, and is left out of the time."""
    t_tx = np.asarray(t_rx_s, dtype=np.float64) - np.asarray(pr_m) / C_MPS
    dts = clock_polynomial(eph, t_tx)
    dts = clock_polynomial(eph, t_tx - dts)
    return satellite_state(eph, t_tx - dts)
