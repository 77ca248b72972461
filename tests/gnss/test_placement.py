"""gnss.placement: Gaussian-over-polygon probabilities against analytic and sampled values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm, qmc  # type: ignore[import-untyped, unused-ignore]

from gnss.geodesy import enu_to_geodetic, geodetic_to_enu
from gnss.placement import (
    DwellTracker,
    containing_space,
    containment_probability,
    gaussian_polygon_mass,
    place_fix,
)

LAT0, LON0 = 31.3003, 121.5002


def ring(enu_xy: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(lon, lat) vertices of a polygon given in metres east/north of (LAT0, LON0)."""
    pts = np.array([[e, n, 0.0] for e, n in enu_xy])
    lat, lon, _ = enu_to_geodetic(pts, LAT0, LON0, 0.0)
    return list(zip(lon.tolist(), lat.tolist(), strict=True))


def rect(e0: float, e1: float, n0: float, n1: float) -> list[tuple[float, float]]:
    return ring([(e0, n0), (e1, n0), (e1, n1), (e0, n1)])


def at(e: float, n: float) -> tuple[float, float]:
    lat, lon, _ = enu_to_geodetic(np.array([e, n, 0.0]), LAT0, LON0, 0.0)
    return float(lat), float(lon)


# A row of three 2.5 m x 5 m spaces along the east axis.
ROW = {f"A{i}": rect(2.5 * i, 2.5 * (i + 1), 0.0, 5.0) for i in range(3)}


def test_rectangle_with_diagonal_covariance_matches_the_normal_cdf_product() -> None:
    sx, sy = 0.8, 1.5
    boxes = [(-0.5, 2.0, -1.0, 4.0), (1.0, 3.0, 1.0, 2.0), (-3.0, 3.0, -3.0, 3.0)]
    prob = containment_probability(LAT0, LON0, np.diag([sx**2, sy**2]), [rect(*b) for b in boxes])
    expected = [
        (norm.cdf(e1 / sx) - norm.cdf(e0 / sx)) * (norm.cdf(n1 / sy) - norm.cdf(n0 / sy))
        for e0, e1, n0, n1 in boxes
    ]
    np.testing.assert_allclose(prob, expected, atol=1e-6)


def test_rotated_polygon_with_correlated_covariance_matches_quasi_monte_carlo() -> None:
    """An independent check of the exact integral: scrambled Sobol points, Cholesky-transformed,
    counted inside a concave (L-shaped) rotated polygon with a crossing-number test."""
    cov = np.array([[1.2, 0.7], [0.7, 0.9]])
    angle = np.radians(25.0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shape = np.array([(-1.0, -1.5), (2.0, -1.5), (2.0, 0.0), (0.5, 0.0), (0.5, 2.0), (-1.0, 2.0)]) @ rot.T
    polygon = ring([(float(e), float(n)) for e, n in shape])
    exact = containment_probability(LAT0, LON0, cov, [polygon])[0]

    u = qmc.Sobol(d=2, scramble=True, seed=12).random_base2(m=18)
    pts = norm.ppf(u) @ np.linalg.cholesky(cov).T
    x, y = pts[:, 0], pts[:, 1]
    inside = np.zeros(len(pts), dtype=bool)
    verts = geodetic_to_enu(
        np.array([p[1] for p in polygon]), np.array([p[0] for p in polygon]), 0.0, LAT0, LON0, 0.0
    )[:, :2]
    for (x1, y1), (x2, y2) in zip(verts, np.roll(verts, -1, axis=0), strict=True):
        crosses = (y1 > y) != (y2 > y)
        inside ^= crosses & (x < (x2 - x1) * (y - y1) / np.where(y2 != y1, y2 - y1, 1.0) + x1)
    assert exact == pytest.approx(inside.mean(), abs=1e-3)
    assert 0.2 < exact < 0.8  # a non-trivial case


def test_mass_is_orientation_free_and_whole_plane_sums_to_one() -> None:
    square = np.array([[[-1, -1], [2, -1], [2, 1.5], [-1, 1.5], [-1, -1]]], dtype=float)
    ccw = gaussian_polygon_mass(square)
    cw = gaussian_polygon_mass(square[:, ::-1])
    assert ccw[0] == pytest.approx(cw[0], abs=1e-15)
    huge = np.array([[[-40, -40], [40, -40], [40, 40], [-40, 40], [-40, -40]]], dtype=float)
    assert gaussian_polygon_mass(huge)[0] == pytest.approx(1.0, abs=1e-12)
    far = huge + 100.0
    assert gaussian_polygon_mass(far)[0] == pytest.approx(0.0, abs=1e-15)
    # The mean exactly on a vertex and on an edge: a quarter and a half of an effectively infinite box.
    assert gaussian_polygon_mass(np.array([[[0, 0], [40, 0], [40, 40], [0, 40], [0, 0]]], float))[
        0
    ] == pytest.approx(0.25, abs=1e-12)
    assert gaussian_polygon_mass(np.array([[[-40, 0], [40, 0], [40, 40], [-40, 40], [-40, 0]]], float))[
        0
    ] == (pytest.approx(0.5, abs=1e-12))


def test_fix_at_a_space_centre_with_a_tight_covariance_is_placed() -> None:
    lat, lon = at(3.75, 2.5)  # centre of A1
    cov = np.diag([0.05**2, 0.05**2])  # RTK fixed
    assert place_fix(lat, lon, cov, ROW) == "A1"
    assert containing_space(lat, lon, cov, list(ROW.values())) == 1


def test_fix_on_the_boundary_between_two_spaces_is_not_placed() -> None:
    lat, lon = at(2.5, 2.5)  # the line between A0 and A1
    cov = np.diag([0.05**2, 0.05**2])
    prob = containment_probability(lat, lon, cov, list(ROW.values()))
    np.testing.assert_allclose(prob[:2], [0.5, 0.5], atol=1e-6)
    assert place_fix(lat, lon, cov, ROW) is None


def test_large_covariance_is_not_placed_even_at_the_centre() -> None:
    lat, lon = at(3.75, 2.5)
    assert place_fix(lat, lon, np.diag([1.5**2, 1.5**2]), ROW) is None  # a DGNSS-sized sigma
    assert place_fix(lat, lon, np.diag([1.5**2, 1.5**2]), ROW, threshold=0.3) == "A1"
    assert place_fix(lat, lon, np.eye(2), {}) is None


def test_dwell_is_reported_once_after_thirty_seconds_and_resets() -> None:
    dwell: DwellTracker[str] = DwellTracker(dwell_s=30.0)
    reports = [(t, dwell.update("car", float(t), "A1", True)) for t in range(0, 61)]
    hits = [(t, s) for t, s in reports if s is not None]
    assert hits == [(30, "A1")]
    assert dwell.current("car") == ("A1", 0.0)
    # Losing RTK fixed ends the stay; the clock restarts at the next fixed epoch.
    assert dwell.update("car", 61.0, "A1", False) is None
    assert dwell.current("car") is None
    got = [t for t in range(62, 100) if dwell.update("car", float(t), "A1", True) is not None]
    assert got == [92]
    # Moving to another space restarts; so does leaving every space.
    got = [t for t in range(100, 125) if dwell.update("car", float(t), "A2", True) is not None]
    assert dwell.update("car", 125.0, None, True) is None
    got += [t for t in range(126, 200) if dwell.update("car", float(t), "A2", True) is not None]
    assert got == [156]


def test_dwell_tracks_receivers_independently_and_breaks_on_silence() -> None:
    dwell: DwellTracker[str] = DwellTracker(dwell_s=30.0, max_gap_s=10.0)
    hits = []
    for t in range(0, 40):
        for rx in ("a", "b"):
            if rx == "b" and 10 <= t < 25:  # b is silent for 15 s: its stay restarts at 25
                continue
            if dwell.update(rx, float(t), "S", True) is not None:
                hits.append((rx, t))
    assert hits == [("a", 30)]
    hit_b = [t for t in range(40, 60) if dwell.update("b", float(t), "S", True) is not None]
    assert hit_b == [55]
    assert dwell.update("a", 5.0, "S", True) is None  # older than the last fix: ignored
