"""The online filter: one batched predict-gate-update per call, for one receiver or 10,000."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2  # type: ignore[import-untyped, unused-ignore]

from gnss.geodesy import FloatArray, ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from gnss.kalman import innovation_axes, predict_cv_axes, update_position_axes
from gnss.smoother.kernels import (
    MEAS_DIM,
    POS,
    PP,
    PV,
    STATE_DIM,
    STATE_ROWS,
    VEL,
    VV,
    BoolArray,
    IntArray,
    full_covariance,
)


class FixStatus(IntEnum):
    """What the filter did with one fix."""

    ACCEPTED = 0  # passed the gate, state updated
    INITIALISED = 1  # first fix, or re-initialisation after a long gap / a run of rejections
    REJECTED = 2  # failed the innovation gate: counted, state only predicted to this time
    IGNORED = 3  # no usable measurement (NaN sigma or position) or a timestamp older than the state


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
class Step:
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
        self.state = np.zeros((STATE_ROWS, capacity))
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
        return full_covariance((st[PP], st[PV], st[VV]))

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
        step = self.step(idx, t, lat, lon, h, sigma)
        st, valid = step.state, step.valid
        if not valid.all():
            st = np.where(valid, st, np.nan)
        lat_s, lon_s, h_s = to_geodetic(st[POS], step.frame)
        return SmoothedFix(
            index=idx,
            t=np.broadcast_to(np.asarray(t, dtype=np.float64), idx.shape).copy(),
            lat=lat_s,
            lon=lon_s,
            h=h_s,
            enu=st[POS].T,
            velocity=st[VEL].T,
            cov_axes=st[PP.start :],
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

    def step(
        self,
        idx: IntArray,
        t: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        h: ArrayLike,
        sigma: ArrayLike,
    ) -> Step:
        """One batched predict-gate-update: the same pipeline for one row or 10,000. ``update``
        is this plus the output in lat/lon/h; :func:`gnss.smoother.rts.rts_smooth` keeps the
        returned :class:`Step` of every epoch for its backward pass."""
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
        pos_pred, cov_pred = predict_cv_axes(st0[POS], vel0, (st0[PP], st0[PV], st0[VV]), dt_pred, self.q)

        # 3. Measurement in the receiver's frame; rows without a usable fix get z = prediction.
        xyz = geodetic_to_ecef(lat_a, lon_a, h_a).T
        frame = self.frame[:, idx]
        z = np.einsum("ijk,jk->ik", frame[3:].reshape(3, 3, k), xyz - frame[:3])
        measured = usable & had_state
        z = np.where(measured, z, pos_pred)
        var = np.where(usable, sig * sig, 1.0)

        # 4. Gate, decide, update the accepted rows (zero gain elsewhere).
        nu, s, nis = innovation_axes(pos_pred, cov_pred, z, var)
        passed = nis <= self.gate
        streak = self.reject_streak[idx]
        gap = (t_arr - self.t_accepted[idx]) > self.max_gap_s
        fresh = usable & (~had_state | gap | (~passed & (streak >= self.max_consecutive_rejects)))
        accept = measured & ~fresh & passed
        reject = measured & ~fresh & ~passed
        pos_new, vel_new, cov_new = update_position_axes(pos_pred, vel0, cov_pred, nu, s, var, accept)

        status = np.full(k, FixStatus.IGNORED, dtype=np.int8)
        status[accept] = FixStatus.ACCEPTED
        status[reject] = FixStatus.REJECTED
        status[fresh] = FixStatus.INITIALISED

        # 5. New state rows; a (re)start sets the origin at the fix, position 0, velocity unknown.
        st_new = np.concatenate([pos_new, vel_new, *cov_new], axis=0)
        st_pred = np.concatenate([pos_pred, vel0, *cov_pred], axis=0)
        if fresh.any():
            start = np.zeros((STATE_ROWS, int(fresh.sum())))
            start[PP] = var[:, fresh]
            start[VV] = self.initial_velocity_sigma**2
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

        return Step(
            state_pred=st_pred,
            dt=dt_pred,
            state=st_new,
            status=status,
            frame=frame,
            valid=had_state | fresh,
            nis=np.where(accept | reject, nis, np.nan),
        )


def to_geodetic(enu: FloatArray, frame: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ENU ``(3, k)`` in the frames ``(12, k)`` to lat/lon/h: ``xyz = origin + R^T enu``."""
    k = enu.shape[1]
    xyz = frame[:3] + np.einsum("jik,jk->ik", frame[3:].reshape(3, 3, k), enu)
    return ecef_to_geodetic(xyz.T)
