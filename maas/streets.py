"""The imported street network as vector GeoJSON for a map with no tile server (the machine is
offline): the drivable way segments inside a box, as one MultiLineString."""

from __future__ import annotations

from typing import Any

import numpy as np

from maas.graph import RoadNetwork

Box = tuple[float, float, float, float]  # min_lat, max_lat, min_lon, max_lon
MAX_SEGMENTS = 20_000  # a page's map stays light; the segments beyond it are dropped
DECIMALS = 6  # ~0.1 m: finer than the OSM source


def drivable_in_box(roads: RoadNetwork, box: Box) -> np.ndarray:
    """Indices of the segments a car may use (either way) with a shape point inside ``box``."""
    min_lat, max_lat, min_lon, max_lon = box
    inside = (
        (roads.pt_lat >= min_lat)
        & (roads.pt_lat <= max_lat)
        & (roads.pt_lon >= min_lon)
        & (roads.pt_lon <= max_lon)
    )
    running = np.concatenate(([0], np.cumsum(inside, dtype=np.int64)))
    touches = running[roads.seg_b + 1] - running[roads.seg_a] > 0
    drivable = np.isfinite(roads.seg_car_fwd_s) | np.isfinite(roads.seg_car_bwd_s)
    return np.flatnonzero(touches & drivable)


def streets_geojson(roads: RoadNetwork | None, box: Box, max_segments: int = MAX_SEGMENTS) -> dict[str, Any]:
    """A FeatureCollection with one MultiLineString of the streets in ``box`` (empty without a
    network, or where the network does not reach)."""
    lines: list[list[list[float]]] = []
    if roads is not None:
        for s in drivable_in_box(roads, box)[:max_segments]:
            a, b = int(roads.seg_a[s]), int(roads.seg_b[s]) + 1
            lines.append(np.round(np.column_stack((roads.pt_lon[a:b], roads.pt_lat[a:b])), DECIMALS).tolist())
    feature = {
        "type": "Feature",
        "properties": {"kind": "streets", "segments": len(lines)},
        "geometry": {"type": "MultiLineString", "coordinates": lines},
    }
    return {"type": "FeatureCollection", "features": [feature] if lines else []}
