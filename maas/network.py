"""The imported network the planner serves: one GTFS feed, one street network, their links.

``beidou maas import`` reads the sources into caches under the MaaS directory and records what it
imported in ``network.json``; the API (and a restart) loads from the caches in about a second.
Stops are linked to the walking graph here, once: footpaths between stops within
``FOOTPATH_M`` are walked on the graph and join the feed's own transfers in the router.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from maas.graph import RoadNetwork
from maas.gtfs import Feed, load_feed
from maas.osm import import_osm
from maas.raptor import Router
from maas.roads import RoadRouter, SnapIndex
from maas.tables import stop_footpaths

MANIFEST = "network.json"
FOOTPATH_M = 400.0
Progress = Callable[[str, float], None]


@dataclass
class Network:
    feed: Feed
    roads: RoadNetwork
    transit: Router
    car: RoadRouter
    walk: RoadRouter
    walk_index: SnapIndex
    car_index: SnapIndex
    tz: ZoneInfo
    footpaths: int  # how many stop-to-stop footpaths the walking graph added

    @classmethod
    def build(cls, feed: Feed, roads: RoadNetwork) -> Network:
        walk_index = SnapIndex(roads, "walk")
        walks = stop_footpaths(roads, feed.stop_lat, feed.stop_lon, FOOTPATH_M, index=walk_index)
        car, walk = RoadRouter(roads, "car"), RoadRouter(roads, "walk")
        for router in (car, walk):  # contraction hierarchies: from the import's cache, else built now
            router.prepare()
        return cls(
            feed=feed,
            roads=roads,
            transit=Router(feed, footpaths=walks),
            car=car,
            walk=walk,
            walk_index=walk_index,
            car_index=SnapIndex(roads, "car"),
            tz=ZoneInfo(feed.timezone),
            footpaths=len(walks[0]),
        )


def import_network(maas_dir: Path, gtfs: Path, osm: Path, progress: Progress | None = None) -> Network:
    """Read both sources into the caches, record them as the network to serve, return it."""
    say = progress or (lambda _what, _frac: None)
    feed = load_feed(gtfs, maas_dir, lambda what, frac: say(f"gtfs: {what}", 0.2 * frac))
    roads = import_osm(
        osm, maas_dir, lambda what, frac: say(f"osm: {what}", 0.2 + 0.7 * frac), contract=("car", "walk")
    )
    say("linking stops to the walking graph", 0.9)
    net = Network.build(feed, roads)
    manifest = {"gtfs": str(gtfs.resolve()), "osm": str(osm.resolve())}
    (maas_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    say("ready", 1.0)
    return net


_loaded: dict[tuple[str, int], Network] = {}


def load_imported(maas_dir: Path) -> Network | None:
    """The network last imported into ``maas_dir`` (from its caches), or None if there is none.

    Kept per process and manifest version: every app instance of a process (tests start many)
    shares one read-only network, and a new import is picked up by the next start."""
    manifest = maas_dir / MANIFEST
    if not manifest.exists():
        return None
    key = (str(manifest.resolve()), manifest.stat().st_mtime_ns)
    if key not in _loaded:
        sources = json.loads(manifest.read_text())
        feed = load_feed(Path(sources["gtfs"]), maas_dir)
        roads = import_osm(Path(sources["osm"]), maas_dir, contract=("car", "walk"))
        _loaded[key] = Network.build(feed, roads)
    return _loaded[key]


def stops_near(net: Network, lat: float, lon: float, radius_m: float) -> np.ndarray:
    """Indices of the served stops within ``radius_m`` in a straight line of a point."""
    d = _haversine(lat, lon, net.feed.stop_lat, net.feed.stop_lon)
    return np.flatnonzero(d <= radius_m)


def _haversine(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat), np.radians(lats)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2
    return np.asarray(2 * 6_371_008.8 * np.arcsin(np.sqrt(a)))
