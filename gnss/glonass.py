"""GLONASS satellite position, velocity and clock from broadcast ephemerides (FDMA signals).

GLONASS does not broadcast Keplerian elements but the satellite's state at a reference time
``toe``: position, velocity and the luni-solar acceleration, in PZ-90 (ECEF). The state at another
time comes from integrating the equations of motion of the GLONASS ICD (edition 5.1, A.3.1.2):
central gravity with the J2 term, the Coriolis and centrifugal terms of the rotating frame, and
the broadcast acceleration held constant. We integrate as RTKLIB's ``geph2pos``/``glorbit`` does,
with fourth-order Runge-Kutta in steps of 60 s and its constants, so both engines place the
satellites within a millimetre of each other: a different step or integrator moves them by more
than that, a difference the comparisons with RTKLIB would then have to explain.

The broadcast is valid for +-15 min around ``toe`` (records come every 30 min), so at most 15-30
steps: the kernel runs all satellites at once, each with its own time offset; a row whose
offset is exhausted takes zero-length steps, which leave its state exactly unchanged.

Clock: satellite time minus GLONASS time is ``-TauN + GammaN (t - toe)`` (the relativistic
correction is already in TauN/GammaN), referred to GLONASS time, i.e. UTC(SU) + 3 h: the receiver's
clock for GLONASS therefore absorbs the GPST-GLONASST offset (leap seconds, 3 h and the
sub-microsecond remainder), which is why positioning gives GLONASS a clock of its own.

Times: RINEX writes ``toe`` in UTC; :func:`gnss.rtk.broadcast` converts it to GPST, and here
every time is GPST seconds on one common origin (only differences with ``toe`` matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

C_MPS: Final = 299_792_458.0
# PZ-90 constants of the GLONASS ICD (edition 5.1, 3.1.1), as RTKLIB's ephemeris.c has them
RE_GLO_M: Final = 6_378_136.0
MU_GLO: Final = 3.9860044e14  # m^3/s^2
J2_GLO: Final = 1.0826257e-3
OMEGA_E_GLO: Final = 7.292115e-5  # rad/s
STEP_S: Final = 60.0  # RTKLIB's TSTEP
ERR_EPH_M: Final = 5.0  # RTKLIB's ERREPH_GLO: the broadcast orbit's error, one sigma
# FDMA carriers: channel k transmits at f0 + k df (ICD 3.3.1.4)
G1_HZ: Final = 1602.0e6
G1_STEP_HZ: Final = 0.5625e6
G2_HZ: Final = 1246.0e6
G2_STEP_HZ: Final = 0.4375e6


@dataclass(frozen=True, slots=True, eq=False)
class GlonassArrays:
    """Broadcast GLONASS records as a struct of arrays (one row each), SI units, PZ-90."""

    prn: I64
    toe_s: F64  # reference time, GPST seconds (any origin shared with the evaluation times)
    pos_m: F64  # (n, 3) at toe
    vel_m_s: F64  # (n, 3)
    acc_m_s2: F64  # (n, 3) luni-solar acceleration, held constant
    tau_n_s: F64  # TauN: satellite clock minus GLONASS time at toe is -TauN
    gamma_n: F64  # GammaN: relative frequency offset
    freq_num: I64  # FDMA channel k, -7..+6

    def __len__(self) -> int:
        return len(self.prn)

    def take(self, rows: NDArray[np.intp]) -> GlonassArrays:
        return GlonassArrays(
            self.prn[rows], self.toe_s[rows], self.pos_m[rows], self.vel_m_s[rows],
            self.acc_m_s2[rows], self.tau_n_s[rows], self.gamma_n[rows], self.freq_num[rows],
        )  # fmt: skip


def carrier_hz(freq_num: I64 | int, band: int) -> F64:
    """FDMA carrier frequency of channel ``freq_num`` on G1 (``band`` 1) or G2 (``band`` 2)."""
    f0, step = {1: (G1_HZ, G1_STEP_HZ), 2: (G2_HZ, G2_STEP_HZ)}[band]
    return np.asarray(f0 + np.asarray(freq_num, dtype=np.float64) * step, dtype=np.float64)


def _derivatives(state: F64, acc: F64) -> F64:
    """d/dt of ``(n, 6)`` states [x, y, z, vx, vy, vz] in the rotating PZ-90 frame (ICD A.3.1.2:
    gravity with J2, then the centrifugal and Coriolis terms; written as RTKLIB's ``deq``)."""
    r = state[:, :3]
    v = state[:, 3:]
    r2 = np.einsum("ij,ij->i", r, r)
    r3 = r2 * np.sqrt(r2)
    a = 1.5 * J2_GLO * MU_GLO * RE_GLO_M**2 / r2 / r3  # 3/2 J2 mu Ae^2 / r^5
    b = 5.0 * r[:, 2] ** 2 / r2  # 5 z^2 / r^2
    c = -MU_GLO / r3 - a * (1.0 - b)
    w2 = OMEGA_E_GLO**2
    out = np.empty_like(state)
    out[:, :3] = v
    out[:, 3] = (c + w2) * r[:, 0] + 2.0 * OMEGA_E_GLO * v[:, 1] + acc[:, 0]
    out[:, 4] = (c + w2) * r[:, 1] - 2.0 * OMEGA_E_GLO * v[:, 0] + acc[:, 1]
    out[:, 5] = (c - 2.0 * a) * r[:, 2] + acc[:, 2]
    return out


def _rk4(state: F64, h: F64, acc: F64) -> F64:
    """One Runge-Kutta step of length ``h`` (n,) per row (RTKLIB's ``glorbit``)."""
    hc = h[:, None]
    k1 = _derivatives(state, acc)
    k2 = _derivatives(state + k1 * hc / 2.0, acc)
    k3 = _derivatives(state + k2 * hc / 2.0, acc)
    k4 = _derivatives(state + k3 * hc, acc)
    return np.asarray(state + (k1 + 2.0 * k2 + 2.0 * k3 + k4) * hc / 6.0, dtype=np.float64)


def glonass_state(eph: GlonassArrays, t_s: F64) -> tuple[F64, F64, F64]:
    """Positions (n, 3), velocities (n, 3) in PZ-90 and clock offsets (n,) of each row's satellite
    at its time ``t_s`` (GPST seconds, same origin as ``eph.toe_s``).

    Steps of 60 s towards ``t_s``, the last one shorter (RTKLIB's loop, so the step sequence and
    thus the integration error are the same as RTKLIB's)."""
    dt = np.asarray(t_s, dtype=np.float64) - eph.toe_s
    state = np.concatenate([eph.pos_m, eph.vel_m_s], axis=1)
    remaining = dt.copy()
    sign = np.where(dt < 0.0, -1.0, 1.0)
    n_steps = int(np.ceil(np.max(np.abs(dt), initial=0.0) / STEP_S))
    for _ in range(n_steps):
        h = np.where(np.abs(remaining) > 1e-9, sign * np.minimum(np.abs(remaining), STEP_S), 0.0)
        state = _rk4(state, h, eph.acc_m_s2)
        remaining = remaining - h
    clock = -eph.tau_n_s + eph.gamma_n * dt
    return state[:, :3], state[:, 3:], np.asarray(clock, dtype=np.float64)


def clock_offset(eph: GlonassArrays, t_s: F64) -> F64:
    """Satellite clock offset at satellite time ``t_s``: the time argument is corrected by the
    offset itself (two fixed-point passes, RTKLIB's ``geph2clk``), as a pseudorange's transmission
    time is read on the satellite's clock."""
    t = np.asarray(t_s, dtype=np.float64) - eph.toe_s
    for _ in range(2):
        t = t - (-eph.tau_n_s + eph.gamma_n * t)
    return np.asarray(-eph.tau_n_s + eph.gamma_n * t, dtype=np.float64)


def transmit_states(eph: GlonassArrays, t_rx_s: F64, pr_m: F64) -> tuple[F64, F64]:
    """Satellite positions (PZ-90 at transmission, not yet rotated to the reception frame) and
    clocks for pseudoranges ``pr_m`` received at ``t_rx_s`` (GPST): transmission time by the
    satellite's clock is reception minus flight time, then its clock offset removed (RTKLIB's
    ``satposs``)."""
    t_tx = np.asarray(t_rx_s, dtype=np.float64) - np.asarray(pr_m, dtype=np.float64) / C_MPS
    t_tx = t_tx - clock_offset(eph, t_tx)
    pos, _, clock = glonass_state(eph, t_tx)
    return pos, clock
