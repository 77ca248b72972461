"""The bidirectional search on its own, over random graphs, against scipy's Dijkstra.

Its use on the road graphs and on the contraction hierarchies is checked in ``test_roads``; here
the search alone: seeds with initial costs, meetings at a seed, unreachable targets, and a
hierarchy built from the same random graph.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from maas.ch import HierarchyQuery, build_hierarchy
from maas.graph import Graph
from maas.search import Adjacency, adjacency, bidirectional, trace


def random_graph(n: int, m: int, seed: int) -> Graph:
    """A directed graph of ``m`` random edges (no loops, fastest of parallel edges kept)."""
    rng = np.random.default_rng(seed)
    tail = rng.integers(0, n, m)
    head = rng.integers(0, n, m)
    w = rng.uniform(1.0, 100.0, m)
    keep = tail != head
    order = np.lexsort((w[keep], head[keep], tail[keep]))
    tail, head, w = tail[keep][order], head[keep][order], w[keep][order]
    first = np.ones(len(tail), dtype=bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, w = tail[first], head[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    return Graph(
        indptr=indptr,
        indices=head.astype(np.int64),
        seconds=w,
        length_m=w,
        segment=np.arange(len(w), dtype=np.int64),
        reverse=np.zeros(len(w), dtype=bool),
    )


def lists(g: Graph) -> tuple[Adjacency, Adjacency]:
    order = np.argsort(g.indices, kind="stable")
    indptr = np.zeros(g.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(g.indices, minlength=g.n_nodes), out=indptr[1:])
    return adjacency(g.indptr, g.indices, g.seconds), adjacency(indptr, g.tails()[order], g.seconds[order])


def path_cost(g: Graph, nodes: list[int]) -> float:
    m = g.csr()
    return sum(float(m[u, v]) for u, v in itertools.pairwise(nodes))


@pytest.fixture(scope="module")
def graph() -> Graph:
    return random_graph(300, 900, seed=2)  # sparse enough to leave some pairs unreachable


@pytest.fixture(scope="module")
def hierarchy(graph: Graph) -> HierarchyQuery:
    return HierarchyQuery(build_hierarchy(graph))


def mode_lists(graph: Graph, hierarchy: HierarchyQuery, upward: bool) -> tuple[Adjacency, Adjacency]:
    """The search's two lists: the graph and its reverse, or a hierarchy's up and down edges."""
    return (hierarchy.up, hierarchy.down) if upward else lists(graph)


def test_adjacency_lists_the_csr_rows() -> None:
    g = random_graph(6, 20, seed=1)
    fwd, bwd = lists(g)
    dense = g.csr().toarray()
    assert [sorted(v for v, _ in row) for row in fwd] == [np.flatnonzero(r).tolist() for r in dense]
    assert [sorted(u for u, _ in col) for col in bwd] == [np.flatnonzero(c).tolist() for c in dense.T]
    assert all(dense[u, v] == w for u, row in enumerate(fwd) for v, w in row)
    assert all(dense[u, v] == w for v, col in enumerate(bwd) for u, w in col)


def test_trace_follows_parents_to_the_seed() -> None:
    assert trace({4: 2, 2: 7, 7: -1}, 4) == [4, 2, 7]
    assert trace({5: -1}, 5) == [5]


def test_plain_search_equals_scipy(graph: Graph) -> None:
    fwd, bwd = lists(graph)
    ref = dijkstra(graph.csr(), indices=np.arange(40))
    unreachable = 0
    for s in range(40):
        for t in range(0, graph.n_nodes, 7):
            cost, nodes = bidirectional(fwd, bwd, [(s, 0.0)], [(t, 0.0)])
            if math.isinf(ref[s, t]):
                unreachable += 1
                assert math.isinf(cost) and nodes == []
                continue
            assert cost == pytest.approx(ref[s, t], rel=1e-12)
            assert nodes[0] == s and nodes[-1] == t
            assert path_cost(graph, nodes) == pytest.approx(cost, rel=1e-12)
    assert 0 < unreachable < 40 * graph.n_nodes // 7 // 2  # both cases are exercised


@pytest.mark.parametrize("upward", [False, True])
def test_seeds_with_initial_costs(graph: Graph, hierarchy: HierarchyQuery, upward: bool) -> None:
    """The least of (source cost + distance + target cost) over every pair of seeds."""
    fwd, bwd = mode_lists(graph, hierarchy, upward)
    rng = np.random.default_rng(4)
    d = dijkstra(graph.csr())
    for _ in range(60):
        src = rng.choice(graph.n_nodes, 3, replace=False).tolist()
        dst = rng.choice(graph.n_nodes, 2, replace=False).tolist()
        cs, ct = rng.uniform(0, 150, 3).tolist(), rng.uniform(0, 150, 2).tolist()
        expected = min(cs[i] + d[s, t] + ct[j] for i, s in enumerate(src) for j, t in enumerate(dst))
        cost, _ = bidirectional(
            fwd, bwd, list(zip(src, cs, strict=True)), list(zip(dst, ct, strict=True)), upward=upward
        )
        if math.isinf(expected):
            assert math.isinf(cost)
        else:
            assert cost == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("upward", [False, True])
def test_meeting_at_a_seed(graph: Graph, hierarchy: HierarchyQuery, upward: bool) -> None:
    fwd, bwd = mode_lists(graph, hierarchy, upward)
    cost, nodes = bidirectional(fwd, bwd, [(5, 2.5)], [(5, 1.0)], upward=upward)
    assert (cost, nodes) == (3.5, [5])
    # the cheaper of two duplicate seeds counts
    cost, nodes = bidirectional(fwd, bwd, [(5, 9.0), (5, 2.0)], [(5, 1.0)], upward=upward)
    assert (cost, nodes) == (3.0, [5])


@pytest.mark.parametrize("upward", [False, True])
def test_no_seeds_no_answer(graph: Graph, hierarchy: HierarchyQuery, upward: bool) -> None:
    fwd, bwd = mode_lists(graph, hierarchy, upward)
    assert bidirectional(fwd, bwd, [], [(1, 0.0)], upward=upward) == (math.inf, [])
    assert bidirectional(fwd, bwd, [(1, 0.0)], [], upward=upward) == (math.inf, [])


def test_hierarchy_paths_unpack_to_graph_paths(graph: Graph, hierarchy: HierarchyQuery) -> None:
    q = hierarchy
    ref = dijkstra(graph.csr(), indices=np.arange(0, graph.n_nodes, 11))
    for i, s in enumerate(range(0, graph.n_nodes, 11)):
        for t in range(3, graph.n_nodes, 13):
            cost, nodes = q.search([(s, 0.0)], [(t, 0.0)])
            if math.isinf(ref[i, t]):
                assert nodes == []
                continue
            assert cost == pytest.approx(ref[i, t], rel=1e-12)
            assert path_cost(graph, nodes) == pytest.approx(cost, rel=1e-12)
