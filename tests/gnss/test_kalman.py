"""gnss.kalman: the pure Kalman kernel against filterpy's ``KalmanFilter`` (an independent
implementation of the same equations) on real sequences - the RTK filter's own updates on the
MatRTKLIB set, the GGA/GST fixes of the NMEA captures - and the Joseph form's reason to exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter

from gnss.fixes import FixAssembler, PositionFix
from gnss.framer import StreamFramer
from gnss.geodesy import geodetic_to_ecef, geodetic_to_enu
from gnss.kalman import (
    Layout,
    gain,
    innovation_axes,
    joseph,
    predict,
    predict_cv_axes,
    update,
    update_position_axes,
)
from gnss.quality import SolutionQuality
from gnss.rinex import read_nav, read_obs
from gnss.rtk.ambiguity import Fix
from gnss.rtk.broadcast import BroadcastNav
from gnss.rtk.filter import RtkFilter
from gnss.rtk.obsdata import build
from gnss.rtk.options import RtkOptions
from gnss.rtk.solve import EpochSolver, observed_at
from gnss.smoother import measurement_sigma, process_noise, transition

DATA = Path(__file__).parents[1] / "data" / "gnss"
RINEX = DATA / "rinex"
NMEA = DATA / "nmea"
F64 = np.ndarray[Any, np.dtype[np.float64]]


def _is_spd(p: F64) -> bool:
    try:
        np.linalg.cholesky(p)
    except np.linalg.LinAlgError:
        return False
    return True


# --- the RTK filter's real updates, each checked against filterpy -------------------------------


class CheckedRtkFilter(RtkFilter):
    """The RTK filter with every measurement update replayed through filterpy beside ours."""

    checked: list[tuple[int, int, float, float]]  # (states, measurements, |dx|, |dP|) per update
    holds: int

    def _update(self, v: F64, h: F64, r: F64) -> None:
        ref = KalmanFilter(dim_x=self.x.size, dim_z=v.size)
        ref.x, ref.P = self.x[:, None].copy(), self.p.copy()
        ref.update((v + h @ self.x)[:, None], R=r, H=h)  # filterpy forms v = z - H x itself
        super()._update(v, h, r)
        assert np.array_equal(self.p, self.p.T)  # symmetric, exactly
        live = np.flatnonzero(np.diag(self.p) > 0)  # dead ambiguities hold zero rows
        assert _is_spd(self.p[np.ix_(live, live)])
        dx = float(np.max(np.abs(self.x - ref.x[:, 0])))
        dp = float(
            np.max(np.abs(self.p - ref.P) / np.sqrt(np.outer(np.diag(ref.P), np.diag(ref.P)) + 1e-300))
        )
        self.checked.append((self.x.size, v.size, dx, dp))

    def _hold(self, fix: Fix) -> None:
        self.holds += 1
        super()._hold(fix)


def test_rtk_filter_updates_equal_filterpy_on_the_matrtklib_set() -> None:
    """Thirty epochs of the real MatRTKLIB base + rover (5 systems, L1+L2, kinematic with velocity
    states, so the block predict runs too): every update of the filter - double differences and
    fix-and-hold pseudo-measurements, ~100 states - gives filterpy's state to 0.1 mm (the
    ambiguities to 1e-4 cycle) and its covariance to 1e-6 of each entry's scale, and stays
    symmetric positive definite."""
    options = RtkOptions(mode="kinematic", ar="fix-and-hold", dynamics=True, min_fix_to_hold=3)
    rover, base = RINEX / "matstatic_rover_60s.obs", RINEX / "matstatic_base_60s.obs"
    lat, lon, h = (float(v) for v in (RINEX / "matstatic_base_position.txt").read_text().split()[:3])
    data = build(read_obs(rover), read_obs(base), options.systems_used, options.freqs, options.max_base_age_s)
    nav = BroadcastNav(read_nav(RINEX / "matstatic_base.nav"), options.systems_used)
    solver = EpochSolver(data.sats, data.wavelength_m, options, np.asarray(geodetic_to_ecef(lat, lon, h)))
    rtk = CheckedRtkFilter(data.sats, data.wavelength_m, np.asarray(geodetic_to_ecef(lat, lon, h)), options)
    rtk.checked, rtk.holds = [], 0
    solver.rtk = rtk
    assert data.base is not None
    qualities = []
    for k in range(30):
        j = int(data.base_index[k])
        assert j >= 0
        sol = solver.step(nav, float(data.rover.t_gpst_s[k]), observed_at(data.rover, k), (
            float(data.base.t_gpst_s[j]), observed_at(data.base, j)))  # fmt: skip
        assert sol is not None
        qualities.append(sol.q)
    assert rtk.holds >= 20 and len(rtk.checked) >= 30 + rtk.holds  # every epoch's DDs, and the holds
    assert min(c[0] for c in rtk.checked) > 60  # position, velocity and dozens of ambiguities
    assert max(c[2] for c in rtk.checked) < 1e-4
    assert max(c[3] for c in rtk.checked) < 1e-6
    assert qualities.count(SolutionQuality.FIX) >= 25  # and the filter still fixes


def test_block_predict_equals_filterpy_with_the_full_transition() -> None:
    """The RTK filter's motion model as a block predict (position and velocity of an 8-state
    vector, the ambiguities carried): filterpy with the full F (identity outside the block) and
    Q (zero outside) gives the same state and covariance."""
    rng = np.random.default_rng(3)
    n, dt = 8, 0.7
    a = rng.normal(size=(n, n))
    p = a @ a.T + n * np.eye(n)
    x = rng.normal(size=n)
    eye, zero = np.eye(3), np.zeros((3, 3))
    f_block = np.block([[eye, dt * eye], [zero, eye]])
    q3 = np.diag([9.0, 9.0, 1.0])
    q_block = np.block([[q3 * dt**3 / 3, q3 * dt**2 / 2], [q3 * dt**2 / 2, q3 * dt]])
    p_before = p.copy()
    x_new, p_new = predict(x, p, f_block, q_block, block=slice(0, 6))

    ref = KalmanFilter(dim_x=n, dim_z=1)
    ref.x, ref.P = x[:, None].copy(), p.copy()
    f_full, q_full = np.eye(n), np.zeros((n, n))
    f_full[:6, :6], q_full[:6, :6] = f_block, q_block
    ref.predict(F=f_full, Q=q_full)
    np.testing.assert_allclose(x_new, ref.x[:, 0], rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(p_new, ref.P, rtol=1e-13, atol=1e-12)
    assert np.array_equal(p, p_before) and not np.array_equal(p_new, p)  # pure: inputs untouched


# --- real GGA/GST tracks: dense batch == filterpy per track == the per-axis form ---------------


def _real_tracks(min_fixes: int = 60) -> list[tuple[F64, F64, F64]]:
    """(t (n,), z E/N/U (n, 3) in the track's first-fix frame, sigma E/N/U (n, 3)) of every
    NMEA capture cut at gaps over 30 s, tracks of at least ``min_fixes`` fixes."""
    out = []
    for path in sorted(NMEA.glob("*.log")):
        framer, assembler = StreamFramer(), FixAssembler()
        fixes: list[PositionFix] = []
        for record in framer.feed(path.read_bytes()) + framer.flush():
            fixes += assembler.push(record)
        fixes = [f for f in fixes + assembler.flush() if f.height is not None]
        if not fixes:
            continue
        t = np.array([f.tod for f in fixes])
        for idx in np.split(np.arange(len(fixes)), np.flatnonzero(np.diff(t) > 30.0) + 1):
            if len(idx) < min_fixes:
                continue
            sel = [fixes[i] for i in idx]
            nan = np.nan

            def num(v: float | None, nan: float = nan) -> float:
                return nan if v is None else v

            gst = np.array([[num(f.sigma_lat), num(f.sigma_lon), num(f.sigma_height)] for f in sel])
            sigma = measurement_sigma([f.quality for f in sel], [num(f.hdop) for f in sel], gst)
            lat = np.array([f.lat for f in sel])
            lon = np.array([f.lon for f in sel])
            h = np.array([f.height for f in sel], dtype=np.float64)
            z = geodetic_to_enu(lat, lon, h, lat[0], lon[0], h[0])
            out.append((t[idx], z, sigma))
    return out


def test_batched_dense_kernel_equals_filterpy_per_track_and_the_per_axis_form() -> None:
    """The three real tracks of the NMEA captures (Quectel L76K at 5 Hz, Trimble RTK at 10 Hz,
    u-blox NEO-M9N at 1 Hz with GST) filtered together - one ``predict``/``update`` call per
    epoch over a batch ``(3, 6)``/``(3, 6, 6)``, constant velocity, R from each fix's sigma - give
    filterpy's ``KalmanFilter`` per track, and the per-axis closed form the track smoother uses
    gives the same numbers."""
    tracks = _real_tracks()
    assert len(tracks) == 3
    e = min(len(t) for t, _, _ in tracks)
    t = np.stack([tr[0][:e] for tr in tracks])  # (3, e)
    z = np.stack([tr[1][:e] for tr in tracks])  # (3, e, 3)
    sig = np.stack([tr[2][:e] for tr in tracks])
    q_h, q_v, v0 = 1.0, 0.1, 10.0
    x = np.zeros((3, 6))
    x[:, :3] = z[:, 0]
    p = np.zeros((3, 6, 6))
    p[:, [0, 1, 2], [0, 1, 2]] = sig[:, 0] ** 2
    p[:, [3, 4, 5], [3, 4, 5]] = v0**2
    refs = []
    for i in range(3):
        ref = KalmanFilter(dim_x=6, dim_z=3)
        ref.x, ref.P, ref.H = x[i][:, None].copy(), p[i].copy(), np.hstack([np.eye(3), np.zeros((3, 3))])
        refs.append(ref)
    pos, vel = x[:, :3].T.copy(), x[:, 3:].T.copy()  # the per-axis form: (3 axes, 3 tracks)
    cov = (sig[:, 0].T ** 2, np.zeros((3, 3)), np.full((3, 3), v0**2))
    h_pos = np.broadcast_to(np.hstack([np.eye(3), np.zeros((3, 3))]), (3, 3, 6))
    for j in range(1, e):
        dt = t[:, j] - t[:, j - 1]
        r = np.zeros((3, 3, 3))
        r[:, [0, 1, 2], [0, 1, 2]] = sig[:, j] ** 2
        x, p = predict(x, p, transition(dt), process_noise(dt, q_h, q_v))
        x, p = update(x, p, z[:, j] - x[:, :3], h_pos, r)
        pos, cov = predict_cv_axes(pos, vel, cov, dt, np.array([q_h, q_h, q_v]))
        nu, s, _ = innovation_axes(pos, cov, z[:, j].T, sig[:, j].T ** 2)
        pos, vel, cov = update_position_axes(pos, vel, cov, nu, s, sig[:, j].T ** 2)
        for i, ref in enumerate(refs):
            ref.predict(F=transition(dt[i : i + 1])[0], Q=process_noise(dt[i : i + 1], q_h, q_v)[0])
            ref.update(z[i, j][:, None], R=r[i])
            np.testing.assert_allclose(x[i], ref.x[:, 0], rtol=0, atol=1e-9)
            np.testing.assert_allclose(p[i], ref.P, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(pos.T, x[:, :3], rtol=0, atol=1e-9)
        np.testing.assert_allclose(vel.T, x[:, 3:], rtol=0, atol=1e-9)
        np.testing.assert_allclose(cov[0].T, p[:, [0, 1, 2], [0, 1, 2]], rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(cov[1].T, p[:, [0, 1, 2], [3, 4, 5]], rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(cov[2].T, p[:, [3, 4, 5], [3, 4, 5]], rtol=1e-9, atol=1e-13)
    assert e >= 60 and np.all(np.linalg.eigvalsh(p) > 0)


# --- the Joseph form -----------------------------------------------------------------------------


def test_joseph_form_stays_positive_definite_where_the_short_form_goes_negative() -> None:
    """A 30 m position prior met by a millimetre pseudo-measurement (an RTK position re-seeded
    from single point, then a held fix), with a gain 0.1 % off the optimal one (a gain computed
    from a slightly different covariance, or rounded). By hand, with p = 900 m^2, r = 1e-6 m^2,
    k = 1.001 p / (p + r):

        k = 1.001 * 900 / (900 + 1e-6) = 1.000999998888...
        short   p - k p = 900 (1 - k) = -0.899999 m^2                  (a negative variance)
        Joseph  (1 - k)^2 p + k^2 r = 8.99998e-4 + 1.002e-6 = 9.010e-4 m^2     (> 0)

    The Joseph form's covariance is a sum of two positive semi-definite terms whatever the gain;
    the short form's is only right for the exact optimal gain."""
    p = np.array([[900.0, 300.0], [300.0, 400.0]])
    h = np.array([[1.0, 0.0]])
    r = np.array([[1e-6]])
    k = 1.001 * gain(p, h, r)
    short = p - k @ h @ p
    jos = joseph(p, k, h, r)
    k_hand = 1.001 * 900.0 / (900.0 + 1e-6)
    assert short[0, 0] == pytest.approx(900.0 * (1.0 - k_hand), rel=1e-6)
    assert short[0, 0] == pytest.approx(-0.899999, rel=1e-6)
    assert jos[0, 0] == pytest.approx((1.0 - k_hand) ** 2 * 900.0 + k_hand**2 * 1e-6, rel=1e-6)
    assert jos[0, 0] == pytest.approx(9.010e-4, rel=1e-4)
    assert not _is_spd(0.5 * (short + short.T))
    assert _is_spd(jos) and np.allclose(jos, jos.T, rtol=0, atol=1e-12)
    # With the optimal gain both forms agree: the Joseph form is the same estimator.
    k_opt = gain(p, h, r)
    np.testing.assert_allclose(joseph(p, k_opt, h, r), p - k_opt @ h @ p, rtol=0, atol=1e-9)


def test_layout_names_the_blocks_and_resizes() -> None:
    lay = Layout({"pos": 3, "vel": 0, "amb": 4})
    assert (lay.slice("pos"), lay.slice("vel"), lay.slice("amb")) == (slice(0, 3), slice(3, 3), slice(3, 7))
    grown = lay.resized("amb", 10)
    assert grown.size == 13 and grown.start("amb") == 3 and lay.size == 7
    with pytest.raises(ValueError, match="negative"):
        Layout({"pos": -1})


def test_update_takes_a_batch_of_different_states_at_once() -> None:
    """A batch ``(2, ...)`` of two unrelated problems equals the two calls one by one, to the bit
    where LAPACK takes the same path (here: the same sizes)."""
    rng = np.random.default_rng(8)
    a = rng.normal(size=(2, 5, 5))
    p = a @ np.swapaxes(a, 1, 2) + np.eye(5)
    x = rng.normal(size=(2, 5))
    h = rng.normal(size=(2, 3, 5))
    r = np.stack([np.eye(3) * 0.1, np.eye(3) * 2.0])
    v = rng.normal(size=(2, 3))
    xb, pb = update(x, p, v, h, r)
    for i in range(2):
        xi, pi = update(x[i], p[i], v[i], h[i], r[i])
        np.testing.assert_allclose(xb[i], xi, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(pb[i], pi, rtol=1e-13, atol=1e-15)
