"""gnss.geodesy against independently published coordinates and exact identities."""

from __future__ import annotations

import numpy as np
import pytest

from gnss.geodesy import (
    CGCS2000_A_M,
    CGCS2000_F,
    WGS84_A_M,
    WGS84_F,
    ecef_to_enu,
    ecef_to_geodetic,
    enu_rotation,
    enu_to_ecef,
    enu_to_geodetic,
    geodetic_to_ecef,
    geodetic_to_enu,
)

# Station pairs published by other software (see tests/data/gnss/README.md and its source,
# /work/shared/data/gnss/README.md), each ECEF next to the lat/lon/h that tool printed for it:
# - GEONET 3040: ECEF from RTKLIB's test makefile; RTKLIB rnx2rtkp's "ref pos" header line.
# - GEONET 3034: ECEF from cssrlib's test_rtk.py; RTKLIB's "ref pos" for that base.
# lat/lon are printed to 1e-9 deg (~0.1 mm) and h to 0.1 mm, which bounds the comparison.
STATIONS = [
    ((-3978241.958, 3382840.234, 3649900.853), (35.132057068, 139.624306577, 73.9077)),
    ((-3959400.631, 3385704.533, 3667523.111), (35.326681912, 139.466071726, 46.5007)),
]


@pytest.mark.parametrize(("xyz", "llh"), STATIONS)
def test_published_station_ecef_to_geodetic(
    xyz: tuple[float, float, float], llh: tuple[float, float, float]
) -> None:
    lat, lon, h = ecef_to_geodetic(np.array(xyz))
    assert lat == pytest.approx(llh[0], abs=2e-9)
    assert lon == pytest.approx(llh[1], abs=2e-9)
    assert h == pytest.approx(llh[2], abs=2e-4)


@pytest.mark.parametrize(("xyz", "llh"), STATIONS)
def test_published_station_geodetic_to_ecef(
    xyz: tuple[float, float, float], llh: tuple[float, float, float]
) -> None:
    np.testing.assert_allclose(geodetic_to_ecef(*llh), xyz, atol=3e-4)


def test_exact_points_on_the_ellipsoid() -> None:
    b = WGS84_A_M * (1.0 - WGS84_F)
    np.testing.assert_allclose(geodetic_to_ecef(0.0, 0.0, 0.0), [WGS84_A_M, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(geodetic_to_ecef(0.0, 90.0, 100.0), [0.0, WGS84_A_M + 100.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(geodetic_to_ecef(90.0, 0.0, 0.0), [0.0, 0.0, b], atol=1e-8)
    lat, _, h = ecef_to_geodetic(np.array([0.0, 0.0, -b - 5.0]))
    assert lat == pytest.approx(-90.0, abs=1e-12)
    assert h == pytest.approx(5.0, abs=1e-8)


def test_the_ellipsoids_are_the_published_ones() -> None:
    """The semi-minor axes derived from our constants equal the ones the standards publish:
    WGS84 b = 6,356,752.3142 m (NIMA TR8350.2, 3rd ed., table 3.3) and CGCS2000 b =
    6,356,752.31414 m (the CGCS2000 derived parameters, China's national geodetic coordinate
    system announcement, 2008) - so the two differ by about a tenth of a millimetre."""
    b_wgs84 = WGS84_A_M * (1.0 - WGS84_F)
    b_cgcs2000 = CGCS2000_A_M * (1.0 - CGCS2000_F)
    assert b_wgs84 == pytest.approx(6_356_752.3142, abs=5e-5)
    assert b_cgcs2000 == pytest.approx(6_356_752.31414, abs=5e-6)
    assert CGCS2000_A_M == WGS84_A_M == 6_378_137.0


def test_round_trip_vectorised_from_deep_underground_to_geostationary() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-90.0, 90.0, 20_000)
    lon = rng.uniform(-180.0, 180.0, 20_000)
    h = rng.uniform(-1e5, 3.6e7, 20_000)
    lat2, lon2, h2 = ecef_to_geodetic(geodetic_to_ecef(lat, lon, h))
    np.testing.assert_allclose(lat2, lat, atol=1e-10)
    dlon = (lon2 - lon + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(dlon * np.cos(np.radians(lat)))) < 1e-10
    np.testing.assert_allclose(h2, h, atol=1e-6)


def test_enu_rotation_is_orthonormal_with_up_along_the_ellipsoid_normal() -> None:
    rot = enu_rotation(np.array([35.0, -60.0]), np.array([137.0, 10.0]))
    np.testing.assert_allclose(
        rot @ np.swapaxes(rot, 1, 2), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-15
    )
    # Up is the direction in which height grows at fixed lat/lon.
    up = geodetic_to_ecef(35.0, 137.0, 1.0) - geodetic_to_ecef(35.0, 137.0, 0.0)
    np.testing.assert_allclose(rot[0, 2], up, atol=1e-9)


def test_enu_of_known_offsets() -> None:
    lat0, lon0, h0 = 35.134707705, 136.977577939, 104.853  # MatRTKLIB static base
    # 10 m up, then 1 arc-second north at height h0: north offset = (M + h0) dphi (M the meridian
    # radius of curvature; the chord differs from the arc by ~1e-10 relative).
    np.testing.assert_allclose(geodetic_to_enu(lat0, lon0, h0 + 10.0, lat0, lon0, h0), [0, 0, 10], atol=1e-9)
    e2 = WGS84_F * (2 - WGS84_F)
    s = np.sin(np.radians(lat0))
    m = WGS84_A_M * (1 - e2) / (1 - e2 * s * s) ** 1.5
    enu = geodetic_to_enu(lat0 + 1 / 3600, lon0, h0, lat0, lon0, h0)
    assert enu[1] == pytest.approx((m + h0) * np.radians(1 / 3600), abs=1e-5)
    assert abs(enu[0]) < 1e-9
    # The published rover is 0.99 m from the base (nearly zero baseline).
    rover = geodetic_to_enu(35.13469901, 136.97757549, 104.8626, lat0, lon0, h0)
    assert np.linalg.norm(rover) == pytest.approx(0.99, abs=0.01)


def test_enu_round_trips_with_one_origin_per_point() -> None:
    rng = np.random.default_rng(5)
    lat0 = rng.uniform(-80, 80, 500)
    lon0 = rng.uniform(-180, 180, 500)
    h0 = rng.uniform(0, 3000, 500)
    enu = rng.normal(0, 2000, (500, 3))
    lat, lon, h = enu_to_geodetic(enu, lat0, lon0, h0)
    np.testing.assert_allclose(geodetic_to_enu(lat, lon, h, lat0, lon0, h0), enu, atol=1e-8)
    xyz = enu_to_ecef(enu, lat0, lon0, h0)
    np.testing.assert_allclose(ecef_to_enu(xyz, lat0, lon0, h0), enu, atol=1e-8)
