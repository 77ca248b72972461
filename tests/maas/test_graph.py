"""The road network's arrays on a hand-made three-node street, apart from any OSM import."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from maas.graph import CACHE_VERSION, EARTH_RADIUS_M, Graph, RoadNetwork, haversine_m


def _graph(edges: list[tuple[int, int, float]], n: int) -> Graph:
    tail = np.array([e[0] for e in edges], dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    k = len(edges)
    return Graph(
        indptr=indptr,
        indices=np.array([e[1] for e in edges], dtype=np.int64),
        seconds=np.array([e[2] for e in edges]),
        length_m=np.array([e[2] * 10 for e in edges]),
        segment=np.arange(k, dtype=np.int64),
        reverse=np.zeros(k, dtype=bool),
    )


def street() -> RoadNetwork:
    """0 -> 1 one way for cars (segment 0), 1 <-> 2 both ways (segment 1); walking both ways."""
    car = _graph([(0, 1, 5.0), (1, 2, 7.0), (2, 1, 7.0)], 3)
    walk = _graph([(0, 1, 40.0), (1, 0, 40.0), (1, 2, 50.0), (2, 1, 50.0)], 3)
    f = np.array
    return RoadNetwork(
        node_lat=f([41.0, 41.001, 41.002]),
        node_lon=f([-8.6, -8.6, -8.6]),
        node_osm_id=f([10, 11, 12]),
        pt_lat=f([41.0, 41.001, 41.001, 41.002]),
        pt_lon=f([-8.6, -8.6, -8.6, -8.6]),
        pt_cum_m=f([0.0, 111.2, 111.2, 222.4]),
        seg_a=f([0, 2]),
        seg_b=f([1, 3]),
        seg_u=f([0, 1]),
        seg_v=f([1, 2]),
        seg_length_m=f([111.2, 111.2]),
        seg_way_osm_id=f([100, 101]),
        seg_car_fwd_s=f([5.0, 7.0]),
        seg_car_bwd_s=f([math.inf, 7.0]),
        seg_walk_s=f([40.0, 50.0]),
        car=car,
        walk=walk,
        source="hand-made",
    )


def test_graph_views() -> None:
    net = street()
    g = net.car
    assert (g.n_nodes, g.n_edges) == (3, 3)
    assert g.tails().tolist() == [0, 1, 2]
    assert g.csr().toarray().tolist() == [[0, 5, 0], [0, 0, 7], [0, 7, 0]]
    assert g.csr("length_m")[0, 1] == 50.0
    assert net.graph("walk") is net.walk and net.graph("car") is net.car
    fwd, bwd = net.segment_seconds("car")
    assert fwd.tolist() == [5.0, 7.0] and bwd[0] == math.inf
    assert net.segment_seconds("walk")[0] is net.segment_seconds("walk")[1]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    net = street()
    written = net.save(tmp_path / "entry")
    assert written == tmp_path / "entry" / "network.npz"
    again = RoadNetwork.load(tmp_path / "entry")
    assert again.source == "hand-made" and again.cache_dir == str(tmp_path / "entry")
    for name in RoadNetwork.__dataclass_fields__:
        a, b = getattr(net, name), getattr(again, name)
        if isinstance(a, Graph):
            for field in Graph.__dataclass_fields__:
                assert np.array_equal(getattr(a, field), getattr(b, field)), (name, field)
        elif isinstance(a, np.ndarray):
            assert np.array_equal(a, b), name


def test_load_refuses_another_version(tmp_path: Path) -> None:
    street().save(tmp_path)
    with np.load(tmp_path / "network.npz") as z:
        arrays = dict(z)
    arrays["version"] = np.int64(CACHE_VERSION + 1)
    np.savez(tmp_path / "network.npz", **arrays)
    with pytest.raises(ValueError, match="road cache version"):
        RoadNetwork.load(tmp_path)


def test_haversine_on_the_mean_sphere() -> None:
    one_degree = math.radians(1.0) * EARTH_RADIUS_M
    lat = np.array([0.0, 41.0])
    assert haversine_m(lat, np.zeros(2), lat + 1.0, np.zeros(2)) == pytest.approx([one_degree] * 2)
    assert haversine_m(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([180.0]))[0] == (
        pytest.approx(math.pi * EARTH_RADIUS_M)
    )
