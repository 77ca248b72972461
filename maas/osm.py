"""OpenStreetMap roads as compact NumPy graphs: one car graph and one walking graph.

Why NumPy and not a graph library: a city extract (Porto: 348k nodes, 51k highway ways) must
load in well under a second after a restart and be routed on by array kernels (scipy's csgraph)
and by small pure-Python searches; CSR arrays serve both and save to one ``.npz``.

What a graph node is: only OSM nodes where the network branches (shared by two highway ways, or
used twice by one) or a way ends. The shape points in between are kept as geometry, not as graph
nodes, so every edge is a *segment* of one way between two such nodes, carrying its polyline.
That is the degree-2 contraction the trip planner needs (Porto's car graph shrinks several times)
while a path can still be drawn exactly. Both profiles share the node numbering, so a node index
means the same place in the car and the walking graph (walk-only nodes are isolated in the car
graph).

The arrays and their units are defined in ``maas.graph``; this module reads an extract into them
(and has ``maas.ch`` contract the result when it caches it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import osmium

from maas.ch import hierarchy_for
from maas.graph import (
    CACHE_VERSION,
    WALK_SPEED_MPS,
    FloatArray,
    Graph,
    IntArray,
    Profile,
    ProgressCallback,
    RoadNetwork,
    haversine_m,
)

MIN_EDGE_SECONDS: Final = 1e-3  # duplicate shape points give zero lengths; keep every edge positive

# Default car speeds (km/h) by highway class when a way has no usable ``maxspeed``. The values are
# typical urban/rural free-flow speeds used by open routers' car profiles, a bit below the limits.
CAR_SPEED_KMH: Final[dict[str, float]] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 45.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 15.0,
}
WALK_HIGHWAYS: Final = frozenset(
    {
        "footway",
        "path",
        "pedestrian",
        "steps",
        "living_street",
        "residential",
        "service",
        "unclassified",
        "road",
        "track",
        "cycleway",
        "bridleway",
        "corridor",
        "tertiary",
        "tertiary_link",
        "secondary",
        "secondary_link",
        "primary",
        "primary_link",
        "trunk",
        "trunk_link",
    }
)
# ``maxspeed`` given as a zone ("PT:urban", "US:rural", "DE:zone30"): the usual national figures.
ZONE_SPEED_KMH: Final[dict[str, float]] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 100.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "zone30": 30.0,
    "zone20": 20.0,
    "walk": 6.0,
}
MPH: Final = 1.609344
_NO_ACCESS: Final = frozenset({"no", "private", "agricultural", "forestry", "emergency"})
_YES: Final = frozenset({"yes", "1", "true"})
_SPEED_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


def parse_maxspeed(value: str | None) -> float | None:
    """``maxspeed`` in km/h, or None when absent or not understood (the caller then defaults)."""
    if not value:
        return None
    value = value.split(";")[0].strip().lower()
    m = _SPEED_RE.match(value)
    if m:
        speed = float(m.group(1)) * (MPH if m.group(2) == "mph" else 1.0)
        return speed if 0.0 < speed <= 200.0 else None
    zone = value.split(":", 1)[-1].replace(":", "")
    return ZONE_SPEED_KMH.get(zone)


def car_rules(tags: dict[str, str]) -> tuple[bool, bool, float] | None:
    """(forward allowed, backward allowed, speed km/h) of a highway way for cars, or None."""
    highway = tags.get("highway", "")
    if highway not in CAR_SPEED_KMH or tags.get("area") == "yes":
        return None
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):  # the most specific tag wins
        if key in tags:
            if tags[key] in _NO_ACCESS:
                return None
            break
    oneway = tags.get("oneway", "").lower()
    if oneway in ("reversible", "alternating"):
        return None  # direction changes by time of day: not routable without a schedule
    implied = highway in ("motorway", "motorway_link") or tags.get("junction") in (
        "roundabout",
        "circular",
    )
    if oneway in _YES or (implied and oneway != "no"):
        fwd, bwd = True, False
    elif oneway in ("-1", "reverse"):
        fwd, bwd = False, True
    else:
        fwd, bwd = True, True
    speed = parse_maxspeed(tags.get("maxspeed")) or CAR_SPEED_KMH[highway]
    return fwd, bwd, speed


def walk_allowed(tags: dict[str, str]) -> bool:
    """Whether a highway way may be walked (in both directions: one-way rules bind vehicles)."""
    if tags.get("highway", "") not in WALK_HIGHWAYS:
        return False
    for key in ("foot", "access"):
        if key in tags:
            return tags[key] not in _NO_ACCESS
    return True


def cache_key(path: str | os.PathLike[str]) -> str:
    """Name of the cache entry of an extract: its stem, size and mtime, and the cache version."""
    st = Path(path).stat()
    return f"{Path(path).name}.{st.st_size}.{st.st_mtime_ns}.v{CACHE_VERSION}"


def import_osm(
    path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    *,
    contract: Sequence[Profile] = ("car",),
) -> RoadNetwork:
    """Load an ``.osm.pbf`` (or ``.osm``) extract, from ``cache_dir`` when it was seen before.

    The cache entry is ``cache_dir/<name>.<size>.<mtime_ns>.v<version>/``; a changed file or a new
    cache version simply misses and is rebuilt. With a cache, the contraction hierarchies of the
    ``contract`` profiles are built too and stored beside the network (``maas.ch``), so that an
    import command prepares everything and a restart only loads (Porto: ~20 s once, then < 0.1 s).
    """
    say = progress or (lambda _what, _frac: None)
    entry = Path(cache_dir) / cache_key(path) if cache_dir is not None else None
    net: RoadNetwork | None = None
    if entry is not None and (entry / "network.npz").exists():
        say("loading cached network", 0.0)
        try:
            net = RoadNetwork.load(entry)
        except (ValueError, KeyError, OSError):
            net = None
    if net is None:
        share = 1.0 if entry is None else 0.45 if contract else 0.9
        net = build_network(path, lambda what, frac: say(what, share * frac))
        if entry is not None:
            say("saving cache", share)
            net.save(entry)
            net = replace(net, cache_dir=str(entry))
    if entry is not None and contract:
        ch_share = 0.5 / len(contract)
        for k, profile in enumerate(contract):
            hierarchy_for(net, profile, _sub_progress(say, f"({profile})", 0.5 + ch_share * k, ch_share))
    say("ready", 1.0)
    return net


def _sub_progress(say: ProgressCallback, label: str, start: float, share: float) -> ProgressCallback:
    return lambda what, frac: say(f"{what} {label}", start + share * frac)


@dataclass(slots=True)
class _Ways:
    """Kept highway ways as they stream out of osmium, flattened."""

    refs: list[int]
    lat: list[float]
    lon: list[float]
    way_len: list[int]
    way_id: list[int]
    car_fwd: list[bool]
    car_bwd: list[bool]
    car_kmh: list[float]
    walk: list[bool]


def _read_ways(path: str | os.PathLike[str], progress: ProgressCallback | None) -> _Ways:
    ways = _Ways([], [], [], [], [], [], [], [], [])
    fp = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    # osmium does not tell how far into the file it is: estimate the number of highway ways from
    # the file size (~60-100 bytes of .pbf per highway way in city extracts) for the bar.
    expected = max(1.0, Path(path).stat().st_size / 70.0)
    count = 0
    way: Any
    for way in fp:
        count += 1
        if progress and count % 5000 == 0:
            progress("reading ways", 0.8 * min(count / expected, 1.0))
        tags = {t.k: t.v for t in way.tags}
        car = car_rules(tags)
        walk = walk_allowed(tags)
        if car is None and not walk:
            continue
        nodes = [n for n in way.nodes if n.location.valid()]
        if len(nodes) < 2:
            continue  # a way whose nodes are outside the extract
        ways.refs.extend(n.ref for n in nodes)
        ways.lat.extend(n.lat for n in nodes)
        ways.lon.extend(n.lon for n in nodes)
        ways.way_len.append(len(nodes))
        ways.way_id.append(way.id)
        ways.car_fwd.append(car is not None and car[0])
        ways.car_bwd.append(car is not None and car[1])
        ways.car_kmh.append(car[2] if car is not None else 1.0)
        ways.walk.append(walk)
    return ways


def build_network(path: str | os.PathLike[str], progress: ProgressCallback | None = None) -> RoadNetwork:
    """Read an extract and build the arrays (no cache involved)."""
    w = _read_ways(path, progress)
    if progress:
        progress("building graphs", 0.8)
    refs = np.asarray(w.refs, dtype=np.int64)
    lat = np.asarray(w.lat, dtype=np.float64)
    lon = np.asarray(w.lon, dtype=np.float64)
    way_len = np.asarray(w.way_len, dtype=np.int64)
    n_pts = len(refs)
    way_of_pt = np.repeat(np.arange(len(way_len)), way_len)
    first = np.zeros(n_pts, dtype=bool)
    last = np.zeros(n_pts, dtype=bool)
    ends = np.cumsum(way_len)
    first[ends - way_len] = True
    last[ends - 1] = True

    # A shape point becomes a graph node where the network branches or a way ends.
    uniq, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    junction = (counts >= 2)[inverse] | first | last
    jpos = np.flatnonzero(junction)
    same_way = way_of_pt[jpos[:-1]] == way_of_pt[jpos[1:]]
    seg_a = jpos[:-1][same_way]
    seg_b = jpos[1:][same_way]

    node_ref_ids = np.unique(inverse[jpos])  # indices into ``uniq`` of the nodes
    node_of_uniq = np.full(len(uniq), -1, dtype=np.int64)
    node_of_uniq[node_ref_ids] = np.arange(len(node_ref_ids))
    pt_node = node_of_uniq[inverse]
    node_lat = np.empty(len(node_ref_ids))
    node_lon = np.empty(len(node_ref_ids))
    node_lat[pt_node[jpos]] = lat[jpos]
    node_lon[pt_node[jpos]] = lon[jpos]

    piece = np.zeros(n_pts)
    piece[:-1] = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    piece[:-1][last[:-1]] = 0.0  # no piece between one way's last point and the next way's first
    pt_cum = np.concatenate(([0.0], np.cumsum(piece)[:-1]))
    seg_len = pt_cum[seg_b] - pt_cum[seg_a]
    seg_way = way_of_pt[seg_a]

    kmh = np.asarray(w.car_kmh)[seg_way]
    car_s = np.maximum(seg_len / (kmh / 3.6), MIN_EDGE_SECONDS)
    inf = np.full(len(seg_a), np.inf)
    car_fwd = np.where(np.asarray(w.car_fwd, dtype=bool)[seg_way], car_s, inf)
    car_bwd = np.where(np.asarray(w.car_bwd, dtype=bool)[seg_way], car_s, inf)
    walk_s = np.where(
        np.asarray(w.walk, dtype=bool)[seg_way], np.maximum(seg_len / WALK_SPEED_MPS, MIN_EDGE_SECONDS), inf
    )
    seg_u = pt_node[seg_a]
    seg_v = pt_node[seg_b]
    n = len(node_lat)
    net = RoadNetwork(
        node_lat=node_lat,
        node_lon=node_lon,
        node_osm_id=uniq[node_ref_ids],
        pt_lat=lat,
        pt_lon=lon,
        pt_cum_m=pt_cum,
        seg_a=seg_a,
        seg_b=seg_b,
        seg_u=seg_u,
        seg_v=seg_v,
        seg_length_m=seg_len,
        seg_way_osm_id=np.asarray(w.way_id, dtype=np.int64)[seg_way],
        seg_car_fwd_s=car_fwd,
        seg_car_bwd_s=car_bwd,
        seg_walk_s=walk_s,
        car=_graph(n, seg_u, seg_v, seg_len, car_fwd, car_bwd),
        walk=_graph(n, seg_u, seg_v, seg_len, walk_s, walk_s),
        source=str(path),
    )
    if progress:
        progress("graphs built", 1.0)
    return net


def _graph(
    n: int, u: IntArray, v: IntArray, length: FloatArray, fwd_s: FloatArray, bwd_s: FloatArray
) -> Graph:
    """CSR of the finite directions of the segments, without loops, fastest of parallel edges."""
    seg = np.arange(len(u), dtype=np.int64)
    tail = np.concatenate((u, v))
    head = np.concatenate((v, u))
    secs = np.concatenate((fwd_s, bwd_s))
    lens = np.concatenate((length, length))
    segs = np.concatenate((seg, seg))
    rev = np.concatenate((np.zeros(len(u), dtype=bool), np.ones(len(u), dtype=bool)))
    keep = np.isfinite(secs) & (tail != head)
    tail, head, secs, lens, segs, rev = (a[keep] for a in (tail, head, secs, lens, segs, rev))
    order = np.lexsort((secs, head, tail))
    tail, head, secs, lens, segs, rev = (a[order] for a in (tail, head, secs, lens, segs, rev))
    distinct = np.ones(len(tail), dtype=bool)
    distinct[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    tail, head, secs, lens, segs, rev = (a[distinct] for a in (tail, head, secs, lens, segs, rev))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
    return Graph(
        indptr=indptr,
        indices=head.astype(np.int64),
        seconds=secs.astype(np.float64),
        length_m=lens.astype(np.float64),
        segment=segs,
        reverse=rev,
    )
