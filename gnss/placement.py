"""Fix to space: which parking space holds the vehicle, and has it stayed there long enough.

A space is decided by probability, not by the point: a fix 10 cm inside a 2.5 m space with a 1 m
sigma is as likely to be in the neighbour. ``containment_probability`` integrates the fix's
bivariate Gaussian (horizontal ENU covariance from ``gnss.smoother``) over each candidate polygon,
exactly: after whitening with the covariance's Cholesky factor the polygon is a fan of signed
triangles from the mean, and the standard normal mass of a triangle with a vertex at the origin
is closed form in Owen's T function (``scipy.special.owens_t``)::

    mass(right triangle: leg d from the origin, angle psi at it) = psi / 2pi - T(d, tan psi)

so there is no sampling error and no tuning; cost is O(edges), vectorised over all polygons.
Polygons are projected to ENU around the fix with ``gnss.geodesy`` (exact; spaces are metres).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import owens_t  # type: ignore[import-untyped, unused-ignore]

from gnss.geodesy import FloatArray, geodetic_to_enu

K = TypeVar("K", bound=Hashable)
Polygon = Sequence[tuple[float, float]]  # (lon, lat) vertices in degrees, GeoJSON order

DEFAULT_THRESHOLD: Final = 0.9
DEFAULT_DWELL_S: Final = 30.0
_TINY: Final = 1e-12


def _pad_polygons(polygons: Sequence[Polygon]) -> tuple[FloatArray, FloatArray]:
    """Stack polygons as ``(m, v)`` lon/lat arrays, closed, padded by repeating the last vertex.

    A repeated vertex makes a zero-length edge, which contributes nothing to the integral.
    A closing vertex equal to the first (GeoJSON rings repeat it) is harmless for the same reason.
    """
    v = max(len(p) for p in polygons) + 1
    lon = np.empty((len(polygons), v))
    lat = np.empty((len(polygons), v))
    for i, poly in enumerate(polygons):
        if len(poly) < 3:
            raise ValueError(f"polygon {i} has fewer than 3 vertices")
        ring = np.asarray(poly, dtype=np.float64)
        n = ring.shape[0]
        lon[i, :n], lat[i, :n] = ring[:, 0], ring[:, 1]
        lon[i, n:], lat[i, n:] = ring[0, 0], ring[0, 1]  # close, then pad with the closing vertex
    return lon, lat


def gaussian_polygon_mass(vertices: FloatArray) -> FloatArray:
    """Standard bivariate normal mass of closed polygons given in whitened coordinates.

    ``vertices`` is ``(m, v, 2)``, each ring closed (last vertex = first) and simple, either
    orientation. Each edge A->B adds the signed mass of triangle (0, A, B): with ``e`` the unit
    edge direction, ``d`` the distance from the origin to the edge's line and
    ``psi = atan(<X, e> / d)`` the angle of a point X seen from the foot of the perpendicular, the
    triangle's mass is ``F(psi_B) - F(psi_A)``, ``F(psi) = psi / 2pi - T(d, tan psi)``, signed by
    the side of the origin. Returns ``(m,)``.
    """
    a = vertices[:, :-1, :]
    b = vertices[:, 1:, :]
    edge = b - a
    length = np.sqrt(np.sum(edge * edge, axis=-1))
    safe = np.where(length > _TINY, length, 1.0)
    e = edge / safe[..., None]
    cross = a[..., 0] * e[..., 1] - a[..., 1] * e[..., 0]  # signed distance of the line
    d = np.abs(cross)
    ok = (length > _TINY) & (d > _TINY)  # degenerate edge or line through the mean: no area
    d_safe = np.where(ok, d, 1.0)
    ta = np.sum(a * e, axis=-1) / d_safe
    tb = np.sum(b * e, axis=-1) / d_safe
    mass = (np.arctan(tb) - np.arctan(ta)) / (2.0 * np.pi) - (owens_t(d_safe, tb) - owens_t(d_safe, ta))
    signed = np.where(ok, np.sign(cross) * mass, 0.0)
    total: FloatArray = np.abs(np.sum(signed, axis=-1))
    return total


def containment_probability(
    lat: float, lon: float, cov_en: ArrayLike, polygons: Sequence[Polygon]
) -> FloatArray:
    """Probability ``(m,)`` that a vehicle at ``N((lat, lon), cov_en)`` lies in each polygon.

    ``cov_en`` is the 2x2 horizontal covariance in metres, E/N order (``SmoothedFix.position_cov
    [i, :2, :2]``). Polygons are lists of (lon, lat) vertices; simple (not self-intersecting).
    """
    cov = np.asarray(cov_en, dtype=np.float64).reshape(2, 2)
    chol = np.linalg.cholesky(cov)  # raises LinAlgError on a non positive-definite covariance
    plon, plat = _pad_polygons(polygons)
    enu = geodetic_to_enu(plat, plon, 0.0, lat, lon, 0.0)
    # Whiten: y = L^-1 x, by solving L y = x for all vertices at once.
    white = np.linalg.solve(chol, enu[..., :2].reshape(-1, 2).T).T.reshape((*enu.shape[:-1], 2))
    return gaussian_polygon_mass(white)


def containing_space(
    lat: float,
    lon: float,
    cov_en: ArrayLike,
    polygons: Sequence[Polygon],
    threshold: float = DEFAULT_THRESHOLD,
) -> int | None:
    """Index of the polygon holding the vehicle with probability >= ``threshold``, else None.

    Spaces do not overlap, so their probabilities sum to at most 1 and with ``threshold > 0.5``
    at most one qualifies; with a lower threshold the most probable qualifying space wins.
    """
    if not polygons:
        return None
    prob = containment_probability(lat, lon, cov_en, polygons)
    best = int(np.argmax(prob))
    return best if prob[best] >= threshold else None


def place_fix(
    lat: float,
    lon: float,
    cov_en: ArrayLike,
    spaces: Mapping[K, Polygon],
    threshold: float = DEFAULT_THRESHOLD,
) -> K | None:
    """:func:`containing_space` over a mapping of space id -> polygon; returns the id or None."""
    keys = list(spaces)
    best = containing_space(lat, lon, cov_en, [spaces[k] for k in keys], threshold)
    return None if best is None else keys[best]


@dataclass(slots=True)
class _Stay(Generic[K]):
    space: K
    since_s: float
    last_s: float
    reported: bool = False


class DwellTracker(Generic[K]):
    """Reports a receiver that stays RTK-fixed inside one space for ``dwell_s`` seconds.

    Why: a car driving through a car park crosses spaces; only a stay proves parking. Feed every
    placement to ``update(receiver, t, space, rtk_fixed)``; it returns the space exactly once per
    stay, at the first fix at least ``dwell_s`` after the stay began, else None (``current``
    tells when the stay began). A stay ends and the clock resets when the space changes, the fix
    is in no space (``None``), the fix is not RTK fixed, ``leave(receiver)`` is called, or no fix
    came for longer than ``max_gap_s`` (None disables this; a silent receiver cannot vouch that
    it did not move). Fixes older than the receiver's last one are ignored.
    """

    def __init__(self, dwell_s: float = DEFAULT_DWELL_S, max_gap_s: float | None = 10.0) -> None:
        self.dwell_s = dwell_s
        self.max_gap_s = max_gap_s
        self._stays: dict[Hashable, _Stay[K]] = {}

    def update(self, receiver: Hashable, t: float, space: K | None, rtk_fixed: bool) -> K | None:
        stay = self._stays.get(receiver)
        if stay is not None and t < stay.last_s:
            return None
        if space is None or not rtk_fixed:
            self.leave(receiver)
            return None
        gap = stay is not None and self.max_gap_s is not None and t - stay.last_s > self.max_gap_s
        if stay is None or stay.space != space or gap:
            stay = _Stay(space, t, t)
            self._stays[receiver] = stay
        stay.last_s = t
        if not stay.reported and t - stay.since_s >= self.dwell_s:
            stay.reported = True
            return space
        return None

    def leave(self, receiver: Hashable) -> None:
        """End the receiver's stay, if any (it lost RTK fixed, drove off, its slot was reused)."""
        self._stays.pop(receiver, None)

    def current(self, receiver: Hashable) -> tuple[K, float] | None:
        """The receiver's ongoing stay as ``(space, since_s)``, or None."""
        stay = self._stays.get(receiver)
        return None if stay is None else (stay.space, stay.since_s)
