"""Fixes per second of ``gnss.smoother.TrackSmoother`` against filterpy, on the real NMEA captures.

Imported by ``benchmarks/gnss_ingest.py``, which interleaves the rounds and prints the table.

The data: the GGA/GST fixes of tests/data/gnss/nmea, assembled by ``gnss.fixes.FixAssembler``
and cut into tracks at gaps longer than the smoother's ``max_gap_s`` (30 s); the tracks of at
least 60 fixes are used (Quectel L76K 150 fixes at 5 Hz, Trimble RTK 104 at 10 Hz, u-blox
NEO-M9N 61 at 1 Hz with GST). Each fix's sigma comes from ``measurement_sigma`` (GST where
sent, else the GGA quality and HDOP).

Both sides run the same model: constant velocity per E/N/U axis, the same F and Q for each step
(white acceleration, the smoother's default densities q_h = 1, q_v = 0.1 m^2/s^3), H picking the
position, R = diag(sigma^2) of that fix, a state starting at the first fix with velocity sigma
10 m/s, the Joseph-form covariance update. No fix of these tracks fails our innovation gate
(checked before timing), so the peers run without a gate while ours still tests every fix; and
the peers get their measurements already in each receiver's ENU frame (computed before timing)
while ours takes lat/lon/h and returns lat/lon/h. Before timing, the positions of every side are
checked to agree within 1e-6 m, so the filtering is the same work.

Cases:
- one receiver: the three tracks one after another, each through its own filter - ours a
  ``TrackSmoother(1)`` called once per fix, the peer one filterpy ``KalmanFilter``;
- N receivers (100, 10,000): receiver ``i`` replays track ``i mod 3`` (its first 61 fixes, the
  shortest track's length), shifted by a per-receiver offset of whole 1e-4 degree steps in
  latitude and longitude so that no two receivers share a place; one epoch = one fix for every
  receiver. Ours: one batched ``update`` per epoch. Peers: filterpy with one ``KalmanFilter``
  object per receiver (filterpy has no batch axis: this is the only way it can do it), and
  filterpy's matrix equations batched by hand over ``(N, 6, 6)`` NumPy arrays (``np.matmul``,
  ``np.linalg.solve``), the fairer peer for a batched filter.

Only the filtering is timed: building the filters and the first fix of each track (which only
initialises the state) are not. A round runs for about ``seconds``; at 10,000 receivers the
filterpy loop gets through a few epochs in that time, so rates are compared, not totals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filterpy.kalman import KalmanFilter
from numpy.typing import NDArray

from gnss.fixes import FixAssembler, PositionFix
from gnss.framer import StreamFramer
from gnss.geodesy import enu_rotation, geodetic_to_ecef
from gnss.smoother import TrackSmoother, measurement_sigma, process_noise, transition

F64 = NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[1]
NMEA = ROOT / "tests" / "data" / "gnss" / "nmea"
MAX_GAP_S = 30.0  # TrackSmoother's default: a longer gap starts a new track
MIN_FIXES = 60
Q_H, Q_V = 1.0, 0.1  # TrackSmoother's default spectral densities
VEL_SIGMA = 10.0  # TrackSmoother's default initial velocity sigma
OFFSET_DEG = 1e-4


@dataclass(frozen=True)
class Track:
    name: str
    t: F64  # (n,) s
    lat: F64
    lon: F64
    h: F64
    sigma: F64  # (n, 3) E/N/U m


def real_tracks() -> list[Track]:
    """The fixes of every NMEA capture, cut at long gaps; tracks of >= MIN_FIXES fixes."""
    tracks = []
    for path in sorted(NMEA.glob("*.log")):
        framer = StreamFramer()
        assembler = FixAssembler()
        fixes: list[PositionFix] = []
        for record in framer.feed(path.read_bytes()) + framer.flush():
            fixes += assembler.push(record)
        fixes += assembler.flush()
        fixes = [f for f in fixes if f.height is not None]
        if not fixes:
            continue
        t = np.array([f.tod for f in fixes])
        cuts = np.flatnonzero(np.diff(t) > MAX_GAP_S) + 1
        for part, idx in enumerate(np.split(np.arange(len(fixes)), cuts)):
            if len(idx) < MIN_FIXES:
                continue
            sel = [fixes[i] for i in idx]
            gst = np.array([[_nan(f.sigma_lat), _nan(f.sigma_lon), _nan(f.sigma_height)] for f in sel])
            sigma = measurement_sigma([f.quality for f in sel], [_nan(f.hdop) for f in sel], gst)
            tracks.append(
                Track(
                    name=f"{path.stem}#{part}" if len(cuts) else path.stem,
                    t=t[idx],
                    lat=np.array([f.lat for f in sel]),
                    lon=np.array([f.lon for f in sel]),
                    h=np.array([f.height for f in sel], dtype=np.float64),
                    sigma=sigma,
                )
            )
    return tracks


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


@dataclass(frozen=True)
class Batch:
    """N receivers over E epochs, arrays ``(E, N, ...)``; ``z_enu`` in each receiver's own frame
    (origin at its first fix), as the peers take it."""

    track_of: NDArray[np.int64]  # (N,)
    t: F64
    lat: F64
    lon: F64
    h: F64
    sigma: F64  # (E, N, 3)
    z_enu: F64  # (E, N, 3)
    r: F64  # (E, N, 3, 3) the measurement covariance diag(sigma^2), as the peers take it
    f: F64  # (E, T, 6, 6) per track and epoch (F of the step into that epoch; epoch 0 unused)
    q: F64  # (E, T, 6, 6)

    @property
    def shape(self) -> tuple[int, int]:
        return self.t.shape[0], self.t.shape[1]


def batch(tracks: list[Track], n: int, epochs: int | None = None) -> Batch:
    """Receiver ``i`` replays ``tracks[i % T]``, shifted by whole OFFSET_DEG steps."""
    e = epochs or min(len(tr.t) for tr in tracks)
    count = len(tracks)
    track_of = np.arange(n) % count
    replica = np.arange(n) // count
    d_lat = (replica % 100) * OFFSET_DEG
    d_lon = (replica // 100) * OFFSET_DEG
    t = np.stack([tr.t[:e] for tr in tracks], axis=1)[:, track_of]
    lat = np.stack([tr.lat[:e] for tr in tracks], axis=1)[:, track_of] + d_lat
    lon = np.stack([tr.lon[:e] for tr in tracks], axis=1)[:, track_of] + d_lon
    h = np.stack([tr.h[:e] for tr in tracks], axis=1)[:, track_of]
    sigma = np.stack([tr.sigma[:e] for tr in tracks], axis=1)[:, track_of]
    xyz = geodetic_to_ecef(lat, lon, h)  # (E, N, 3)
    rot = enu_rotation(lat[0], lon[0])  # (N, 3, 3)
    z = np.einsum("nij,enj->eni", rot, xyz - xyz[0])
    dt = np.diff(np.stack([tr.t[:e] for tr in tracks], axis=1), axis=0, prepend=np.nan)  # (E, T)
    dt[0] = 0.0
    f = transition(dt.ravel()).reshape(e, count, 6, 6)
    q = process_noise(dt.ravel(), Q_H, Q_V).reshape(e, count, 6, 6)
    r = np.zeros((e, n, 3, 3))
    r[:, :, [0, 1, 2], [0, 1, 2]] = sigma**2
    return Batch(track_of, t, lat, lon, h, sigma, z, r, f, q)


# --- the contenders: ``start(b)`` builds the filters and takes epoch 0 (not timed), ``run(state,
# b, j)`` takes epoch j for every receiver (timed), ``positions(state)`` reads the filtered E/N/U
# positions ``(N, 3)`` back for the agreement check (not timed).


def ours_start(b: Batch) -> TrackSmoother:
    n = b.shape[1]
    smoother = TrackSmoother(n)
    smoother.update(np.arange(n), b.t[0], b.lat[0], b.lon[0], b.h[0], b.sigma[0])
    return smoother


def ours_run(smoother: TrackSmoother, b: Batch, j: int) -> None:
    smoother.update(np.arange(b.shape[1]), b.t[j], b.lat[j], b.lon[j], b.h[j], b.sigma[j])


def ours_positions(smoother: TrackSmoother) -> F64:
    return smoother.x[:, :3].copy()


_H = np.hstack([np.eye(3), np.zeros((3, 3))])


def filterpy_start(b: Batch) -> list[KalmanFilter]:
    filters = []
    for i in range(b.shape[1]):
        kf = KalmanFilter(dim_x=6, dim_z=3)
        kf.H = _H.copy()
        kf.x = np.zeros((6, 1))
        kf.P = np.diag(np.concatenate([b.sigma[0, i] ** 2, np.full(3, VEL_SIGMA**2)]))
        filters.append(kf)
    return filters


def filterpy_run(filters: list[KalmanFilter], b: Batch, j: int) -> None:
    f_j, q_j, z_j, r_j, track_of = b.f[j], b.q[j], b.z_enu[j], b.r[j], b.track_of
    for i, kf in enumerate(filters):
        tr = track_of[i]
        kf.predict(F=f_j[tr], Q=q_j[tr])
        kf.update(z_j[i], R=r_j[i])


def filterpy_positions(filters: list[KalmanFilter]) -> F64:
    return np.array([kf.x[:3, 0] for kf in filters])


@dataclass
class Stacked:
    x: F64  # (N, 6, 1)
    p: F64  # (N, 6, 6)


_I6 = np.eye(6)


def stacked_start(b: Batch) -> Stacked:
    n = b.shape[1]
    p = np.zeros((n, 6, 6))
    idx = np.arange(3)
    p[:, idx, idx] = b.sigma[0] ** 2
    p[:, idx + 3, idx + 3] = VEL_SIGMA**2
    return Stacked(np.zeros((n, 6, 1)), p)


def stacked_run(s: Stacked, b: Batch, j: int) -> None:
    """filterpy's predict/update equations, over a batch axis with NumPy (Joseph form)."""
    f = b.f[j][b.track_of]
    q = b.q[j][b.track_of]
    x = f @ s.x
    p = f @ s.p @ f.transpose(0, 2, 1) + q
    r = b.r[j]
    y = b.z_enu[j][:, :, None] - x[:, :3]
    s_mat = p[:, :3, :3] + r
    k = np.linalg.solve(s_mat, p[:, :3, :]).transpose(0, 2, 1)  # P H^T S^-1 (S symmetric)
    s.x = x + k @ y
    a = _I6 - k @ _H
    s.p = a @ p @ a.transpose(0, 2, 1) + k @ r @ k.transpose(0, 2, 1)


def stacked_positions(s: Stacked) -> F64:
    return s.x[:, :3, 0].copy()


@dataclass(frozen=True)
class Contender:
    start: Callable[[Batch], Any]
    run: Callable[[Any, Batch, int], None]
    positions: Callable[[Any], F64]


OURS = Contender(ours_start, ours_run, ours_positions)
FILTERPY = Contender(filterpy_start, filterpy_run, filterpy_positions)
STACKED = Contender(stacked_start, stacked_run, stacked_positions)


def agreement(batches: list[Batch], contenders: dict[str, Contender]) -> dict[str, float]:
    """Run every epoch of every batch through each contender; the largest position difference
    (m) of each from the first (ours). Also checks that ours accepted every fix (no gate
    rejection, so the peers' missing gate changes nothing)."""
    worst = dict.fromkeys(contenders, 0.0)
    for b in batches:
        outputs = {}
        for name, c in contenders.items():
            state = c.start(b)
            steps = []
            for j in range(1, b.shape[0]):
                c.run(state, b, j)
                steps.append(c.positions(state))
            outputs[name] = np.stack(steps)
            if isinstance(state, TrackSmoother):
                assert int(state.rejected_count.sum()) == 0, "a fix failed the gate: peers would differ"
        ours = outputs[next(iter(contenders))]
        for name, out in outputs.items():
            worst[name] = max(worst[name], float(np.max(np.abs(out - ours))))
    return worst


def rate(c: Contender, batches: list[Batch], seconds: float) -> float:
    """Fixes per second of ``c.run`` over the batches' epochs 1.., repeated for about ``seconds``
    (at least one epoch); ``c.start`` (filters, epoch 0) is outside the timing."""
    fixes, elapsed = 0, 0.0
    while elapsed < seconds:
        for b in batches:
            state = c.start(b)
            epochs, n = b.shape
            for j in range(1, epochs):
                t0 = time.perf_counter()
                c.run(state, b, j)
                elapsed += time.perf_counter() - t0
                fixes += n
                if elapsed >= seconds:
                    return fixes / elapsed
    return fixes / elapsed


def single_batches(tracks: list[Track]) -> list[Batch]:
    """One receiver: each track whole, as its own one-receiver batch."""
    return [batch([tr], 1, len(tr.t)) for tr in tracks]
