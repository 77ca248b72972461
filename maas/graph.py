"""The road network's arrays: a CSR graph per profile over shared nodes, and the way segments
with their polylines that the edges run along.

Why a module of its own: the importer (``maas.osm``) builds these arrays, the contraction
hierarchies (``maas.ch``) are built from them, and the importer has the hierarchies built when it
caches a network. With the types here, ``maas.osm`` depends on ``maas.ch`` and both on this
module, without a cycle.

Units: edge lengths are great-circle (haversine) lengths of the polylines on a sphere of the mean
Earth radius, which the A* heuristic in ``maas.roads`` relies on (a chord is never longer than
the arc); walking times are those lengths at ``WALK_SPEED_MPS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix  # type: ignore[import-untyped, unused-ignore]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

Profile = Literal["car", "walk"]
# progress(what, fraction done in [0, 1]), the shape ``maas.gtfs`` and the CLI's bars use.
ProgressCallback = Callable[[str, float], None]

CACHE_VERSION: Final = 1  # bump whenever the arrays or their meaning change
EARTH_RADIUS_M: Final = 6_371_008.8  # IUGG mean radius; the heuristic uses the same sphere
WALK_SPEED_MPS: Final = 1.3  # a common planning figure for adults (~4.7 km/h)


@dataclass(frozen=True, slots=True)
class Graph:
    """A directed graph in CSR form: edges ``indptr[u]:indptr[u+1]`` leave node ``u``.

    ``segment``/``reverse`` say which way segment an edge runs along and whether against its
    drawing direction; parallel edges between two nodes were reduced to the fastest one.
    """

    indptr: IntArray
    indices: IntArray
    seconds: FloatArray
    length_m: FloatArray
    segment: IntArray
    reverse: BoolArray

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_edges(self) -> int:
        return len(self.indices)

    def csr(self, weight: Literal["seconds", "length_m"] = "seconds") -> csr_matrix:
        """The scipy sparse matrix of edge weights, for ``scipy.sparse.csgraph``."""
        n = self.n_nodes
        return csr_matrix((getattr(self, weight), self.indices, self.indptr), shape=(n, n))

    def tails(self) -> IntArray:
        """The source node of every edge (the row of each CSR entry)."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))


@dataclass(frozen=True, slots=True)
class RoadNetwork:
    """Nodes, way segments with their polylines, and one graph per profile.

    Points: every shape point of every kept way, way after way (``pt_*``; ``pt_cum_m`` is the
    running polyline length, so a segment's length is a difference). Segment ``s`` is the
    polyline ``pt[seg_a[s] : seg_b[s] + 1]`` from node ``seg_u[s]`` to node ``seg_v[s]``; its
    car times per direction and its walking time are ``inf`` where not allowed.
    """

    node_lat: FloatArray
    node_lon: FloatArray
    node_osm_id: IntArray
    pt_lat: FloatArray
    pt_lon: FloatArray
    pt_cum_m: FloatArray
    seg_a: IntArray
    seg_b: IntArray
    seg_u: IntArray
    seg_v: IntArray
    seg_length_m: FloatArray
    seg_way_osm_id: IntArray
    seg_car_fwd_s: FloatArray
    seg_car_bwd_s: FloatArray
    seg_walk_s: FloatArray
    car: Graph
    walk: Graph
    source: str = ""
    cache_dir: str = ""  # where import_osm keeps it; derived artefacts (maas.ch) are cached there

    @property
    def n_nodes(self) -> int:
        return len(self.node_lat)

    def graph(self, profile: Profile) -> Graph:
        return self.car if profile == "car" else self.walk

    def segment_seconds(self, profile: Profile) -> tuple[FloatArray, FloatArray]:
        """Per segment (forward, backward) travel seconds for ``profile``, ``inf`` if closed."""
        if profile == "car":
            return self.seg_car_fwd_s, self.seg_car_bwd_s
        return self.seg_walk_s, self.seg_walk_s

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``network.npz`` (uncompressed: loading is a few memory copies) into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"version": np.int64(CACHE_VERSION), "source": np.str_(self.source)}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Graph):
                for g in fields(Graph):
                    arrays[f"{f.name}.{g.name}"] = getattr(value, g.name)
            elif isinstance(value, np.ndarray):
                arrays[f.name] = value
        tmp = out / "network.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, out / "network.npz")  # readers never see a half-written cache
        return out / "network.npz"

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> RoadNetwork:
        """Read what :meth:`save` wrote; ``ValueError`` if it is from another cache version."""
        with np.load(Path(directory) / "network.npz") as z:
            if int(z["version"]) != CACHE_VERSION:
                raise ValueError(f"road cache version {int(z['version'])} != {CACHE_VERSION}")
            graphs = {
                name: Graph(**{g.name: z[f"{name}.{g.name}"] for g in fields(Graph)})
                for name in ("car", "walk")
            }
            plain = {
                f.name: z[f.name]
                for f in fields(cls)
                if f.name not in graphs and f.name not in ("source", "cache_dir")
            }
            return cls(
                **plain,
                car=graphs["car"],
                walk=graphs["walk"],
                source=str(z["source"]),
                cache_dir=str(directory),
            )


def haversine_m(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle distance on the mean-radius sphere, element-wise."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0))), dtype=np.float64)
