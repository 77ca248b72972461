"""Constant-velocity Kalman filter and RTS smoother for many receivers at once, in local ENU.

Why a filter at all: raw fixes of a parked or slowly moving car scatter by their noise (2-3 m for
an autonomous fix, centimetres for RTK fixed), and an occasional multipath fix jumps by tens of
metres. The filter averages the noise, estimates velocity, rejects the jumps by an innovation
gate, and carries a covariance that the fix-to-space placement (``gnss.placement``) integrates.

State per receiver ``x = [e, n, u, ve, vn, vu]`` (metres, metres per second) in that receiver's
own ENU frame, whose origin is its first fix (and moves to the new fix on re-initialisation), so
the numbers stay small and "up" stays local. Positions enter and leave as lat/lon/h.

Model: white-noise acceleration (the continuous "nearly constant velocity" model, Bar-Shalom,
Li & Kirubarajan, *Estimation with Applications to Tracking and Navigation*, 6.2.2) with
spectral density ``q`` (m^2/s^3) per axis, giving per axis over a step ``dt``::

    F = [[1, dt], [0, 1]]        Q = q * [[dt^3/3, dt^2/2], [dt^2/2, dt]]

The default horizontal ``q = 1.0 m^2/s^3`` lets the velocity wander by ~1 m/s per sqrt(s), the
size of a car's braking, accelerating and turning in a car park or city street (accelerations of
1-3 m/s^2 lasting a second or two); vertical ``q = 0.1`` because roads and ramps climb slowly.

Why the kernels work per axis: F and Q act on each axis separately, H picks the positions, and
the measurement noise is diagonal in E/N/U (we get one sigma per axis, from GST or the fix
quality). A covariance that starts block-diagonal per axis - every (re)initialisation does - so
stays block-diagonal exactly, and the 6-state filter *is* three 2-state filters. The kernels
below therefore update the nine non-zero covariance entries (``pp``, ``pv``, ``vv`` per axis)
element-wise over the whole batch: the same numbers as the 6x6 matrix equations (the tests check
them against filterpy's ``KalmanFilter``), ~10x faster than stacked 6x6 matmuls, which matters
at 10,000 receivers. Outputs assemble the full ``(k, 6, 6)`` covariance on access.

There is no Python loop over receivers anywhere; the covariance update is the Joseph form; an
innovation is gated by a chi-square test on its normalised innovation squared (3 dof).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2  # type: ignore[import-untyped, unused-ignore]

from gnss.geodesy import FloatArray, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from gnss.quality import FixQuality

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

STATE_DIM: Final = 6
MEAS_DIM: Final = 3
POS: Final = slice(0, 3)  # e, n, u (m)
VEL: Final = slice(3, 6)  # ve, vn, vu (m/s)
_AXES: Final = np.arange(3)
_PP: Final = slice(6, 9)  # rows of TrackSmoother.state holding the per-axis covariances
_PV: Final = slice(9, 12)
_VV: Final = slice(12, 15)
_STATE_ROWS: Final = 15

# One-sigma horizontal position error (m) at HDOP = 1 by GGA fix quality. Typical receiver
# performance: RTK fixed ~2 cm, RTK float a few decimetres, DGNSS/SBAS under a metre, an
# autonomous single-frequency fix 2-3 m; dead reckoning drifts, so it is trusted least.
# 0 (invalid), 7 (manual input) and 8 (simulator) are not measurements of the vehicle: NaN.
GGA_QUALITY_SIGMA_M: Final[Mapping[FixQuality, float]] = MappingProxyType(
    {
        FixQuality.SINGLE: 2.5,  # autonomous GNSS
        FixQuality.DGNSS: 0.7,  # DGNSS / SBAS
        FixQuality.PPS: 2.5,  # PPS mode: a standard fix
        FixQuality.RTK_FIXED: 0.02,
        FixQuality.RTK_FLOAT: 0.3,
        FixQuality.ESTIMATED: 10.0,  # dead reckoning
    }
)
VERTICAL_SIGMA_FACTOR: Final = 2.0  # satellites are all above the antenna: VDOP ~ 1.5-2 x HDOP
MIN_HDOP: Final = 0.5  # below this HDOP the table's sigmas would be optimistic; clip
MIN_SIGMA_M: Final = 0.005  # a floor so that R never becomes singular on a too-proud receiver


class FixStatus(IntEnum):
    """What the filter did with one fix."""

    ACCEPTED = 0  # passed the gate, state updated
    INITIALISED = 1  # first fix, or re-initialisation after a long gap / a run of rejections
    REJECTED = 2  # failed the innovation gate: counted, state only predicted to this time
    IGNORED = 3  # no usable measurement (NaN sigma or position) or a timestamp older than the state


def measurement_sigma(
    quality: ArrayLike, hdop: ArrayLike | None = None, gst_sigma: ArrayLike | None = None
) -> FloatArray:
    """One-sigma E/N/U measurement noise ``(k, 3)`` in metres for ``k`` fixes.

    ``gst_sigma`` is ``(k, 3)`` in GST's own order - latitude, longitude, altitude error sigma
    (m), i.e. N, E, U; the output is reordered to E/N/U - and is used where all three are finite
    and positive: the receiver's own error estimate beats a table.
    Elsewhere the GGA fix quality gives the horizontal sigma at HDOP 1 (see
    ``GGA_QUALITY_SIGMA_M``), scaled by HDOP (missing/NaN HDOP counts as 1, values below
    ``MIN_HDOP`` are clipped) and by ``VERTICAL_SIGMA_FACTOR`` for height. Quality 0 (no fix) and
    unknown qualities give NaN rows, which ``TrackSmoother.update`` ignores.
    """
    q = np.atleast_1d(np.asarray(quality, dtype=np.int64))
    k = q.shape[0]
    base = np.full(k, np.nan)
    for code, sigma in GGA_QUALITY_SIGMA_M.items():
        base[q == code] = sigma
    if hdop is None:
        dop = np.ones(k)
    else:
        dop = np.broadcast_to(np.asarray(hdop, dtype=np.float64), (k,)).copy()
        dop[~np.isfinite(dop)] = 1.0
        dop = np.maximum(dop, MIN_HDOP)
    horizontal = base * dop
    out = np.stack([horizontal, horizontal, VERTICAL_SIGMA_FACTOR * horizontal], axis=-1)
    if gst_sigma is not None:
        gst = np.asarray(gst_sigma, dtype=np.float64).reshape(k, 3)
        usable = np.all(np.isfinite(gst) & (gst > 0.0), axis=1) & np.isfinite(base)
        out[usable] = gst[usable][:, [1, 0, 2]]  # (lat, lon, alt) = (N, E, U) -> E, N, U
    return np.where(np.isfinite(out), np.maximum(out, MIN_SIGMA_M), np.nan)


# -- pure per-axis kernels ---------------------------------------------------------------------
# Arrays are axis-first, (3, k): row 0/1/2 is axis E/N/U, so each row is contiguous over the
# batch. ``pp``, ``pv``, ``vv`` are the position variance, position-velocity covariance and
# velocity variance of each axis.

AxisCov = tuple[FloatArray, FloatArray, FloatArray]


def predict(
    pos: FloatArray, vel: FloatArray, cov: AxisCov, dt_s: FloatArray, q: FloatArray
) -> tuple[FloatArray, AxisCov]:
    """``x' = F x``, ``P' = F P F^T + Q`` per axis; ``dt_s`` ``(k,)``, ``q`` ``(3,)`` m^2/s^3.

    The velocity is unchanged by a constant-velocity prediction, so only the position returns.
    """
    pp, pv, vv = cov
    dt = dt_s[None, :]
    qdt = q[:, None] * dt
    pos_pred = pos + dt * vel
    vv_pred = vv + qdt
    pv_pred = pv + dt * (vv + 0.5 * qdt)
    pp_pred = pp + dt * (2.0 * pv + dt * (vv + qdt / 3.0))
    return pos_pred, (pp_pred, pv_pred, vv_pred)


def innovation(
    pos: FloatArray, cov: AxisCov, z: FloatArray, r: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Innovation ``v = z - H x``, its variance ``S = H P H^T + R`` (diagonal) and ``nis``.

    ``r`` holds the measurement variances (3, k). ``nis`` ``(k,)`` is the normalised innovation
    squared ``v^T S^-1 v`` over the three axes: chi-square with 3 dof when the model holds.
    """
    nu = z - pos
    s = cov[0] + r
    nis = np.sum(nu * nu / s, axis=0)
    return nu, s, nis


def update(
    pos: FloatArray,
    vel: FloatArray,
    cov: AxisCov,
    nu: FloatArray,
    s: FloatArray,
    r: FloatArray,
    apply: BoolArray | None = None,
) -> tuple[FloatArray, FloatArray, AxisCov]:
    """Position update (``H = [1 0]`` per axis) in Joseph form; returns ``(pos, vel, cov)``.

    ``apply`` ``(k,)`` selects the rows to update; for the others the gain is zero, which leaves
    state and covariance exactly as they were (no masking pass needed). Joseph form, written
    out for ``K = [kp, kv]^T`` and ``A = I - K H = [[1-kp, 0], [-kv, 1]]``::

        P+ = A P A^T + K r K^T
    """
    pp, pv, vv = cov
    kp = pp / s
    kv = pv / s
    if apply is not None:
        kp *= apply
        kv *= apply
    one_kp = 1.0 - kp
    pp_new = one_kp * one_kp * pp + kp * kp * r
    pv_new = one_kp * (pv - kv * pp) + kp * kv * r
    vv_new = vv - 2.0 * kv * pv + kv * kv * (pp + r)
    return pos + kp * nu, vel + kv * nu, (pp_new, pv_new, vv_new)


def full_covariance(cov: AxisCov) -> FloatArray:
    """Assemble ``(k, 6, 6)`` state covariances (order e, n, u, ve, vn, vu) from axis-first parts."""
    pp, pv, vv = cov
    p = np.zeros((pp.shape[1], STATE_DIM * STATE_DIM))
    # Flat offsets in a row-major 6x6: (i, i) = 7i, (i, i+3) = 7i + 3, (i+3, i) = 7i + 18.
    p[:, 0:15:7] = pp.T
    p[:, 21:36:7] = vv.T
    p[:, 3:18:7] = pv.T
    p[:, 18:33:7] = pv.T
    return p.reshape(-1, STATE_DIM, STATE_DIM)


def transition(dt_s: FloatArray) -> FloatArray:
    """Constant-velocity transition matrices ``(k, 6, 6)`` for steps ``dt_s`` ``(k,)``."""
    f = np.zeros((dt_s.shape[0], STATE_DIM, STATE_DIM))
    diag = np.arange(STATE_DIM)
    f[:, diag, diag] = 1.0
    f[:, _AXES, _AXES + 3] = dt_s[:, None]
    return f


def process_noise(dt_s: FloatArray, q_h: float, q_v: float) -> FloatArray:
    """White-acceleration process noise ``(k, 6, 6)``; ``q_h``/``q_v`` in m^2/s^3."""
    q_axis = np.array([q_h, q_h, q_v])[:, None]
    dt = dt_s[None, :]
    return full_covariance((q_axis * dt**3 / 3.0, q_axis * dt**2 / 2.0, q_axis * dt))


@dataclass(frozen=True, slots=True)
class SmoothedFix:
    """Filter output for ``k`` fixes (one row per input row, in input order).

    ``enu``/``velocity`` ``(k, 3)`` are in the receiver's ENU frame (m, m/s). The covariance is
    kept as its per-axis non-zero entries ``cov_axes`` ``(9, k)`` (rows: pp E/N/U, pv E/N/U,
    vv E/N/U) and ``covariance`` assembles the full ``(k, 6, 6)`` on access, so a caller that
    only wants positions does not pay for 36 numbers per fix. ``rejected_count`` is the
    receiver's running total of gated-out fixes after this call; ``nis`` is NaN where no gate
    test was made. Rows of receivers that have no state yet are NaN.
    """

    index: IntArray
    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    h: FloatArray
    enu: FloatArray
    velocity: FloatArray
    cov_axes: FloatArray
    status: NDArray[np.int8]
    nis: FloatArray
    rejected_count: IntArray

    @property
    def covariance(self) -> FloatArray:
        """Full state covariance ``(k, 6, 6)``, order e, n, u, ve, vn, vu."""
        c = self.cov_axes
        return full_covariance((c[0:3], c[3:6], c[6:9]))

    @property
    def position_cov(self) -> FloatArray:
        """``(k, 3, 3)`` E/N/U position covariance (m^2)."""
        return self.covariance[:, POS, POS]

    @property
    def velocity_cov(self) -> FloatArray:
        """``(k, 3, 3)`` velocity covariance ((m/s)^2)."""
        return self.covariance[:, VEL, VEL]

    @property
    def accepted(self) -> BoolArray:
        """Rows whose fix went into the state (updated or (re)initialised)."""
        out: BoolArray = (self.status == FixStatus.ACCEPTED) | (self.status == FixStatus.INITIALISED)
        return out

    @property
    def rejected(self) -> BoolArray:
        out: BoolArray = self.status == FixStatus.REJECTED
        return out


@dataclass(frozen=True, slots=True)
class _Step:
    """What one batched step did; the RTS smoother keeps these. Arrays are component-major."""

    state_pred: FloatArray  # (15, k) predicted state rows (see TrackSmoother.state)
    dt: FloatArray  # (k,) prediction step actually applied (0 for stale rows)
    state: FloatArray  # (15, k) after the step
    status: NDArray[np.int8]
    frame: FloatArray  # (12, k) origin ECEF | rotation
    valid: BoolArray  # the receiver has a state after this step
    nis: FloatArray


class TrackSmoother:
    """Online CV Kalman filter over ``capacity`` receivers, indexed ``0 .. capacity-1``.

    ``update(index, t, lat, lon, h, sigma)`` takes ``k`` fixes for ``k`` distinct receivers (an
    index may appear at most once per call - a second fix for the same receiver belongs in the
    next call - and this is validated) and returns a :class:`SmoothedFix`.

    Parameters (SI units):
        accel_psd_h, accel_psd_v: white-acceleration spectral density (m^2/s^3), see module doc.
        gate_probability: chi-square (3 dof) probability of the innovation gate; 0.9999 rejects a
            consistent fix once in 10,000 and an outlier beyond ~4.5 sigma.
        max_gap_s: a fix arriving longer than this after the receiver's last accepted fix
            re-initialises it (the car may have been driven elsewhere while off).
        max_consecutive_rejects: after this many gated-out fixes in a row, the next fix that
            fails the gate re-initialises the receiver instead, so a receiver that truly jumped
            (a bad prior, a ferry, a relocated device) is not locked out forever.
        initial_velocity_sigma: one-sigma speed per axis (m/s) assumed at (re)initialisation.

    State lives in component-major arrays: ``state`` ``(15, N)`` = the state vector (``x`` gives
    it as ``(N, 6)``) and the per-axis covariance entries (:meth:`covariance` gives ``(N, 6, 6)``),
    ``frame`` ``(12, N)`` = ENU origin in ECEF and the ECEF->ENU rotation; times and counters.
    """

    def __init__(
        self,
        capacity: int,
        *,
        accel_psd_h: float = 1.0,
        accel_psd_v: float = 0.1,
        gate_probability: float = 0.9999,
        max_gap_s: float = 30.0,
        max_consecutive_rejects: int = 5,
        initial_velocity_sigma: float = 10.0,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        if not 0.0 < gate_probability < 1.0:
            raise ValueError("gate_probability must be in (0, 1)")
        self.capacity = capacity
        self.q = np.array([accel_psd_h, accel_psd_h, accel_psd_v], dtype=np.float64)
        self.gate = float(chi2.ppf(gate_probability, MEAS_DIM))
        self.max_gap_s = max_gap_s
        self.max_consecutive_rejects = max_consecutive_rejects
        self.initial_velocity_sigma = initial_velocity_sigma
        # Component-major, so one gather and one scatter per call move everything and each
        # component is contiguous over the batch: state rows = x (6) | pp (3) | pv (3) | vv (3);
        # frame rows = ENU origin in ECEF (3) | ECEF->ENU rotation, row-major (9). Receivers
        # without a state hold zeros (no NaN, so no masking); ``initialised`` is the truth.
        self.state = np.zeros((_STATE_ROWS, capacity))
        self.frame = np.zeros((12, capacity))
        self.t_state = np.full(capacity, -np.inf)
        self.t_accepted = np.full(capacity, -np.inf)
        self.initialised = np.zeros(capacity, dtype=bool)
        self.rejected_count = np.zeros(capacity, dtype=np.int64)
        self.reject_streak = np.zeros(capacity, dtype=np.int64)
        self._seen = np.full(capacity, -1, dtype=np.int64)  # scratch for the duplicate check

    @property
    def x(self) -> FloatArray:
        """State ``(N, 6)`` of every receiver (zeros where not initialised), a view."""
        return self.state[:STATE_DIM].T

    def covariance(self, index: ArrayLike) -> FloatArray:
        """Current ``(k, 6, 6)`` state covariance of the given receivers."""
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        st = self.state[:, idx]
        return full_covariance((st[_PP], st[_PV], st[_VV]))

    def reset(self, index: ArrayLike) -> None:
        """Forget receivers (e.g. a device re-assigned to another vehicle)."""
        idx = np.asarray(index, dtype=np.int64)
        self.initialised[idx] = False
        self.state[:, idx] = 0.0
        self.t_state[idx] = -np.inf
        self.t_accepted[idx] = -np.inf
        self.rejected_count[idx] = 0
        self.reject_streak[idx] = 0

    def update(
        self,
        index: ArrayLike,
        t: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        h: ArrayLike,
        sigma: ArrayLike,
    ) -> SmoothedFix:
        """Filter one fix for each of ``k`` distinct receivers; ``sigma`` is ``(k, 3)`` E/N/U (m).

        ``t`` is in seconds on any common monotonic scale (scalar or ``(k,)``). A fix older than
        the receiver's state, or with a NaN/non-positive position or sigma, is IGNORED (the state
        is still predicted to ``t`` when ``t`` is newer).
        """
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        step = self._step(idx, t, lat, lon, h, sigma)
        st, valid = step.state, step.valid
        if not valid.all():
            st = np.where(valid, st, np.nan)
        lat_s, lon_s, h_s = _to_geodetic(st[POS], step.frame)
        return SmoothedFix(
            index=idx,
            t=np.broadcast_to(np.asarray(t, dtype=np.float64), idx.shape).copy(),
            lat=lat_s,
            lon=lon_s,
            h=h_s,
            enu=st[POS].T,
            velocity=st[VEL].T,
            cov_axes=st[_PP.start :],
            status=step.status,
            nis=step.nis,
            rejected_count=self.rejected_count[idx],
        )

    # -- internals -------------------------------------------------------------------------------

    def _validate(self, idx: IntArray) -> None:
        if idx.ndim != 1:
            raise ValueError("index must be one-dimensional")
        if idx.size == 0:
            return
        if idx.min() < 0 or idx.max() >= self.capacity:
            raise IndexError(f"receiver index out of range 0..{self.capacity - 1}")
        # O(k) duplicate check: with a repeated index the later write wins, so an earlier row
        # does not read back its own position.
        order = np.arange(idx.size)
        self._seen[idx] = order
        if np.any(self._seen[idx] != order):
            raise ValueError("a receiver index may appear at most once per update() call")

    def _step(
        self,
        idx: IntArray,
        t: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        h: ArrayLike,
        sigma: ArrayLike,
    ) -> _Step:
        """One batched predict-gate-update: the same pipeline for one row or 10,000."""
        self._validate(idx)
        k = idx.size
        t_arr = np.broadcast_to(np.asarray(t, dtype=np.float64), (k,))
        lat_a = np.broadcast_to(np.asarray(lat, dtype=np.float64), (k,))
        lon_a = np.broadcast_to(np.asarray(lon, dtype=np.float64), (k,))
        h_a = np.broadcast_to(np.asarray(h, dtype=np.float64), (k,))
        sig = np.asarray(sigma, dtype=np.float64).reshape(k, MEAS_DIM).T

        # 1. Classify rows.
        had_state = self.initialised[idx]
        dt = t_arr - self.t_state[idx]
        stale = had_state & ~(dt >= 0.0)  # out of order (or NaN time): never moves the state back
        usable = np.isfinite(lat_a) & np.isfinite(lon_a) & np.isfinite(h_a) & np.isfinite(t_arr)
        usable &= np.all(sig > 0.0, axis=0) & np.all(np.isfinite(sig), axis=0) & ~stale

        # 2. Predict every row with a state to t (rows without a usable fix too, so a NaN epoch of
        #    a track still has a state at its time; stale rows get dt = 0, i.e. no change).
        dt_pred = np.where(had_state & ~stale, dt, 0.0)
        st0 = self.state[:, idx]
        vel0 = st0[VEL]
        pos_pred, cov_pred = predict(st0[POS], vel0, (st0[_PP], st0[_PV], st0[_VV]), dt_pred, self.q)

        # 3. Measurement in the receiver's frame; rows without a usable fix get z = prediction.
        xyz = geodetic_to_ecef(lat_a, lon_a, h_a).T
        frame = self.frame[:, idx]
        z = np.einsum("ijk,jk->ik", frame[3:].reshape(3, 3, k), xyz - frame[:3])
        measured = usable & had_state
        z = np.where(measured, z, pos_pred)
        var = np.where(usable, sig * sig, 1.0)

        # 4. Gate, decide, update the accepted rows (zero gain elsewhere).
        nu, s, nis = innovation(pos_pred, cov_pred, z, var)
        passed = nis <= self.gate
        streak = self.reject_streak[idx]
        gap = (t_arr - self.t_accepted[idx]) > self.max_gap_s
        fresh = usable & (~had_state | gap | (~passed & (streak >= self.max_consecutive_rejects)))
        accept = measured & ~fresh & passed
        reject = measured & ~fresh & ~passed
        pos_new, vel_new, cov_new = update(pos_pred, vel0, cov_pred, nu, s, var, accept)

        status = np.full(k, FixStatus.IGNORED, dtype=np.int8)
        status[accept] = FixStatus.ACCEPTED
        status[reject] = FixStatus.REJECTED
        status[fresh] = FixStatus.INITIALISED

        # 5. New state rows; a (re)start sets the origin at the fix, position 0, velocity unknown.
        st_new = np.concatenate([pos_new, vel_new, *cov_new], axis=0)
        st_pred = np.concatenate([pos_pred, vel0, *cov_pred], axis=0)
        if fresh.any():
            start = np.zeros((_STATE_ROWS, int(fresh.sum())))
            start[_PP] = var[:, fresh]
            start[_VV] = self.initial_velocity_sigma**2
            st_new[:, fresh] = start
            st_pred[:, fresh] = start  # the smoother sees a (re)start as its own prediction
            frame[:3, fresh] = xyz[:, fresh]
            frame[3:, fresh] = enu_rotation(lat_a[fresh], lon_a[fresh]).reshape(-1, 9).T
            fi = idx[fresh]
            self.frame[:, fi] = frame[:, fresh]
            self.initialised[fi] = True

        # 6. Commit: rows that moved to t (predicted, updated or fresh); stale rows keep theirs.
        moved = (had_state & ~stale) | fresh
        if not moved.all():
            st_new[:, ~moved] = st0[:, ~moved]
        self.state[:, idx] = st_new
        self.t_state[idx] = np.where(moved, t_arr, self.t_state[idx])
        self.t_accepted[idx] = np.where(accept | fresh, t_arr, self.t_accepted[idx])
        self.rejected_count[idx] += reject
        self.reject_streak[idx] = np.where(reject, streak + 1, np.where(accept | fresh, 0, streak))

        return _Step(
            state_pred=st_pred,
            dt=dt_pred,
            state=st_new,
            status=status,
            frame=frame,
            valid=had_state | fresh,
            nis=np.where(accept | reject, nis, np.nan),
        )


def _to_geodetic(enu: FloatArray, frame: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ENU ``(3, k)`` in the frames ``(12, k)`` to lat/lon/h: ``xyz = origin + R^T enu``."""
    k = enu.shape[1]
    xyz = frame[:3] + np.einsum("jik,jk->ik", frame[3:].reshape(3, 3, k), enu)
    return ecef_to_geodetic(xyz.T)


def rts_smooth(
    t: ArrayLike,
    lat: ArrayLike,
    lon: ArrayLike,
    h: ArrayLike,
    sigma: ArrayLike,
    *,
    accel_psd_h: float = 1.0,
    accel_psd_v: float = 0.1,
    gate_probability: float = 0.9999,
    max_gap_s: float = 30.0,
    max_consecutive_rejects: int = 5,
    initial_velocity_sigma: float = 10.0,
) -> SmoothedFix:
    """Rauch-Tung-Striebel smoothing of whole tracks, for post-processing.

    Inputs are one track (``t, lat, lon, h`` of shape ``(T,)``, ``sigma`` ``(T, 3)``) or ``M``
    equal-length tracks (``(M, T)`` and ``(M, T, 3)``), smoothed together with batched algebra.
    The forward pass is :class:`TrackSmoother` (same model, gating and re-initialisation, same
    options); its stored predictions feed the backward pass (per axis, in closed form)::

        C_k = P_k F^T P_{k+1|k}^-1
        x_k^s = x_k + C_k (x_{k+1}^s - x_{k+1|k})
        P_k^s = P_k + C_k (P_{k+1}^s - P_{k+1|k}) C_k^T

    A re-initialisation starts an independent segment (``C = 0`` across it). Rejected and NaN
    epochs still get a smoothed state. Returns a :class:`SmoothedFix` with ``M*T`` rows, track
    ``m``'s epoch ``j`` at row ``m*T + j`` (``index`` is the track number); ``rejected_count`` is
    the running count along the track and ``status`` the forward filter's decision.
    """
    t_a = np.atleast_2d(np.asarray(t, dtype=np.float64))
    m, n_epochs = t_a.shape
    lat_a = np.asarray(lat, dtype=np.float64).reshape(m, n_epochs)
    lon_a = np.asarray(lon, dtype=np.float64).reshape(m, n_epochs)
    h_a = np.asarray(h, dtype=np.float64).reshape(m, n_epochs)
    sig = np.asarray(sigma, dtype=np.float64).reshape(m, n_epochs, MEAS_DIM)
    kf = TrackSmoother(
        m,
        accel_psd_h=accel_psd_h,
        accel_psd_v=accel_psd_v,
        gate_probability=gate_probability,
        max_gap_s=max_gap_s,
        max_consecutive_rejects=max_consecutive_rejects,
        initial_velocity_sigma=initial_velocity_sigma,
    )
    tracks = np.arange(m)
    steps = [
        kf._step(tracks, t_a[:, j], lat_a[:, j], lon_a[:, j], h_a[:, j], sig[:, j]) for j in range(n_epochs)
    ]

    # Backward pass, per axis (the covariance is block-diagonal by axis, see the module doc):
    # with P = [[a, b], [b, c]], P_pred = [[pa, pb], [pb, pc]], F = [[1, dt], [0, 1]], the gain
    # C = P F^T P_pred^-1 has the closed form below; element-wise over tracks and axes.
    smoothed = np.empty((n_epochs, _STATE_ROWS, m))
    smoothed[-1] = steps[-1].state
    for j in range(n_epochs - 2, -1, -1):
        cur, nxt = steps[j], steps[j + 1]
        # Link j -> j+1 only inside a segment: both have a state and j+1 is not a (re)start.
        link = cur.valid & nxt.valid & (nxt.status != FixStatus.INITIALISED)
        a, b, c = cur.state[_PP], cur.state[_PV], cur.state[_VV]
        pa, pb, pc = nxt.state_pred[_PP], nxt.state_pred[_PV], nxt.state_pred[_VV]
        dt = nxt.dt[None, :]
        det = np.where(link, pa * pc - pb * pb, 1.0)
        u, w = a + b * dt, b + c * dt  # rows of P F^T: [[u, b], [w, c]]
        g00, g01 = (u * pc - b * pb) / det, (b * pa - u * pb) / det
        g10, g11 = (w * pc - c * pb) / det, (c * pa - w * pb) / det
        nxt_s = smoothed[j + 1]
        dpos = nxt_s[POS] - nxt.state_pred[POS]
        dvel = nxt_s[VEL] - nxt.state_pred[VEL]
        d00, d01, d11 = nxt_s[_PP] - pa, nxt_s[_PV] - pb, nxt_s[_VV] - pc
        m00, m01 = g00 * d00 + g01 * d01, g00 * d01 + g01 * d11  # M = C dP
        m10, m11 = g10 * d00 + g11 * d01, g10 * d01 + g11 * d11
        out = np.concatenate(
            [
                cur.state[POS] + g00 * dpos + g01 * dvel,
                cur.state[VEL] + g10 * dpos + g11 * dvel,
                a + m00 * g00 + m01 * g01,  # P + M C^T
                b + m00 * g10 + m01 * g11,
                c + m10 * g10 + m11 * g11,
            ]
        )
        smoothed[j] = np.where(link, out, cur.state)

    valid = np.stack([s.valid for s in steps])  # (T, m)
    smoothed = np.where(valid[:, None, :], smoothed, np.nan)
    # Track-major rows: (T, 15, m) -> (15, m, T) -> (15, m*T).
    flat = smoothed.transpose(1, 2, 0).reshape(_STATE_ROWS, m * n_epochs)
    frames = np.stack([s.frame for s in steps]).transpose(1, 2, 0).reshape(12, m * n_epochs)
    lat_s, lon_s, h_s = _to_geodetic(flat[POS], frames)
    status = np.stack([s.status for s in steps], axis=1)  # (m, T)
    return SmoothedFix(
        index=np.repeat(tracks, n_epochs),
        t=t_a.reshape(-1).copy(),
        lat=lat_s,
        lon=lon_s,
        h=h_s,
        enu=flat[POS].T,
        velocity=flat[VEL].T,
        cov_axes=flat[_PP.start :],
        status=status.reshape(-1),
        nis=np.stack([s.nis for s in steps], axis=1).reshape(-1),
        rejected_count=np.cumsum(status == FixStatus.REJECTED, axis=1).reshape(-1).astype(np.int64),
    )
