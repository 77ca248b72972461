"""Bidirectional Dijkstra over pure-Python adjacency lists: the one point-to-point search behind
both the plain road graphs (``maas.roads``) and the contraction hierarchies (``maas.ch``).

Why pure Python: a query settles a few hundred (hierarchy) to a few thousand (plain graph) nodes,
while a call into ``scipy.sparse.csgraph`` allocates and scans arrays over all nodes. Lists of
``(head, weight)`` tuples are the fastest structure to relax edges from in CPython.

Each side may start from several seeds with initial costs (a point snapped onto an edge reaches
both of its ends) and the answer is the least cost over every seed pair. The two modes differ
only where the algorithm must:

- plain graph: the backward search runs on the reversed graph and the searches stop once their
  two smallest keys add up to the best meeting found; the side with the shorter queue goes next.
- hierarchy (``upward``): both searches only go up (forward over upward edges, backward over
  reversed downward edges), so the key-sum rule does not hold; each side runs until its own
  smallest key reaches the best meeting, the smaller key goes next, and stall-on-demand skips a
  node some higher node reaches cheaper (read from the other side's lists, which hold exactly
  the edges coming down to it).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

from maas.graph import FloatArray, IntArray

Adjacency = list[list[tuple[int, float]]]  # per node, (other node, weight) of its edges
Seeds = Sequence[tuple[int, float]]  # (node, initial cost) starts of one side


def adjacency(indptr: IntArray, indices: IntArray, weight: FloatArray) -> Adjacency:
    """CSR arrays as per-node lists of ``(index, weight)``."""
    pairs = list(zip(indices.tolist(), weight.tolist(), strict=True))
    ptr = indptr.tolist()
    return [pairs[ptr[i] : ptr[i + 1]] for i in range(len(ptr) - 1)]


def trace(parent: dict[int, int], end: int) -> list[int]:
    """Nodes from ``end`` back to the seed it was reached from (``parent`` is -1 at a seed)."""
    path = [end]
    while parent[path[-1]] >= 0:
        path.append(parent[path[-1]])
    return path


def bidirectional(
    fwd: Adjacency, bwd: Adjacency, sources: Seeds, targets: Seeds, *, upward: bool = False
) -> tuple[float, list[int]]:
    """Least cost from any source to any target and its node path, ``(inf, [])`` if none.

    ``fwd`` holds each node's outgoing edges and ``bwd`` its incoming ones (the reversed graph);
    with ``upward``, the upward edges of a hierarchy and its downward edges stored at their lower
    end. The path is in the nodes of the lists (a hierarchy path still has shortcuts in it).
    """
    df: dict[int, float] = {}
    db: dict[int, float] = {}
    pf: dict[int, int] = {}
    pb: dict[int, int] = {}
    hf: list[tuple[float, int]] = []
    hb: list[tuple[float, int]] = []
    for seeds, dist, parent, heap in ((sources, df, pf, hf), (targets, db, pb, hb)):
        for node, c in seeds:
            if c < dist.get(node, math.inf):
                dist[node] = c
                parent[node] = -1
                heap.append((c, node))
        heapq.heapify(heap)
    best, meet = math.inf, -1
    for node, c in df.items():
        if node in db and c + db[node] < best:
            best, meet = c + db[node], node
    # per side: its queue, the lists it relaxes, the lists it stalls on, its labels, the other's
    sides = ((hf, fwd, bwd, df, db, pf), (hb, bwd, fwd, db, df, pb))
    while True:
        if upward:
            if hf and (not hb or hf[0][0] <= hb[0][0]):
                heap, adj, stall_on, mine, other, parent = sides[0]
            elif hb:
                heap, adj, stall_on, mine, other, parent = sides[1]
            else:
                break
        elif hf and hb and hf[0][0] + hb[0][0] < best:
            heap, adj, stall_on, mine, other, parent = sides[0 if len(hf) <= len(hb) else 1]
        else:
            break
        d, u = heapq.heappop(heap)
        if upward:
            if d >= best:
                heap.clear()  # this side cannot improve the meeting any more
                continue
            if d > mine[u]:
                continue
            if any(mine.get(x, math.inf) + w < d for x, w in stall_on[u]):
                continue  # stalled: a higher node reaches u cheaper, u is not on the best path
        elif d > mine[u]:
            continue
        for v, w in adj[u]:
            nd = d + w
            if nd < mine.get(v, math.inf):
                mine[v] = nd
                parent[v] = u
                heapq.heappush(heap, (nd, v))
                o = other.get(v)
                if o is not None and nd + o < best:
                    best, meet = nd + o, v
    if meet < 0:
        return math.inf, []
    return float(best), trace(pf, meet)[::-1] + trace(pb, meet)[1:]
