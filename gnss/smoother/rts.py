"""Rauch-Tung-Striebel smoothing of whole tracks (post-processing), over the online filter's
forward pass."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gnss.smoother.kernels import MEAS_DIM, POS, PP, PV, STATE_ROWS, VEL, VV
from gnss.smoother.track import FixStatus, SmoothedFix, TrackSmoother, to_geodetic


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
        kf.step(tracks, t_a[:, j], lat_a[:, j], lon_a[:, j], h_a[:, j], sig[:, j]) for j in range(n_epochs)
    ]

    # Backward pass, per axis (the covariance is block-diagonal by axis, see the module doc):
    # with P = [[a, b], [b, c]], P_pred = [[pa, pb], [pb, pc]], F = [[1, dt], [0, 1]], the gain
    # C = P F^T P_pred^-1 has the closed form below; element-wise over tracks and axes.
    smoothed = np.empty((n_epochs, STATE_ROWS, m))
    smoothed[-1] = steps[-1].state
    for j in range(n_epochs - 2, -1, -1):
        cur, nxt = steps[j], steps[j + 1]
        # Link j -> j+1 only inside a segment: both have a state and j+1 is not a (re)start.
        link = cur.valid & nxt.valid & (nxt.status != FixStatus.INITIALISED)
        a, b, c = cur.state[PP], cur.state[PV], cur.state[VV]
        pa, pb, pc = nxt.state_pred[PP], nxt.state_pred[PV], nxt.state_pred[VV]
        dt = nxt.dt[None, :]
        det = np.where(link, pa * pc - pb * pb, 1.0)
        u, w = a + b * dt, b + c * dt  # rows of P F^T: [[u, b], [w, c]]
        g00, g01 = (u * pc - b * pb) / det, (b * pa - u * pb) / det
        g10, g11 = (w * pc - c * pb) / det, (c * pa - w * pb) / det
        nxt_s = smoothed[j + 1]
        dpos = nxt_s[POS] - nxt.state_pred[POS]
        dvel = nxt_s[VEL] - nxt.state_pred[VEL]
        d00, d01, d11 = nxt_s[PP] - pa, nxt_s[PV] - pb, nxt_s[VV] - pc
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
    flat = smoothed.transpose(1, 2, 0).reshape(STATE_ROWS, m * n_epochs)
    frames = np.stack([s.frame for s in steps]).transpose(1, 2, 0).reshape(12, m * n_epochs)
    lat_s, lon_s, h_s = to_geodetic(flat[POS], frames)
    status = np.stack([s.status for s in steps], axis=1)  # (m, T)
    return SmoothedFix(
        index=np.repeat(tracks, n_epochs),
        t=t_a.reshape(-1).copy(),
        lat=lat_s,
        lon=lon_s,
        h=h_s,
        enu=flat[POS].T,
        velocity=flat[VEL].T,
        cov_axes=flat[PP.start :],
        status=status.reshape(-1),
        nis=np.stack([s.nis for s in steps], axis=1).reshape(-1),
        rejected_count=np.cumsum(status == FixStatus.REJECTED, axis=1).reshape(-1).astype(np.int64),
    )
