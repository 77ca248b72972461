"""Fixes per second of ``gnss.smoother.TrackSmoother`` against a per-receiver filterpy loop.

Imported by the main benchmark script; :func:`bench_smoother` returns rows, printing nothing.

Both sides run the same model on the same synthetic data: constant-velocity state, the same F
and Q for the 1 s step (white acceleration, the smoother's default spectral densities), H picking
the position and a diagonal R from the fix sigmas. filterpy gets one ``KalmanFilter`` per
receiver (its natural use) and its best case: F and Q set once, measurements already in ENU
metres and no gating. Ours takes lat/lon/h, converts to each receiver's ENU frame, gates, updates
and converts the result back to lat/lon/h, so the comparison is conservative. filterpy may run
fewer epochs at 10,000 receivers (capped by ``seconds_budget``): rates are compared, not totals.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from filterpy.kalman import KalmanFilter

from gnss.geodesy import enu_to_geodetic
from gnss.smoother import TrackSmoother, process_noise, transition

_DT_S = 1.0
_SIGMA_M = np.array([0.7, 0.7, 1.4])  # a DGNSS fix


def _synthetic(n: int, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ENU measurements ``(epochs, n, 3)`` of cars driving straight, and their lat/lon/h."""
    rng = np.random.default_rng(seed)
    velocity = rng.normal(0.0, 5.0, (n, 3)) * np.array([1.0, 1.0, 0.05])
    t = np.arange(epochs) * _DT_S
    enu = velocity[None, :, :] * t[:, None, None] + rng.normal(0.0, 1.0, (epochs, n, 3)) * _SIGMA_M
    lat0 = 31.30 + rng.uniform(0.0, 0.02, n)
    lon0 = 121.50 + rng.uniform(0.0, 0.02, n)
    lat, lon, h = enu_to_geodetic(enu, lat0, lon0, np.full(n, 10.0))
    return enu, lat, lon, h


def _ours_rate(n: int, epochs: int, seconds_budget: float, seed: int) -> tuple[float, int]:
    _, lat, lon, h = _synthetic(n, epochs, seed)
    smoother = TrackSmoother(n)
    index = np.arange(n)
    sigma = np.broadcast_to(_SIGMA_M, (n, 3))
    smoother.update(index, 0.0, lat[0], lon[0], h[0], sigma)  # first fix initialises: not timed
    done = 0
    start = time.perf_counter()
    for j in range(1, epochs):
        smoother.update(index, j * _DT_S, lat[j], lon[j], h[j], sigma)
        done += 1
        if time.perf_counter() - start > seconds_budget:
            break
    elapsed = time.perf_counter() - start
    return n * done / elapsed, done


def _filterpy_rate(n: int, epochs: int, seconds_budget: float, seed: int) -> tuple[float, int]:
    enu, _, _, _ = _synthetic(n, epochs, seed)
    dt = np.array([_DT_S])
    f = transition(dt)[0]
    q = process_noise(dt, 1.0, 0.1)[0]
    h = np.hstack([np.eye(3), np.zeros((3, 3))])
    r = np.diag(_SIGMA_M**2)
    filters = []
    for i in range(n):
        kf = KalmanFilter(dim_x=6, dim_z=3)
        kf.F, kf.Q, kf.H, kf.R = f.copy(), q.copy(), h.copy(), r.copy()
        kf.x = np.concatenate([enu[0, i], np.zeros(3)])[:, None]
        kf.P = np.diag(np.concatenate([_SIGMA_M**2, np.full(3, 100.0)]))
        filters.append(kf)
    done = 0
    start = time.perf_counter()
    for j in range(1, epochs):
        z_epoch = enu[j]
        for i, kf in enumerate(filters):
            kf.predict()
            kf.update(z_epoch[i])
        done += 1
        if time.perf_counter() - start > seconds_budget:
            break
    elapsed = time.perf_counter() - start
    return n * done / elapsed, done


def bench_smoother(
    sizes: tuple[int, ...] = (1, 100, 10_000),
    epochs: int = 60,
    seconds_budget: float = 3.0,
    seed: int = 7,
) -> list[dict[str, Any]]:
    """Measure fixes/s for each receiver count; rows ``{"receivers", "ours_fixes_s", ...}``.

    ``epochs`` caps the epochs run per side (the first, initialising epoch is not timed);
    ``seconds_budget`` stops either side early once exceeded (at least one epoch always runs).
    """
    rows: list[dict[str, Any]] = []
    for n in sizes:
        ours, ours_epochs = _ours_rate(n, epochs, seconds_budget, seed)
        theirs, their_epochs = _filterpy_rate(n, epochs, seconds_budget, seed)
        rows.append(
            {
                "receivers": n,
                "ours_fixes_s": ours,
                "filterpy_fixes_s": theirs,
                "ratio": ours / theirs,
                "ours_epochs": ours_epochs,
                "filterpy_epochs": their_epochs,
            }
        )
    return rows


if __name__ == "__main__":
    for row in bench_smoother():
        print(row)
