"""Geodetic <-> ECEF <-> local ENU conversions, vectorised over any leading shape.

Datum: WGS84. BeiDou positions are expressed in CGCS2000, whose ellipsoid has the same semi-major
axis and a flattening of 1/298.257222101 instead of WGS84's 1/298.257223563: the semi-minor axes
differ by 0.105 mm, and the two frames agree at the few-centimetre level (both are ITRF
realisations). For vehicle tracking and parking placement that is far below the noise, so one
ellipsoid serves both; the CGCS2000 constants are kept here to document the claim.

Conventions: angles in degrees at the public boundary, heights ellipsoidal in metres, ECEF and
ENU vectors as ``(..., 3)`` arrays. The ENU rotation's rows are the East, North and Up unit
vectors expressed in ECEF, so ``enu = R @ (xyz - xyz0)`` and ``xyz = xyz0 + R.T @ enu``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

WGS84_A_M: Final = 6378137.0
WGS84_F: Final = 1.0 / 298.257223563
CGCS2000_A_M: Final = 6378137.0
CGCS2000_F: Final = 1.0 / 298.257222101

_A: Final = WGS84_A_M
_F: Final = WGS84_F
_B: Final = _A * (1.0 - _F)
_E2: Final = _F * (2.0 - _F)  # first eccentricity squared
_EP2: Final = _E2 / (1.0 - _E2)  # second eccentricity squared

# Bowring's formula is accurate to ~15 um on the first pass for terrestrial heights; a second pass
# on the reduced latitude brings it to floating-point resolution (< 3 nm, checked on random points
# from -1,000 km to geostationary altitude), with no data-dependent loop so it vectorises cleanly.
_BOWRING_ITERATIONS: Final = 2


def _f64(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def _norm(a: FloatArray, b: FloatArray) -> FloatArray:
    """``sqrt(a^2 + b^2)``: no overflow risk at Earth scales, and ~7x faster than ``np.hypot``."""
    return np.sqrt(a * a + b * b)


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, h_m: ArrayLike) -> FloatArray:
    """Geodetic latitude/longitude (degrees) and ellipsoidal height (m) to ECEF, shape ``(..., 3)``."""
    lat = np.radians(_f64(lat_deg))
    lon = np.radians(_f64(lon_deg))
    h = _f64(h_m)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = _A / np.sqrt(1.0 - _E2 * sin_lat * sin_lat)  # prime-vertical radius of curvature
    x = (n + h) * cos_lat * np.cos(lon)
    y = (n + h) * cos_lat * np.sin(lon)
    z = (n * (1.0 - _E2) + h) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz_m: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ECEF ``(..., 3)`` to ``(lat_deg, lon_deg, h_m)`` by Bowring's method, iterated.

    Sines and cosines of the latitude and reduced latitude are carried as normalised vectors
    (a square root instead of ``atan2`` + ``sin`` + ``cos``): the same numbers, about half the
    transcendental work on a 10,000-fix batch. The height uses
    ``h = p cos(lat) + z sin(lat) - a^2 / N``, well conditioned at the poles and the equator
    alike. Undefined only at the Earth's centre.
    """
    xyz = _f64(xyz_m)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    p = _norm(x, y)
    za, pb = z * _A, p * _B
    r = _norm(za, pb)
    sin_b, cos_b = za / r, pb / r  # reduced latitude, first guess
    num = den = p
    for i in range(_BOWRING_ITERATIONS):
        num = z + _EP2 * _B * sin_b * sin_b * sin_b
        den = p - _E2 * _A * cos_b * cos_b * cos_b
        if i + 1 < _BOWRING_ITERATIONS:
            sb = (1.0 - _F) * num  # tan(beta) = (1 - f) tan(lat)
            r = _norm(sb, den)
            sin_b, cos_b = sb / r, den / r
    r = _norm(num, den)
    sin_lat, cos_lat = num / r, den / r
    n = _A / np.sqrt(1.0 - _E2 * sin_lat * sin_lat)
    h = p * cos_lat + z * sin_lat - _A * _A / n
    return np.degrees(np.arctan2(num, den)), np.degrees(np.arctan2(y, x)), h


def enu_rotation(lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
    """Rotation ECEF -> ENU at the given geodetic point(s), shape ``(..., 3, 3)``."""
    lat = np.radians(_f64(lat_deg))
    lon = np.radians(_f64(lon_deg))
    lat, lon = np.broadcast_arrays(lat, lon)
    sl, cl = np.sin(lat), np.cos(lat)
    so, co = np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return np.stack([east, north, up], axis=-2)


def ecef_to_enu(xyz_m: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike, h0_m: ArrayLike) -> FloatArray:
    """ECEF point(s) to ENU around the origin(s) ``(lat0, lon0, h0)``; shapes broadcast."""
    origin = geodetic_to_ecef(lat0_deg, lon0_deg, h0_m)
    rot = enu_rotation(lat0_deg, lon0_deg)
    enu: FloatArray = np.einsum("...ij,...j->...i", rot, _f64(xyz_m) - origin)
    return enu


def enu_to_ecef(enu_m: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike, h0_m: ArrayLike) -> FloatArray:
    """ENU vector(s) around the origin(s) back to ECEF; the inverse of :func:`ecef_to_enu`."""
    origin = geodetic_to_ecef(lat0_deg, lon0_deg, h0_m)
    rot = enu_rotation(lat0_deg, lon0_deg)
    xyz: FloatArray = origin + np.einsum("...ji,...j->...i", rot, _f64(enu_m))
    return xyz


def geodetic_to_enu(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    h_m: ArrayLike,
    lat0_deg: ArrayLike,
    lon0_deg: ArrayLike,
    h0_m: ArrayLike,
) -> FloatArray:
    """Geodetic point(s) to ENU ``(..., 3)`` metres around the origin(s); exact (via ECEF)."""
    return ecef_to_enu(geodetic_to_ecef(lat_deg, lon_deg, h_m), lat0_deg, lon0_deg, h0_m)


def enu_to_geodetic(
    enu_m: ArrayLike, lat0_deg: ArrayLike, lon0_deg: ArrayLike, h0_m: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ENU ``(..., 3)`` around the origin(s) to ``(lat_deg, lon_deg, h_m)``; exact (via ECEF)."""
    return ecef_to_geodetic(enu_to_ecef(enu_m, lat0_deg, lon0_deg, h0_m))
