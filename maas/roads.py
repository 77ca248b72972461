"""Routing on the road graphs of ``maas.graph``: snapping and exact point-to-point paths (the
planner's one-to-many tables are in ``maas.tables``).

A point is snapped onto the nearest *segment* usable by the profile (not the nearest node: a
long street's ends may be far away), and a search then starts from both ends of that segment
with the partial costs of the way there, in the directions the segment allows. So a car on a
one-way street only ever leaves it forwards, and the answer is the exact cost from the point.

Point-to-point queries offer three exact methods over the same graph: plain bidirectional
Dijkstra (the reference), A* (straight-line chord / fastest speed, admissible and consistent
because every edge's length is a great-circle polyline at most that fast), and contraction
hierarchies (``maas.ch``, the fast one). The two bidirectional ones are one search
(``maas.search``) over different lists.

Walking includes the straight legs between a point and the road it snapped to (crossing a square
to the footway is walking); driving does not (the planner walks the driver to the car).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree  # type: ignore[import-untyped, unused-ignore]

from core.errors import Invalid
from maas.ch import Hierarchy, HierarchyQuery, hierarchy_for
from maas.graph import (
    EARTH_RADIUS_M,
    WALK_SPEED_MPS,
    FloatArray,
    Profile,
    ProgressCallback,
    RoadNetwork,
)
from maas.search import Adjacency, Seeds, adjacency, bidirectional, trace

Method = Literal["ch", "astar", "dijkstra"]

MAX_SNAP_M: Final = 500.0  # farther than this from any usable road is "outside the network"
_SAMPLE_M: Final = 20.0  # snapping samples every piece at least this densely (see SnapIndex)
_BATCH: Final = 64  # csgraph.dijkstra rows per call: each row is a dense array over all nodes


class OutsideNetwork(Invalid):
    """A point is too far from every road of the profile: outside the network's area."""

    code = "outside_network"


@dataclass(frozen=True, slots=True)
class Snap:
    """A point projected onto a segment: ``offset_m`` along it from its first node."""

    segment: int
    offset_m: float
    distance_m: float
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Route:
    """A path: cost, length, graph nodes passed, and ``[lon, lat]`` coordinates to draw."""

    seconds: float
    distance_m: float
    nodes: list[int]
    coordinates: list[tuple[float, float]]

    def geojson(self) -> dict[str, Any]:
        return {"type": "LineString", "coordinates": [list(c) for c in self.coordinates]}


class _LocalXY:
    """Equirectangular metres around the network's centre: good to ~0.1% over a city, and
    only used to *find* candidates; exact distances are computed in the same frame, which is
    all snapping compares."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        self.ky = math.radians(1.0) * EARTH_RADIUS_M

    def xy(self, lat: ArrayLike, lon: ArrayLike) -> FloatArray:
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        return np.stack(((lon_a - self.lon0) * self.kx, (lat_a - self.lat0) * self.ky), axis=-1)


class SnapIndex:
    """Nearest usable segment of one profile.

    The KD-tree holds sample points along every polyline piece, no farther apart than
    ``_SAMPLE_M``: a piece at distance ``d`` from the query has a sample within ``d + _SAMPLE_M/2``,
    so every piece with a sample within (nearest sample + ``_SAMPLE_M``) is a candidate, the
    nearest piece is always among them, and an exact projection picks it.
    """

    def __init__(self, net: RoadNetwork, profile: Profile) -> None:
        self.net = net
        fwd, bwd = net.segment_seconds(profile)
        usable = np.flatnonzero(np.isfinite(fwd) | np.isfinite(bwd))
        counts = net.seg_b[usable] - net.seg_a[usable]
        self.piece_seg = np.repeat(usable, counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        self.piece_pt = net.seg_a[self.piece_seg] + (np.arange(len(self.piece_seg)) - starts)
        self.proj = _LocalXY(float(np.mean(net.node_lat)), float(np.mean(net.node_lon)))
        pts = self.proj.xy(net.pt_lat, net.pt_lon)
        self.p0 = pts[self.piece_pt]
        self.p1 = pts[self.piece_pt + 1]
        plen = np.linalg.norm(self.p1 - self.p0, axis=1)
        k = np.ceil(plen / _SAMPLE_M).astype(np.int64) + 1  # samples per piece, ends included
        sample_piece = np.repeat(np.arange(len(plen)), k)
        first = np.repeat(np.cumsum(k) - k, k)
        t = (np.arange(len(sample_piece)) - first) / np.maximum(k[sample_piece] - 1, 1)
        samples = self.p0[sample_piece] + t[:, None] * (self.p1 - self.p0)[sample_piece]
        self.sample_piece = sample_piece
        self.tree = cKDTree(samples)

    def snap(self, lat: float, lon: float, max_m: float = MAX_SNAP_M) -> Snap:
        """The nearest point of a usable road, or :class:`OutsideNetwork` beyond ``max_m``."""
        snaps = self.snap_many(np.array([lat]), np.array([lon]), max_m)
        if snaps[0] is None:
            raise OutsideNetwork(
                f"({lat:.6f}, {lon:.6f}) is more than {max_m:.0f} m from any road: "
                "outside the network's area",
                lat=lat,
                lon=lon,
                max_m=max_m,
            )
        return snaps[0]

    def snap_many(self, lat: ArrayLike, lon: ArrayLike, max_m: float = MAX_SNAP_M) -> list[Snap | None]:
        """Snap every point; ``None`` for those beyond ``max_m``."""
        q = self.proj.xy(lat, lon).reshape(-1, 2)
        d0, _ = self.tree.query(q, distance_upper_bound=max_m + _SAMPLE_M)
        out: list[Snap | None] = []
        net = self.net
        for i in range(len(q)):
            if not np.isfinite(d0[i]):
                out.append(None)
                continue
            cand = np.unique(self.sample_piece[self.tree.query_ball_point(q[i], d0[i] + _SAMPLE_M)])
            a, b = self.p0[cand], self.p1[cand]
            ab = b - a
            denom = np.einsum("ij,ij->i", ab, ab)
            t = np.clip(np.einsum("ij,ij->i", q[i] - a, ab) / np.where(denom > 0, denom, 1.0), 0.0, 1.0)
            dist = np.linalg.norm(a + t[:, None] * ab - q[i], axis=1)
            j = int(np.argmin(dist))
            if dist[j] > max_m:
                out.append(None)
                continue
            piece, tj = int(cand[j]), float(t[j])
            seg, p = int(self.piece_seg[piece]), int(self.piece_pt[piece])
            offset = float(
                net.pt_cum_m[p] - net.pt_cum_m[net.seg_a[seg]] + tj * (net.pt_cum_m[p + 1] - net.pt_cum_m[p])
            )
            out.append(
                Snap(
                    segment=seg,
                    offset_m=min(offset, float(net.seg_length_m[seg])),
                    distance_m=float(dist[j]),
                    lat=float(net.pt_lat[p] + tj * (net.pt_lat[p + 1] - net.pt_lat[p])),
                    lon=float(net.pt_lon[p] + tj * (net.pt_lon[p + 1] - net.pt_lon[p])),
                )
            )
        return out


def _fraction(net: RoadNetwork, snap: Snap) -> float:
    length = float(net.seg_length_m[snap.segment])
    return snap.offset_m / length if length > 0 else 0.0


def leave_seeds(net: RoadNetwork, profile: Profile, snap: Snap) -> list[tuple[int, float, bool]]:
    """(node, seconds, forward) for each way a trip starting at ``snap`` can leave its segment."""
    fwd, bwd = net.segment_seconds(profile)
    s, f = snap.segment, _fraction(net, snap)
    seeds = []
    if np.isfinite(fwd[s]):
        seeds.append((int(net.seg_v[s]), (1.0 - f) * float(fwd[s]), True))
    if np.isfinite(bwd[s]):
        seeds.append((int(net.seg_u[s]), f * float(bwd[s]), False))
    return seeds


def reach_seeds(net: RoadNetwork, profile: Profile, snap: Snap) -> list[tuple[int, float, bool]]:
    """(node, seconds, forward) for each way a trip can enter ``snap``'s segment to end there."""
    fwd, bwd = net.segment_seconds(profile)
    s, f = snap.segment, _fraction(net, snap)
    seeds = []
    if np.isfinite(fwd[s]):
        seeds.append((int(net.seg_u[s]), f * float(fwd[s]), True))
    if np.isfinite(bwd[s]):
        seeds.append((int(net.seg_v[s]), (1.0 - f) * float(bwd[s]), False))
    return seeds


def direct_seconds(net: RoadNetwork, profile: Profile, src: Snap, dst: Snap) -> float:
    """Cost along one segment when both points are on it and its direction allows, else inf."""
    if src.segment != dst.segment:
        return math.inf
    fwd, bwd = net.segment_seconds(profile)
    s = src.segment
    fs, fd = _fraction(net, src), _fraction(net, dst)
    best = math.inf
    if fd >= fs and np.isfinite(fwd[s]):
        best = (fd - fs) * float(fwd[s])
    if fd <= fs and np.isfinite(bwd[s]):
        best = min(best, (fs - fd) * float(bwd[s]))
    return best


class RoadRouter:
    """Point-to-point routing on one profile of a network.

    Pure-Python adjacency lists (and the hierarchy, for ``method="ch"``) are built on first use
    and kept, so construct one router per network and profile and reuse it.
    """

    def __init__(
        self, net: RoadNetwork, profile: Profile = "car", hierarchy: Hierarchy | None = None
    ) -> None:
        self.net = net
        self.profile: Profile = profile
        self.graph = net.graph(profile)
        self._hierarchy = hierarchy
        self._ch: HierarchyQuery | None = None
        self._fwd: Adjacency | None = None
        self._bwd: Adjacency | None = None
        self._index: SnapIndex | None = None
        xyz = _unit_xyz(net.node_lat, net.node_lon)
        speed = self.graph.length_m / self.graph.seconds
        vmax = float(speed.max()) if len(speed) else 1.0
        # A* heuristic seconds per unit chord, shrunk by 1e-9 so rounding never overestimates.
        self._h_scale = EARTH_RADIUS_M / vmax * (1.0 - 1e-9)
        self._xyz = xyz.tolist()

    # -- building blocks -------------------------------------------------------------------
    @property
    def index(self) -> SnapIndex:
        if self._index is None:
            self._index = SnapIndex(self.net, self.profile)
        return self._index

    def snap(self, lat: float, lon: float, max_m: float = MAX_SNAP_M) -> Snap:
        return self.index.snap(lat, lon, max_m)

    def prepare(self, progress: ProgressCallback | None = None) -> HierarchyQuery:
        """Load or build the hierarchy now (it is otherwise built on the first CH query)."""
        if self._ch is None:
            if self._hierarchy is None:
                self._hierarchy = hierarchy_for(self.net, self.profile, progress)
            self._ch = HierarchyQuery(self._hierarchy)
        return self._ch

    def _lists(self) -> tuple[Adjacency, Adjacency]:
        if self._fwd is None or self._bwd is None:
            g = self.graph
            self._fwd = adjacency(g.indptr, g.indices, g.seconds)
            order = np.argsort(g.indices, kind="stable")
            tails = g.tails()
            indptr = np.zeros(g.n_nodes + 1, dtype=np.int64)
            np.cumsum(np.bincount(g.indices, minlength=g.n_nodes), out=indptr[1:])
            self._bwd = adjacency(indptr, tails[order], g.seconds[order])
        return self._fwd, self._bwd

    # -- searches over nodes with seeds -----------------------------------------------------
    def search(self, sources: Seeds, targets: Seeds, method: Method = "ch") -> tuple[float, list[int]]:
        """Exact least cost from any (node, initial cost) source to any (node, final cost) target,
        and the node path; ``(inf, [])`` if unreachable."""
        if method == "ch":
            return self.prepare().search(sources, targets)
        if method == "astar":
            return self._astar(sources, targets)
        return bidirectional(*self._lists(), sources, targets)

    def _astar(self, sources: Seeds, targets: Seeds) -> tuple[float, list[int]]:
        fwd_adj, _ = self._lists()
        goal: dict[int, float] = {}
        for node, c in targets:
            goal[node] = min(c, goal.get(node, math.inf))
        if not goal:
            return math.inf, []
        xyz, scale = self._xyz, self._h_scale
        # h(v) = min over target seeds of (chord time to the seed's node + its final cost): each
        # term is a lower bound of finishing through that seed, so the min is admissible, and a
        # min of consistent functions is consistent.
        tg = [(xyz[n][0], xyz[n][1], xyz[n][2], c) for n, c in goal.items()]

        def h(v: int) -> float:
            x, y, z = xyz[v]
            return min(
                math.sqrt((x - a) ** 2 + (y - b) ** 2 + (z - cz) ** 2) * scale + c for a, b, cz, c in tg
            )

        g: dict[int, float] = {}
        parent: dict[int, int] = {}
        heap: list[tuple[float, float, int]] = []
        for node, c in sources:
            if c < g.get(node, math.inf):
                g[node] = c
                parent[node] = -1
                heap.append((c + h(node), c, node))
        heapq.heapify(heap)
        best, end = math.inf, -1
        while heap:
            f, d, u = heapq.heappop(heap)
            if f >= best:
                break
            if d > g[u]:
                continue
            if u in goal and d + goal[u] < best:
                best, end = d + goal[u], u
            for v, w in fwd_adj[u]:
                nd = d + w
                if nd < g.get(v, math.inf):
                    g[v] = nd
                    parent[v] = u
                    heapq.heappush(heap, (nd + h(v), nd, v))
        if end < 0:
            return math.inf, []
        return best, trace(parent, end)[::-1]

    # -- public queries ---------------------------------------------------------------------
    def node_route(self, source: int, target: int, method: Method = "ch") -> Route:
        """Route between two graph nodes."""
        cost, nodes = self.search([(source, 0.0)], [(target, 0.0)], method)
        if not nodes:
            return Route(math.inf, math.inf, [], [])
        coords, length = self._edges_geometry(nodes)
        return Route(cost, length, nodes, coords)

    def route(
        self,
        from_lat: float,
        from_lon: float,
        to_lat: float,
        to_lon: float,
        method: Method = "ch",
        max_snap_m: float = MAX_SNAP_M,
    ) -> Route:
        """Exact route between two points; :class:`OutsideNetwork` if either does not snap.

        An unreachable destination (the other side of a one-way maze, an island) gives a Route
        with ``seconds == inf`` and no coordinates.
        """
        net, profile = self.net, self.profile
        src = self.snap(from_lat, from_lon, max_snap_m)
        dst = self.snap(to_lat, to_lon, max_snap_m)
        leave = leave_seeds(net, profile, src)
        reach = reach_seeds(net, profile, dst)
        cost, nodes = self.search([(n, c) for n, c, _ in leave], [(n, c) for n, c, _ in reach], method)
        direct = direct_seconds(net, profile, src, dst)
        extra_s = (src.distance_m + dst.distance_m) / WALK_SPEED_MPS if profile == "walk" else 0.0
        start = [(float(from_lon), float(from_lat))]
        end = [(float(to_lon), float(to_lat))]
        if math.isfinite(direct) and direct <= cost:
            coords = self._along(src.segment, src.offset_m, dst.offset_m)
            length = abs(dst.offset_m - src.offset_m)
            return Route(direct + extra_s, length, [], _dedup(start + coords + end))
        if not nodes:
            return Route(math.inf, math.inf, [], [])
        first = min((s for s in leave if s[0] == nodes[0]), key=lambda s: s[1])
        last = min((s for s in reach if s[0] == nodes[-1]), key=lambda s: s[1])
        seg_len_src = float(net.seg_length_m[src.segment])
        seg_len_dst = float(net.seg_length_m[dst.segment])
        head = self._along(src.segment, src.offset_m, seg_len_src if first[2] else 0.0)
        tail = self._along(dst.segment, 0.0 if last[2] else seg_len_dst, dst.offset_m)
        middle, length = self._edges_geometry(nodes)
        length += abs((seg_len_src if first[2] else 0.0) - src.offset_m)
        length += abs((0.0 if last[2] else seg_len_dst) - dst.offset_m)
        return Route(cost + extra_s, length, nodes, _dedup(start + head + middle + tail + end))

    # -- geometry ---------------------------------------------------------------------------
    def _along(self, seg: int, from_m: float, to_m: float) -> list[tuple[float, float]]:
        """Coordinates along segment ``seg`` between two offsets (either direction), ends
        interpolated."""
        net = self.net
        a, b = int(net.seg_a[seg]), int(net.seg_b[seg])
        cum = net.pt_cum_m[a : b + 1] - net.pt_cum_m[a]
        lo, hi = min(from_m, to_m), max(from_m, to_m)
        inner = np.flatnonzero((cum > lo) & (cum < hi)) + a
        lat = np.concatenate(([np.interp(lo, cum, net.pt_lat[a : b + 1])], net.pt_lat[inner]))
        lon = np.concatenate(([np.interp(lo, cum, net.pt_lon[a : b + 1])], net.pt_lon[inner]))
        lat = np.append(lat, np.interp(hi, cum, net.pt_lat[a : b + 1]))
        lon = np.append(lon, np.interp(hi, cum, net.pt_lon[a : b + 1]))
        coords = list(zip(lon.tolist(), lat.tolist(), strict=True))
        return coords if from_m <= to_m else coords[::-1]

    def _edges_geometry(self, nodes: list[int]) -> tuple[list[tuple[float, float]], float]:
        net, g = self.net, self.graph
        coords: list[tuple[float, float]] = [(float(net.node_lon[nodes[0]]), float(net.node_lat[nodes[0]]))]
        length = 0.0
        for u, v in itertools.pairwise(nodes):
            lo, hi = int(g.indptr[u]), int(g.indptr[u + 1])
            e = lo + int(np.flatnonzero(g.indices[lo:hi] == v)[0])
            seg = int(g.segment[e])
            a, b = int(net.seg_a[seg]), int(net.seg_b[seg])
            lon, lat = net.pt_lon[a : b + 1], net.pt_lat[a : b + 1]
            if g.reverse[e]:
                lon, lat = lon[::-1], lat[::-1]
            coords.extend(zip(lon[1:].tolist(), lat[1:].tolist(), strict=True))
            length += float(g.length_m[e])
        return coords, length


def _dedup(coords: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = coords[:1]
    for c in coords[1:]:
        if c != out[-1]:
            out.append(c)
    return out


def _unit_xyz(lat_deg: FloatArray, lon_deg: FloatArray) -> FloatArray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=-1)
