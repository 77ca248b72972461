"""One-to-many travel tables for the planner, on scipy's C Dijkstra.

Car times from an origin to many parking lots, walking times from lots or stops to a destination,
footpaths between transit stops and walking access to stops: each a bounded
``scipy.sparse.csgraph.dijkstra`` (``limit``) from the snapped ends of the points, plus the
partial segments at both ends (``maas.roads`` snaps and seeds; this module only tabulates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import dijkstra  # type: ignore[import-untyped, unused-ignore]
from scipy.spatial import cKDTree  # type: ignore[import-untyped, unused-ignore]

from maas.graph import WALK_SPEED_MPS, BoolArray, FloatArray, IntArray, Profile, RoadNetwork
from maas.roads import MAX_SNAP_M, Snap, SnapIndex, direct_seconds, leave_seeds, reach_seeds

_BATCH = 64  # csgraph.dijkstra rows per call: each row is a dense array over all nodes


@dataclass(frozen=True, slots=True)
class _SeedTable:
    """Per point, its up to two (node, cost) seeds; cost inf where a direction is closed or the
    point did not snap. ``snapped`` marks points within the snap distance."""

    node: IntArray  # (n, 2)
    cost: FloatArray  # (n, 2)
    snaps: list[Snap | None]
    snapped: BoolArray


def _seed_table(
    net: RoadNetwork, profile: Profile, snaps: list[Snap | None], leave: bool, weight: str
) -> _SeedTable:
    n = len(snaps)
    node = np.zeros((n, 2), dtype=np.int64)
    cost = np.full((n, 2), np.inf)
    for i, s in enumerate(snaps):
        if s is None:
            continue
        seeds = leave_seeds(net, profile, s) if leave else reach_seeds(net, profile, s)
        for j, (nd, c, _) in enumerate(seeds):
            node[i, j] = nd
            if weight == "length_m":  # same fraction of the segment, in metres
                fwd, bwd = net.segment_seconds(profile)
                total = float(fwd[s.segment] if seeds[j][2] else bwd[s.segment])
                c = c / total * float(net.seg_length_m[s.segment]) if total > 0 else 0.0
            cost[i, j] = c
    snapped = np.array([s is not None for s in snaps], dtype=bool)
    return _SeedTable(node, cost, snaps, snapped)


def _table(
    net: RoadNetwork,
    profile: Profile,
    origins: _SeedTable,
    targets: _SeedTable,
    limit: float,
    weight: Literal["seconds", "length_m"],
    reverse: bool,
) -> FloatArray:
    """Least cost (in ``weight``) from every origin to every target, network part only plus the
    partial segments; ``reverse`` searches the transposed graph (origins are then the ends)."""
    graph = net.graph(profile).csr(weight)
    if reverse:
        graph = graph.T.tocsr()
    n_o, n_t = len(origins.node), len(targets.node)
    out = np.full((n_o, n_t), np.inf)
    flat_nodes = origins.node[np.isfinite(origins.cost)]
    uniq = np.unique(flat_nodes)
    for start in range(0, len(uniq), _BATCH):
        batch = uniq[start : start + _BATCH]
        rows = np.atleast_2d(dijkstra(graph, directed=True, indices=batch, limit=limit))
        row_of = {int(nd): r for r, nd in enumerate(batch)}
        for i in range(n_o):
            for j in range(2):
                c = origins.cost[i, j]
                r = row_of.get(int(origins.node[i, j]))
                if r is None or not np.isfinite(c):
                    continue
                reach = rows[r][targets.node] + targets.cost  # (n_t, 2)
                out[i] = np.minimum(out[i], c + reach.min(axis=1))
    return out


def _direct(net: RoadNetwork, profile: Profile, a: Snap | None, b: Snap | None, weight: str) -> float:
    if a is None or b is None:
        return math.inf
    s = direct_seconds(net, profile, a, b)
    if weight == "length_m" and np.isfinite(s):
        return abs(a.offset_m - b.offset_m)
    return s


def travel_times(
    net: RoadNetwork,
    profile: Profile,
    lat: float,
    lon: float,
    to_lat: ArrayLike,
    to_lon: ArrayLike,
    *,
    limit_s: float = math.inf,
    reverse: bool = False,
    max_snap_m: float = MAX_SNAP_M,
    index: SnapIndex | None = None,
) -> FloatArray:
    """Seconds from the point to each of many points (``reverse=True``: from each of them to the
    point), ``inf`` beyond ``limit_s``, unreachable, or not snappable.

    Car: origin to parking lots. Walk (``reverse=True``): lots or stops to a destination.
    Raises :class:`OutsideNetwork` if the single point does not snap.
    """
    index = index or SnapIndex(net, profile)
    here = index.snap(lat, lon, max_snap_m)
    there = index.snap_many(to_lat, to_lon, max_snap_m)
    walk = profile == "walk"
    if reverse:
        one = _seed_table(net, profile, [here], leave=False, weight="seconds")
        many = _seed_table(net, profile, there, leave=True, weight="seconds")
    else:
        one = _seed_table(net, profile, [here], leave=True, weight="seconds")
        many = _seed_table(net, profile, there, leave=False, weight="seconds")
    secs: FloatArray = _table(net, profile, one, many, limit_s, "seconds", reverse)[0]
    for j, s in enumerate(there):
        a, b = (s, here) if reverse else (here, s)
        secs[j] = min(secs[j], _direct(net, profile, a, b, "seconds"))
        if walk and s is not None:
            secs[j] += (here.distance_m + s.distance_m) / WALK_SPEED_MPS
    secs[secs > limit_s] = np.inf
    return secs


def travel_matrix(
    net: RoadNetwork,
    profile: Profile,
    from_lat: ArrayLike,
    from_lon: ArrayLike,
    to_lat: ArrayLike,
    to_lon: ArrayLike,
    *,
    limit_s: float = math.inf,
    max_snap_m: float = MAX_SNAP_M,
    index: SnapIndex | None = None,
) -> FloatArray:
    """Seconds from each origin to each destination, ``(n_from, n_to)``, ``inf`` where not
    reachable within ``limit_s`` or a point does not snap."""
    index = index or SnapIndex(net, profile)
    a = index.snap_many(from_lat, from_lon, max_snap_m)
    b = index.snap_many(to_lat, to_lon, max_snap_m)
    secs = _table(
        net,
        profile,
        _seed_table(net, profile, a, leave=True, weight="seconds"),
        _seed_table(net, profile, b, leave=False, weight="seconds"),
        limit_s,
        "seconds",
        reverse=False,
    )
    for i, sa in enumerate(a):
        for j, sb in enumerate(b):
            if sa is not None and sb is not None:
                if sa.segment == sb.segment:
                    secs[i, j] = min(secs[i, j], _direct(net, profile, sa, sb, "seconds"))
                if profile == "walk":
                    secs[i, j] += (sa.distance_m + sb.distance_m) / WALK_SPEED_MPS
    secs[secs > limit_s] = np.inf
    return secs


def _walk_lengths(
    walk_net: RoadNetwork,
    index: SnapIndex,
    from_snaps: list[Snap | None],
    to_snaps: list[Snap | None],
    max_m: float,
) -> FloatArray:
    """Walking metres (network + off-network legs) from each ``from`` to each ``to``."""
    metres = _table(
        walk_net,
        "walk",
        _seed_table(walk_net, "walk", from_snaps, leave=True, weight="length_m"),
        _seed_table(walk_net, "walk", to_snaps, leave=False, weight="length_m"),
        max_m,
        "length_m",
        reverse=False,
    )
    for i, sa in enumerate(from_snaps):
        for j, sb in enumerate(to_snaps):
            if sa is None or sb is None:
                continue
            if sa.segment == sb.segment:
                metres[i, j] = min(metres[i, j], _direct(walk_net, "walk", sa, sb, "length_m"))
            metres[i, j] += sa.distance_m + sb.distance_m
    return metres


def stop_footpaths(
    walk_net: RoadNetwork,
    stop_lat: ArrayLike,
    stop_lon: ArrayLike,
    max_m: float = 400.0,
    *,
    index: SnapIndex | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Footpaths between transit stops walked ON the walking graph: ``(from_idx, to_idx, seconds)``
    for every ordered pair of distinct stops at most ``max_m`` walking metres apart.

    A stop that does not snap within ``max_m`` gets no footpaths. Pairs are first limited to
    stops within ``max_m`` in a straight line (a walk is never shorter).
    """
    index = index or SnapIndex(walk_net, "walk")
    lat = np.asarray(stop_lat, dtype=np.float64)
    lon = np.asarray(stop_lon, dtype=np.float64)
    snaps = index.snap_many(lat, lon, max_m)
    ok = np.flatnonzero([s is not None for s in snaps])
    tree = cKDTree(index.proj.xy(lat[ok], lon[ok]))
    pairs = tree.query_pairs(max_m * 1.01, output_type="ndarray")  # 1%: the local projection
    if len(pairs) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    metres = _walk_lengths(walk_net, index, [snaps[i] for i in ok], [snaps[i] for i in ok], max_m)
    i, j = ok[pairs[:, 0]], ok[pairs[:, 1]]
    pi, pj = pairs[:, 0], pairs[:, 1]
    frm = np.concatenate((i, j))
    to = np.concatenate((j, i))
    m = np.concatenate((metres[pi, pj], metres[pj, pi]))
    keep = m <= max_m
    return frm[keep].astype(np.int64), to[keep].astype(np.int64), m[keep] / WALK_SPEED_MPS


def walk_access(
    walk_net: RoadNetwork,
    lat: float,
    lon: float,
    stop_lat: ArrayLike,
    stop_lon: ArrayLike,
    max_m: float = 800.0,
    *,
    index: SnapIndex | None = None,
) -> tuple[IntArray, FloatArray]:
    """Stops within ``max_m`` walking metres of a point, and the seconds to walk there: the
    access (and, the walking graph being symmetric, egress) legs of a transit trip.
    Raises :class:`OutsideNetwork` if the point does not snap."""
    index = index or SnapIndex(walk_net, "walk")
    here = index.snap(lat, lon, max_m)
    lat_s = np.asarray(stop_lat, dtype=np.float64)
    lon_s = np.asarray(stop_lon, dtype=np.float64)
    q = index.proj.xy(lat, lon)
    near = np.asarray(cKDTree(index.proj.xy(lat_s, lon_s)).query_ball_point(q, max_m * 1.01), dtype=np.int64)
    if len(near) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    snaps = index.snap_many(lat_s[near], lon_s[near], max_m)
    metres = _walk_lengths(walk_net, index, [here], snaps, max_m)[0]
    keep = metres <= max_m
    return near[keep], metres[keep] / WALK_SPEED_MPS
