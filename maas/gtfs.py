"""A GTFS feed as NumPy arrays: what transit routing needs, nothing it does not.

Loading follows plain GTFS semantics, decided here once so that every router sees the same
timetable:

- **Times** are seconds from the service day's "noon minus 12 h" (midnight on all but DST days)
  and may pass 24:00; such times belong to the previous service day.
- **Empty stop times** between timed stops are interpolated linearly in distance travelled:
  ``shape_dist_traveled`` where the trip gives it for every stop, else the straight-line distance
  between consecutive stops (OpenTripPlanner does the same), rounded to the nearest second. A stop
  with only one of arrival/departure uses it for both.
- **Frequencies** expand each template trip into one trip per headway from ``start_time`` up to
  (excluding) ``end_time``, its stop times shifted so the first departure falls on the slot.
- **pickup_type/drop_off_type 1** forbid boarding/alighting there; 0, 2 and 3 allow it.
- **Transfers** (stop to stop rows; rows naming trips or routes are in-seat rules and are skipped):
  between two stops, a walking link of ``min_transfer_time`` seconds (0 when empty); on one stop,
  the minimum change time there (none otherwise); type 3 forbids the change. A row naming a
  station applies to every platform of it (the spec's rule for ``parent_station``).
- **Services** run on a date by calendar.txt (weekday flags, start/end dates) as amended by
  calendar_dates.txt (1 adds the date, 2 removes it).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.errors import Invalid

I32 = NDArray[np.int32]
F64 = NDArray[np.float64]
Bools = NDArray[np.bool_]

CACHE_VERSION = 1
NO_CHANGE = np.iinfo(np.int32).max  # a stop where transfers.txt forbids changing vehicles
EARTH_RADIUS_M = 6_371_008.8
Progress = Callable[[str, float], None]  # (what, fraction done)


class FeedError(Invalid):
    """The feed lacks something routing cannot do without (a required file or column)."""


def parse_time(text: str) -> int | None:
    """``H:MM:SS`` (hours may exceed 23) to seconds; empty to None."""
    text = text.strip()
    if not text:
        return None
    h, m, s = text.split(":")
    return int(h) * 3600 + int(m) * 60 + int(s)


def parse_date(text: str) -> dt.date:
    text = text.strip()
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


@dataclass
class Feed:
    """Stops, routes, trips and their stop times (CSR by trip), services and transfers."""

    timezone: str
    stop_ids: list[str]
    stop_names: list[str]
    stop_lat: F64
    stop_lon: F64
    stop_parent: I32  # index of the parent station, -1 for none
    route_ids: list[str]
    route_names: list[str]  # short name, else long name
    route_types: I32
    trip_ids: list[str]  # a frequency-expanded trip repeats its template's id
    trip_route: I32
    trip_service: I32
    st_indptr: I32  # trip t's stop times are rows st_indptr[t]:st_indptr[t + 1]
    st_stop: I32
    st_arr: I32
    st_dep: I32
    st_pickup: Bools
    st_dropoff: Bools
    service_ids: list[str]
    service_days: Bools  # (services, 7): runs on Monday..Sunday
    service_start: I32  # date ordinals (inclusive)
    service_end: I32
    exception_service: I32
    exception_date: I32  # date ordinals
    exception_added: Bools
    walk_from: I32  # transfers between distinct stops
    walk_to: I32
    walk_s: I32
    change_s: I32  # per stop: minimum change time when staying at the stop (0 by default)
    stop_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.stop_index = {sid: i for i, sid in enumerate(self.stop_ids)}

    @property
    def n_stops(self) -> int:
        return len(self.stop_ids)

    @property
    def n_trips(self) -> int:
        return len(self.trip_ids)

    def stops_of(self, stop_id: str) -> list[int]:
        """A stop id's indices: the stop itself, or every platform of a station."""
        if stop_id not in self.stop_index:
            raise Invalid(f"unknown stop_id {stop_id!r}")
        i = self.stop_index[stop_id]
        children = np.flatnonzero(self.stop_parent == i)
        return [int(c) for c in children] if len(children) else [i]

    def active_services(self, day: dt.date) -> Bools:
        """Which services run on ``day`` (calendar.txt amended by calendar_dates.txt)."""
        o = day.toordinal()
        active = self.service_days[:, day.weekday()] & (self.service_start <= o) & (o <= self.service_end)
        on_day = self.exception_date == o
        active[self.exception_service[on_day & self.exception_added]] = True
        active[self.exception_service[on_day & ~self.exception_added]] = False
        return active

    # --- cache ----------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        np.savez(directory / "gtfs.npz", **arrays)  # type: ignore[arg-type]
        lists = {k: v for k, v in vars(self).items() if isinstance(v, list | str)}
        (directory / "gtfs.json").write_text(json.dumps({"version": CACHE_VERSION, **lists}))

    @classmethod
    def load(cls, directory: Path) -> Feed:
        meta = json.loads((directory / "gtfs.json").read_text())
        if meta.pop("version", None) != CACHE_VERSION:
            raise FileNotFoundError("cache from another version")
        with np.load(directory / "gtfs.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        return cls(**meta, **arrays)


def file_key(path: Path) -> str:
    """Identity of a feed file for the cache: content hash (feeds are small next to a re-import)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for p in sorted(path.glob("*.txt")):
            digest.update(p.name.encode())
            digest.update(p.read_bytes())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_feed(path: Path, cache_dir: Path | None = None, progress: Progress | None = None) -> Feed:
    """The feed at ``path`` (a .zip or a directory), from ``cache_dir`` when imported before."""
    if cache_dir is not None:
        where = cache_dir / f"gtfs-{file_key(path)}"
        try:
            return Feed.load(where)
        except (FileNotFoundError, KeyError, ValueError, TypeError):
            pass
    feed = read_feed(path, progress)
    if cache_dir is not None:
        feed.save(where)
    return feed


# --- reading ----------------------------------------------------------------------------------


class _Source:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None
        names = self.zip.namelist() if self.zip else [p.name for p in path.iterdir()]
        # feeds zipped with a top folder: find each file by its base name
        self.names = {n.rsplit("/", 1)[-1]: n for n in names if n.endswith(".txt")}

    def has(self, name: str) -> bool:
        return name in self.names

    def rows(self, name: str, required: bool = True) -> Iterator[dict[str, str]]:
        if name not in self.names:
            if required:
                raise FeedError(f"the feed has no {name}")
            return
        if self.zip is not None:
            raw = self.zip.read(self.names[name])
        else:
            raw = (self.path / self.names[name]).read_bytes()
        text = raw.decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames:
            reader.fieldnames = [f.strip() for f in reader.fieldnames]
        for row in reader:
            yield {k: (v or "").strip() for k, v in row.items() if k is not None}


def _haversine_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


def interpolate_times(times: list[int | None], dist: F64) -> list[int]:
    """Fill the empty times of one trip linearly in distance between the timed neighbours."""
    timed = [i for i, t in enumerate(times) if t is not None]
    if not timed:
        raise FeedError("a trip has no timed stop")
    out = [0] * len(times)
    for i in range(len(times)):
        t = times[i]
        if t is not None:
            out[i] = t
            continue
        before = max((j for j in timed if j < i), default=None)
        after = min((j for j in timed if j > i), default=None)
        if before is None or after is None:
            raise FeedError("a trip's first and last stops must be timed")
        t0, t1 = times[before], times[after]
        assert t0 is not None
        assert t1 is not None
        span = dist[after] - dist[before]
        frac = (dist[i] - dist[before]) / span if span > 0 else (i - before) / (after - before)
        out[i] = math.floor(t0 + frac * (t1 - t0) + 0.5)
    return out


def read_feed(path: Path, progress: Progress | None = None) -> Feed:
    src = _Source(Path(path))
    say = progress or (lambda _what, _frac: None)

    say("agency", 0.0)
    agencies = list(src.rows("agency.txt"))
    timezone = agencies[0].get("agency_timezone", "UTC") if agencies else "UTC"

    say("stops", 0.05)
    stops = list(src.rows("stops.txt"))
    stop_ids = [r["stop_id"] for r in stops]
    index = {sid: i for i, sid in enumerate(stop_ids)}
    stop_lat = np.array([float(r.get("stop_lat") or "nan") for r in stops])
    stop_lon = np.array([float(r.get("stop_lon") or "nan") for r in stops])
    parent = np.array([index.get(r.get("parent_station", ""), -1) for r in stops], dtype=np.int32)

    routes = list(src.rows("routes.txt"))
    route_ids = [r["route_id"] for r in routes]
    route_index = {rid: i for i, rid in enumerate(route_ids)}
    route_names = [r.get("route_short_name") or r.get("route_long_name") or r["route_id"] for r in routes]
    route_types = np.array([int(r.get("route_type") or 3) for r in routes], dtype=np.int32)

    say("calendar", 0.1)
    service_index: dict[str, int] = {}
    cal_rows = list(src.rows("calendar.txt", required=False))
    dates_rows = list(src.rows("calendar_dates.txt", required=False))
    if not cal_rows and not dates_rows:
        raise FeedError("the feed has neither calendar.txt nor calendar_dates.txt")
    for r in cal_rows + dates_rows:
        service_index.setdefault(r["service_id"], len(service_index))
    n_services = len(service_index)
    days = np.zeros((n_services, 7), dtype=bool)
    start = np.full(n_services, dt.date.max.toordinal(), dtype=np.int32)
    end = np.full(n_services, 0, dtype=np.int32)
    weekday_cols = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    for r in cal_rows:
        s = service_index[r["service_id"]]
        days[s] = [r.get(c) == "1" for c in weekday_cols]
        start[s] = parse_date(r["start_date"]).toordinal()
        end[s] = parse_date(r["end_date"]).toordinal()
    ex_service = np.array([service_index[r["service_id"]] for r in dates_rows], dtype=np.int32)
    ex_date = np.array([parse_date(r["date"]).toordinal() for r in dates_rows], dtype=np.int32)
    ex_added = np.array([r["exception_type"] == "1" for r in dates_rows], dtype=bool)

    say("trips", 0.15)
    trips = list(src.rows("trips.txt"))
    trip_index: dict[str, int] = {}
    t_route: list[int] = []
    t_service: list[int] = []
    t_ids: list[str] = []
    for r in trips:
        if r["service_id"] not in service_index or r["route_id"] not in route_index:
            continue  # a trip of an unknown service or route never runs
        trip_index[r["trip_id"]] = len(t_ids)
        t_ids.append(r["trip_id"])
        t_route.append(route_index[r["route_id"]])
        t_service.append(service_index[r["service_id"]])

    say("stop_times", 0.2)
    per_trip: list[list[tuple[int, int, int | None, int | None, bool, bool, float | None]]] = [
        [] for _ in t_ids
    ]
    for r in src.rows("stop_times.txt"):
        trip = trip_index.get(r["trip_id"])
        stop = index.get(r["stop_id"])
        if trip is None or stop is None:
            continue
        arr, dep = parse_time(r.get("arrival_time", "")), parse_time(r.get("departure_time", ""))
        arr = dep if arr is None else arr
        dep = arr if dep is None else dep
        shape = r.get("shape_dist_traveled", "")
        per_trip[trip].append(
            (
                int(r["stop_sequence"]),
                stop,
                arr,
                dep,
                r.get("pickup_type", "") != "1",
                r.get("drop_off_type", "") != "1",
                float(shape) if shape else None,
            )
        )

    say("frequencies", 0.7)
    frequencies: dict[int, list[tuple[int, int, int]]] = {}
    for r in src.rows("frequencies.txt", required=False):
        t = trip_index.get(r["trip_id"])
        start_s, end_s = parse_time(r["start_time"]), parse_time(r["end_time"])
        if t is None or start_s is None or end_s is None:
            continue
        frequencies.setdefault(t, []).append((start_s, end_s, int(r["headway_secs"])))

    say("interpolating", 0.75)
    out_ids: list[str] = []
    out_route: list[int] = []
    out_service: list[int] = []
    indptr = [0]
    cols: dict[str, list[Any]] = {k: [] for k in ("stop", "arr", "dep", "pick", "drop")}
    for t, rows in enumerate(per_trip):
        if len(rows) < 2:
            continue
        rows.sort(key=lambda x: x[0])
        stops_t = np.array([x[1] for x in rows])
        shapes = [x[6] for x in rows]
        if all(v is not None for v in shapes):
            dist = np.array(shapes, dtype=np.float64)
        else:
            hop = _haversine_m(
                stop_lat[stops_t[:-1]], stop_lon[stops_t[:-1]], stop_lat[stops_t[1:]], stop_lon[stops_t[1:]]
            )
            dist = np.concatenate([[0.0], np.cumsum(np.nan_to_num(hop))])
        arr_t = np.array(interpolate_times([x[2] for x in rows], dist), dtype=np.int32)
        dep_t = np.array(interpolate_times([x[3] for x in rows], dist), dtype=np.int32)
        offsets = [0]
        if t in frequencies:
            offsets = [
                slot - int(dep_t[0])
                for start_s, end_s, headway in frequencies[t]
                for slot in range(start_s, end_s, max(1, headway))
            ]
        for off in offsets:
            out_ids.append(t_ids[t])
            out_route.append(t_route[t])
            out_service.append(t_service[t])
            cols["stop"].append(stops_t)
            cols["arr"].append(arr_t + off)
            cols["dep"].append(dep_t + off)
            cols["pick"].append([x[4] for x in rows])
            cols["drop"].append([x[5] for x in rows])
            indptr.append(indptr[-1] + len(rows))

    say("transfers", 0.95)
    children: dict[int, list[int]] = {}
    for i, p in enumerate(parent.tolist()):
        if p >= 0:
            children.setdefault(p, []).append(i)

    def expand(stop_id: str) -> list[int]:
        i = index.get(stop_id)
        if i is None:
            return []
        return children.get(i, [i])

    change = np.zeros(len(stop_ids), dtype=np.int32)
    walks: dict[tuple[int, int], int] = {}
    for r in src.rows("transfers.txt", required=False):
        if any(r.get(k) for k in ("from_trip_id", "to_trip_id", "from_route_id", "to_route_id")):
            continue
        kind = r.get("transfer_type") or "0"
        seconds = int(r.get("min_transfer_time") or 0)
        for a in expand(r.get("from_stop_id", "")):
            for b in expand(r.get("to_stop_id", "")):
                if a == b:
                    change[a] = NO_CHANGE if kind == "3" else max(int(change[a]), seconds)
                elif kind == "3":
                    walks.pop((a, b), None)
                else:
                    walks[(a, b)] = seconds
    pairs = sorted(walks)

    say("done", 1.0)
    cat = np.concatenate
    return Feed(
        timezone=timezone,
        stop_ids=stop_ids,
        stop_names=[r.get("stop_name", "") for r in stops],
        stop_lat=stop_lat,
        stop_lon=stop_lon,
        stop_parent=parent,
        route_ids=route_ids,
        route_names=route_names,
        route_types=route_types,
        trip_ids=out_ids,
        trip_route=np.array(out_route, dtype=np.int32),
        trip_service=np.array(out_service, dtype=np.int32),
        st_indptr=np.array(indptr, dtype=np.int32),
        st_stop=cat(cols["stop"]).astype(np.int32) if out_ids else np.zeros(0, np.int32),
        st_arr=cat(cols["arr"]).astype(np.int32) if out_ids else np.zeros(0, np.int32),
        st_dep=cat(cols["dep"]).astype(np.int32) if out_ids else np.zeros(0, np.int32),
        st_pickup=np.array([v for c in cols["pick"] for v in c], dtype=bool),
        st_dropoff=np.array([v for c in cols["drop"] for v in c], dtype=bool),
        service_ids=list(service_index),
        service_days=days,
        service_start=start,
        service_end=end,
        exception_service=ex_service,
        exception_date=ex_date,
        exception_added=ex_added,
        walk_from=np.array([a for a, _ in pairs], dtype=np.int32),
        walk_to=np.array([b for _, b in pairs], dtype=np.int32),
        walk_s=np.array([walks[p] for p in pairs], dtype=np.int32),
        change_s=change,
    )
