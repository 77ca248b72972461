"""Road routing on the real Terre Haute extract, checked against scipy's Dijkstra on the same CSR.

Every exact method (bidirectional Dijkstra, A*, contraction hierarchies) must give scipy's cost
on a few hundred random node pairs, and its node path must cost what it claims. Point queries,
one-way streets, snapping, the one-to-many tables and the stop footpaths are checked against
point routes and geometry.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import zipfile
from pathlib import Path

import numpy as np
import osmium
import pytest
from scipy.sparse.csgraph import dijkstra

from core.errors import Invalid
from maas.ch import HierarchyQuery, hierarchy_for
from maas.graph import WALK_SPEED_MPS, Profile, RoadNetwork, haversine_m
from maas.osm import import_osm
from maas.roads import OutsideNetwork, RoadRouter, SnapIndex
from maas.tables import stop_footpaths, travel_matrix, travel_times, walk_access

DATA = Path(__file__).resolve().parents[1] / "data" / "mobility"
PBF = DATA / "terre-haute.osm.pbf"
N_PAIRS = 300


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return import_osm(PBF, tmp_path_factory.mktemp("roads"), contract=("car", "walk"))


@pytest.fixture(scope="module")
def routers(net: RoadNetwork) -> dict[str, RoadRouter]:
    return {"car": RoadRouter(net, "car"), "walk": RoadRouter(net, "walk")}


@pytest.fixture(scope="module")
def stops() -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(DATA / "terre-haute-gtfs.zip") as z:
        rows = list(csv.DictReader(io.TextIOWrapper(z.open("stops.txt"), "utf-8-sig")))
    return np.array([float(r["stop_lat"]) for r in rows]), np.array([float(r["stop_lon"]) for r in rows])


def _path_cost(net: RoadNetwork, profile: Profile, nodes: list[int]) -> float:
    g = net.graph(profile)
    total = 0.0
    for u, v in itertools.pairwise(nodes):
        row = slice(g.indptr[u], g.indptr[u + 1])
        hit = np.flatnonzero(g.indices[row] == v)
        assert len(hit) == 1, f"no edge {u}->{v}"
        total += float(g.seconds[row][hit[0]])
    return total


@pytest.mark.parametrize("profile", ["car", "walk"])
def test_exact_methods_equal_scipy(
    net: RoadNetwork, routers: dict[str, RoadRouter], profile: Profile
) -> None:
    rng = np.random.default_rng(5)
    g = net.graph(profile)
    active = np.flatnonzero(np.diff(g.indptr) > 0)  # nodes the profile can leave
    src = rng.choice(active, N_PAIRS)
    dst = rng.choice(active, N_PAIRS)
    ref = dijkstra(g.csr(), indices=src)[np.arange(N_PAIRS), dst]
    assert np.isfinite(ref).mean() > 0.6  # most pairs connected: the test compares real paths
    router = routers[profile]
    for method in ("dijkstra", "astar", "ch"):
        for s, t, expected in zip(src.tolist(), dst.tolist(), ref.tolist(), strict=True):
            cost, nodes = router.search([(s, 0.0)], [(t, 0.0)], method)
            if math.isinf(expected):
                assert math.isinf(cost) and nodes == [], (method, s, t)
                continue
            assert cost == pytest.approx(expected, rel=1e-9, abs=1e-9), (method, s, t)
            assert nodes[0] == s and nodes[-1] == t
            assert _path_cost(net, profile, nodes) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_hierarchy_is_cached_and_reloaded(net: RoadNetwork) -> None:
    path = Path(net.cache_dir)
    assert (path / "ch-car.v1.npz").exists() and (path / "ch-walk.v1.npz").exists()
    h = hierarchy_for(net, "car")
    assert np.array_equal(np.sort(h.rank), np.arange(net.n_nodes))
    # a fresh query object on the loaded hierarchy answers like scipy
    q = HierarchyQuery(h)
    d = dijkstra(net.car.csr(), indices=[10])[0]
    for t in range(0, net.n_nodes, 401):
        assert q.search([(10, 0.0)], [(t, 0.0)])[0] == pytest.approx(d[t], rel=1e-9)


def test_seeded_searches_take_the_cheaper_start(net: RoadNetwork, routers: dict[str, RoadRouter]) -> None:
    rng = np.random.default_rng(9)
    d = dijkstra(net.car.csr(), indices=np.arange(40))
    for _ in range(30):
        a, b = rng.choice(40, 2, replace=False).tolist()
        t = int(rng.integers(net.n_nodes))
        ca, cb = float(rng.uniform(0, 200)), float(rng.uniform(0, 200))
        ct = float(rng.uniform(0, 50))
        expected = min(ca + d[a, t], cb + d[b, t]) + ct
        for method in ("dijkstra", "astar", "ch"):
            cost, _ = routers["car"].search([(a, ca), (b, cb)], [(t, ct)], method)
            assert cost == pytest.approx(expected, rel=1e-9) or (math.isinf(cost) and math.isinf(expected))


def _point_on(net: RoadNetwork, seg: int, fraction: float) -> tuple[float, float]:
    a, b = int(net.seg_a[seg]), int(net.seg_b[seg])
    cum = net.pt_cum_m[a : b + 1] - net.pt_cum_m[a]
    target = fraction * float(net.seg_length_m[seg])
    return (
        float(np.interp(target, cum, net.pt_lat[a : b + 1])),
        float(np.interp(target, cum, net.pt_lon[a : b + 1])),
    )


def test_point_routes_on_a_one_way_block(net: RoadNetwork, routers: dict[str, RoadRouter]) -> None:
    fp = osmium.FileProcessor(str(PBF), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("oneway"))
    one_way = [w.id for w in fp if w.tags.get("oneway") == "yes" and w.tags.get("highway") == "residential"]
    segs = np.flatnonzero(np.isin(net.seg_way_osm_id, one_way) & (net.seg_length_m > 80))
    seg = int(segs[0])
    a_lat, a_lon = _point_on(net, seg, 0.25)
    b_lat, b_lon = _point_on(net, seg, 0.75)
    block = 0.5 * float(net.seg_car_fwd_s[seg])
    for method in ("dijkstra", "astar", "ch"):
        ahead = routers["car"].route(a_lat, a_lon, b_lat, b_lon, method)
        assert ahead.seconds == pytest.approx(block, rel=1e-6)
        assert ahead.distance_m == pytest.approx(0.5 * net.seg_length_m[seg], rel=1e-6)
        back = routers["car"].route(b_lat, b_lon, a_lat, a_lon, method)
        assert back.seconds > 2 * block  # around the block, never against the arrow
        assert back.nodes[0] == net.seg_v[seg] and back.nodes[-1] == net.seg_u[seg]
        # walking ignores the arrow
        walk = routers["walk"].route(b_lat, b_lon, a_lat, a_lon, method)
        assert walk.seconds == pytest.approx(0.5 * net.seg_length_m[seg] / WALK_SPEED_MPS, rel=1e-6, abs=1e-6)
    assert back.coordinates[0] == (b_lon, b_lat) and back.coordinates[-1] == (a_lon, a_lat)
    geo = back.geojson()
    assert geo["type"] == "LineString"
    lon, lat = np.array(geo["coordinates"]).T
    assert haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum() == pytest.approx(back.distance_m, rel=1e-3)


def test_point_routes_agree_across_methods_and_with_tables(
    net: RoadNetwork, routers: dict[str, RoadRouter]
) -> None:
    rng = np.random.default_rng(3)
    car_nodes = rng.choice(np.flatnonzero(np.diff(net.car.indptr) > 0), 12)
    jitter = rng.uniform(-0.001, 0.001, (12, 2))  # ~100 m: points between streets, off the nodes
    pts = np.column_stack((net.node_lat[car_nodes], net.node_lon[car_nodes])) + jitter
    for profile in ("car", "walk"):
        router = routers[profile]
        o = pts[0]
        table = travel_times(net, profile, o[0], o[1], pts[1:, 0], pts[1:, 1], index=router.index)
        back = travel_times(
            net, profile, o[0], o[1], pts[1:, 0], pts[1:, 1], reverse=True, index=router.index
        )
        matrix = travel_matrix(net, profile, pts[:3, 0], pts[:3, 1], pts[:, 0], pts[:, 1], index=router.index)
        for j, p in enumerate(pts[1:]):
            routes = [router.route(o[0], o[1], p[0], p[1], m) for m in ("dijkstra", "astar", "ch")]
            assert routes[0].seconds == pytest.approx(routes[1].seconds, rel=1e-9)
            assert routes[0].seconds == pytest.approx(routes[2].seconds, rel=1e-9)
            assert table[j] == pytest.approx(routes[2].seconds, rel=1e-9)
            assert matrix[0, j + 1] == pytest.approx(routes[2].seconds, rel=1e-9)
            assert back[j] == pytest.approx(router.route(p[0], p[1], o[0], o[1]).seconds, rel=1e-9)
            off_road = router.snap(o[0], o[1]).distance_m + router.snap(p[0], p[1]).distance_m
            straight = haversine_m(o[0], o[1], p[0], p[1])
            if math.isfinite(routes[2].seconds):
                assert routes[2].distance_m + off_road >= straight * (1 - 1e-3)
                assert routes[2].coordinates[0] == (o[1], o[0])
            else:
                assert routes[2].coordinates == [] and routes[0].nodes == []
        if profile == "car":
            assert matrix[1, 1] == 0.0  # a point to itself, on the road it snapped to
    limited = travel_times(net, "car", pts[0, 0], pts[0, 1], pts[1:, 0], pts[1:, 1], limit_s=120.0)
    assert np.all(np.isinf(limited[table > 120.0]))


def test_snapping_to_a_known_street(net: RoadNetwork, routers: dict[str, RoadRouter]) -> None:
    fp = osmium.FileProcessor(str(PBF), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("name"))
    wabash = {w.id for w in fp if w.tags.get("name") == "Wabash Avenue"}
    segs = np.flatnonzero(np.isin(net.seg_way_osm_id, list(wabash)) & (net.seg_length_m > 100))
    assert len(segs) > 0
    for seg in segs[:5].tolist():
        lat, lon = _point_on(net, seg, 0.5)
        snap = routers["car"].snap(lat + 6e-5, lon)  # ~7 m north of the centre line
        assert snap.segment == seg
        assert 4.0 < snap.distance_m < 8.0
        assert snap.offset_m == pytest.approx(0.5 * net.seg_length_m[seg], abs=10.0)
        exact = routers["car"].snap(lat, lon)
        assert exact.distance_m < 0.01 and exact.offset_m == pytest.approx(
            0.5 * net.seg_length_m[seg], abs=0.5
        )


def test_snapping_is_the_exact_nearest_segment(net: RoadNetwork) -> None:
    index = SnapIndex(net, "walk")
    rng = np.random.default_rng(11)
    lat = rng.uniform(net.node_lat.min(), net.node_lat.max(), 40)
    lon = rng.uniform(net.node_lon.min(), net.node_lon.max(), 40)
    xy = index.proj.xy(lat, lon)
    a, b = index.p0, index.p1
    ab = b - a
    for q, snap in zip(xy, index.snap_many(lat, lon, max_m=1e9), strict=True):
        t = np.clip(((q - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        brute = np.linalg.norm(a + t[:, None] * ab - q, axis=1).min()
        assert snap is not None and snap.distance_m == pytest.approx(brute, abs=1e-6)


def test_far_point_is_outside_the_network(net: RoadNetwork, routers: dict[str, RoadRouter]) -> None:
    lat, lon = float(np.median(net.node_lat)) + 0.45, float(np.median(net.node_lon))  # ~50 km north
    with pytest.raises(OutsideNetwork, match="outside the network's area") as err:
        routers["car"].route(lat, lon, float(net.node_lat[0]), float(net.node_lon[0]))
    assert isinstance(err.value, Invalid) and err.value.code == "outside_network"
    with pytest.raises(OutsideNetwork):
        travel_times(net, "walk", lat, lon, net.node_lat[:3], net.node_lon[:3])
    assert np.all(
        np.isinf(travel_times(net, "car", float(net.node_lat[0]), float(net.node_lon[0]), [lat], [lon]))
    )


def test_stop_footpaths_walk_the_graph(
    net: RoadNetwork, routers: dict[str, RoadRouter], stops: tuple[np.ndarray, np.ndarray]
) -> None:
    lat, lon = stops
    frm, to, secs = stop_footpaths(net, lat, lon, max_m=400.0)
    assert len(frm) > 20 and np.all(frm != to)
    straight = haversine_m(lat[frm], lon[frm], lat[to], lon[to])
    assert np.all(secs * WALK_SPEED_MPS >= straight * (1 - 1e-6))
    assert np.all(secs * WALK_SPEED_MPS <= 400.0)
    assert (secs * WALK_SPEED_MPS > straight * 1.05).mean() > 0.2  # streets are not straight lines
    pairs = dict(zip(zip(frm.tolist(), to.tolist(), strict=True), secs.tolist(), strict=True))
    for (i, j), s in pairs.items():
        assert pairs[(j, i)] == pytest.approx(s, rel=1e-9)
    for (i, j), s in list(pairs.items())[:15]:
        assert routers["walk"].route(lat[i], lon[i], lat[j], lon[j]).seconds == pytest.approx(s, rel=1e-9)
    # the walking access to nearby stops agrees with the footpaths from a stop's own position
    i0 = int(frm[0])
    near, access = walk_access(net, float(lat[i0]), float(lon[i0]), lat, lon, max_m=400.0)
    got = dict(zip(near.tolist(), access.tolist(), strict=True))
    to_road = routers["walk"].snap(float(lat[i0]), float(lon[i0])).distance_m
    assert got[i0] == pytest.approx(2 * to_road / WALK_SPEED_MPS, abs=1e-6)  # there and back
    for (i, j), s in pairs.items():
        if i == i0:
            assert got[j] == pytest.approx(s, rel=1e-9)
