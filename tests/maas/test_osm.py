"""OSM import on the real Terre Haute extract: graph rules, one-way streets, the disk cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import osmium
import pytest
from scipy.sparse.csgraph import dijkstra

from maas.graph import CACHE_VERSION, WALK_SPEED_MPS, RoadNetwork, haversine_m
from maas.osm import (
    CAR_SPEED_KMH,
    MIN_EDGE_SECONDS,
    build_network,
    cache_key,
    car_rules,
    import_osm,
    parse_maxspeed,
    walk_allowed,
)

PBF = Path(__file__).resolve().parents[1] / "data" / "mobility" / "terre-haute.osm.pbf"


@pytest.fixture(scope="module")
def net() -> RoadNetwork:
    return build_network(PBF)


@pytest.fixture(scope="module")
def way_tags() -> dict[int, dict[str, str]]:
    fp = osmium.FileProcessor(str(PBF), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
    return {w.id: {t.k: t.v for t in w.tags} for w in fp}


def test_csr_is_well_formed(net: RoadNetwork) -> None:
    for g in (net.car, net.walk):
        assert g.indptr[0] == 0 and g.indptr[-1] == g.n_edges
        assert np.all(np.diff(g.indptr) >= 0)
        assert g.indices.min() >= 0 and g.indices.max() < net.n_nodes
        assert np.all(g.seconds >= MIN_EDGE_SECONDS) and np.all(np.isfinite(g.seconds))
        assert np.all(g.tails() != g.indices)  # no loops
        pairs = g.tails() * net.n_nodes + g.indices
        assert len(np.unique(pairs)) == g.n_edges  # parallel edges reduced
        # every edge runs along its segment between that segment's end nodes
        u, v = net.seg_u[g.segment], net.seg_v[g.segment]
        assert np.array_equal(np.where(g.reverse, v, u), g.tails())
        assert np.array_equal(np.where(g.reverse, u, v), g.indices)
        assert np.allclose(g.length_m, net.seg_length_m[g.segment])
    # the contraction leaves far fewer graph nodes than OSM nodes, and geometry keeps them all
    assert 5_000 < net.n_nodes < len(net.pt_lat) / 2


def test_walking_graph_is_symmetric_at_walking_speed(net: RoadNetwork) -> None:
    m = net.walk.csr()
    assert abs(m - m.T).max() == 0
    fast = net.walk.length_m > 1.0
    assert np.allclose(net.walk.length_m[fast] / net.walk.seconds[fast], WALK_SPEED_MPS)


def test_segment_lengths_follow_the_polyline(net: RoadNetwork) -> None:
    for s in range(0, len(net.seg_a), 997):
        a, b = net.seg_a[s], net.seg_b[s]
        lat, lon = net.pt_lat[a : b + 1], net.pt_lon[a : b + 1]
        assert net.seg_length_m[s] == pytest.approx(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum())
        assert (lat[0], lon[0]) == (net.node_lat[net.seg_u[s]], net.node_lon[net.seg_u[s]])
        assert (lat[-1], lon[-1]) == (net.node_lat[net.seg_v[s]], net.node_lon[net.seg_v[s]])


def test_one_way_streets_are_driven_one_way(net: RoadNetwork, way_tags: dict[int, dict[str, str]]) -> None:
    one_way = [i for i, t in way_tags.items() if t.get("oneway") == "yes" and t["highway"] == "residential"]
    reverse = [i for i, t in way_tags.items() if t.get("oneway") == "-1"]
    roundabout = [i for i, t in way_tags.items() if t.get("junction") == "roundabout"]
    assert one_way and reverse and roundabout
    car_csr = net.car.csr()
    for ways, forward in ((one_way, True), (roundabout, True), (reverse, False)):
        segs = np.flatnonzero(np.isin(net.seg_way_osm_id, ways))
        assert len(segs) > 0
        allowed, closed = (
            (net.seg_car_fwd_s, net.seg_car_bwd_s) if forward else (net.seg_car_bwd_s, net.seg_car_fwd_s)
        )
        assert np.all(np.isfinite(allowed[segs])) and np.all(np.isinf(closed[segs]))
        # no car edge runs along these segments against the way's direction
        on = np.isin(net.car.segment, segs)
        assert np.all(net.car.reverse[on] != forward)
        # the walking graph ignores one-way rules
        assert np.all(np.isfinite(net.seg_walk_s[segs]))
    # a real one-way block: driving it backwards costs a detour (or is impossible)
    s = next(
        int(s) for s in np.flatnonzero(np.isin(net.seg_way_osm_id, one_way)) if net.seg_u[s] != net.seg_v[s]
    )
    u, v = int(net.seg_u[s]), int(net.seg_v[s])
    d = dijkstra(car_csr, indices=[u, v])
    assert d[0, v] <= net.seg_car_fwd_s[s] + 1e-9
    assert d[1, u] > net.seg_car_fwd_s[s]


def test_access_rules(net: RoadNetwork, way_tags: dict[int, dict[str, str]]) -> None:
    private = [i for i, t in way_tags.items() if t.get("access") == "private" and "motor_vehicle" not in t]
    motorway = [i for i, t in way_tags.items() if t["highway"] == "motorway"]
    foot_no = [i for i, t in way_tags.items() if t.get("foot") == "no"]
    proposed = [i for i, t in way_tags.items() if t["highway"] == "proposed"]
    assert not np.isin(private + proposed, net.seg_way_osm_id[np.isfinite(net.seg_car_fwd_s)]).any()
    walkable = net.seg_way_osm_id[np.isfinite(net.seg_walk_s)]
    assert not np.isin(motorway + foot_no + proposed, walkable).any()
    # motorways are one-way by implication, at their signed 70 mph
    segs = np.flatnonzero(np.isin(net.seg_way_osm_id, motorway))
    assert np.all(np.isinf(net.seg_car_bwd_s[segs]))
    mph70 = [i for i in motorway if way_tags[i].get("maxspeed") == "70 mph"]
    segs = np.flatnonzero(np.isin(net.seg_way_osm_id, mph70) & (net.seg_length_m > 10))
    assert np.allclose(net.seg_length_m[segs] / net.seg_car_fwd_s[segs], 70 * 1.609344 / 3.6)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("PT:urban", 50.0),
        ("RU:rural", 90.0),
        ("DE:zone30", 30.0),
        ("50;30", 50.0),
        ("signals", None),
        ("", None),
        (None, None),
        ("0", None),
    ],
)
def test_parse_maxspeed(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed(value) == (pytest.approx(kmh) if kmh else None)


def test_default_speeds_rank_the_road_classes() -> None:
    """The defaults are free-flow guesses, not limits: what must hold is their order (a faster
    class never gets a lower default than a slower one), so routes prefer the arterials as the
    road hierarchy (OSM wiki, Key:highway) intends."""
    ranked = ["motorway", "trunk", "primary", "secondary", "tertiary", "residential", "living_street"]
    speeds = [CAR_SPEED_KMH[h] for h in ranked]
    assert speeds == sorted(speeds, reverse=True) and len(set(speeds)) == len(speeds)
    for link in ("motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link"):
        assert CAR_SPEED_KMH[link] < CAR_SPEED_KMH[link.removesuffix("_link")]
    # the wiki's minor classes: unclassified is the lowest of the connecting network (below
    # tertiary, not below residential); service roads give access, so no faster than residential
    # streets, and not slower than a living street (walking pace)
    kmh = CAR_SPEED_KMH
    assert (
        kmh["tertiary"] > kmh["unclassified"] >= kmh["residential"] >= kmh["service"] >= kmh["living_street"]
    )


def test_tag_rules() -> None:
    """Direction and access follow the OSM wiki's rules (Key:oneway: motorways and roundabouts are
    one-way unless tagged otherwise, "-1" reverses; Key:access: the most specific transport-mode
    tag wins over ``access``). Speeds: a way's own ``maxspeed`` first, else its class's default."""
    default = CAR_SPEED_KMH
    assert car_rules({"highway": "residential"}) == (True, True, default["residential"])
    assert car_rules({"highway": "primary", "oneway": "-1", "maxspeed": "40"}) == (False, True, 40.0)
    assert car_rules({"highway": "primary", "junction": "roundabout"}) == (True, False, default["primary"])
    assert car_rules({"highway": "motorway"}) == (True, False, default["motorway"])
    assert car_rules({"highway": "motorway", "oneway": "no"}) == (True, True, default["motorway"])
    assert car_rules({"highway": "service", "access": "private"}) is None
    # motor_vehicle=yes is more specific than access=no: the way is open to cars, both ways
    assert car_rules({"highway": "service", "access": "no", "motor_vehicle": "yes"}) == (
        True,
        True,
        default["service"],
    )
    assert car_rules({"highway": "residential", "motorcar": "no", "access": "yes"}) is None
    assert car_rules({"highway": "footway"}) is None
    assert walk_allowed({"highway": "footway"})
    assert walk_allowed({"highway": "residential", "access": "private", "foot": "yes"})
    assert not walk_allowed({"highway": "motorway"})
    assert not walk_allowed({"highway": "primary", "foot": "no"})


def test_cache_round_trip(net: RoadNetwork, tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    first = import_osm(PBF, tmp_path, lambda what, frac: seen.append((what, frac)), contract=())
    fracs = [f for _, f in seen]
    assert fracs == sorted(fracs) and fracs[0] >= 0.0 and fracs[-1] == 1.0
    entry = tmp_path / cache_key(PBF)
    assert entry.name.endswith(f".v{CACHE_VERSION}") and (entry / "network.npz").exists()
    again = import_osm(PBF, tmp_path, contract=())
    assert again.cache_dir == str(entry) == first.cache_dir
    for name in RoadNetwork.__dataclass_fields__:
        a, b, c = getattr(net, name), getattr(first, name), getattr(again, name)
        if name in ("car", "walk"):
            for field in type(a).__dataclass_fields__:
                assert np.array_equal(getattr(a, field), getattr(c, field)), (name, field)
                assert getattr(c, field).dtype == getattr(a, field).dtype
        elif isinstance(a, np.ndarray):
            assert np.array_equal(a, b) and np.array_equal(a, c), name


def test_cache_misses_when_the_file_changes(tmp_path: Path) -> None:
    copy = tmp_path / "th.osm.pbf"
    shutil.copy(PBF, copy)
    import_osm(copy, tmp_path / "cache", contract=())
    key = cache_key(copy)
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache_key(copy) != key
    import_osm(copy, tmp_path / "cache", contract=())
    assert len(list((tmp_path / "cache").iterdir())) == 2
