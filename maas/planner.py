"""Multimodal itineraries: walk, walk + transit, drive + park + walk, park-and-ride.

Planning runs in two steps because the parking center must be asked in between: the car time
to each candidate lot fixes when the driver arrives there, and only then can availability be
predicted and the stay priced (``maas.service`` asks and passes the quotes back in). Both steps
are synchronous NumPy/Python work meant for a worker thread, never the event loop.

Options, each built only when its modes are requested:

- **walk**: the walking route, if it takes at most ``MAX_WALK_ONLY_S``;
- **walk + transit**: stops within ``ACCESS_M`` walking of the origin and of the destination
  become RAPTOR sources and targets, delayed by their walking times; every Pareto journey
  (arrival vs transfers) becomes an itinerary;
- **drive + park + walk**: lots within ``PARK_NEAR_M`` of the destination with a free space
  predicted at the car's arrival there;
- **park-and-ride**: lots within ``PR_ACCESS_M`` walking of a stop; one RAPTOR run takes every
  such stop as a source, delayed by car time + ``PARK_S`` + the walk, remembering which lot gave
  each stop its best start.

The results are Pareto-filtered on (arrival, cost, walking metres), then ranked by arrival, cost
and walking. Cost is the parking fee for the stay (transit fares are not in the feeds we take).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from maas.graph import WALK_SPEED_MPS
from maas.journeys import Journey, LegMode
from maas.network import Network, stops_near
from maas.roads import OutsideNetwork, Route
from maas.tables import travel_times, walk_access

ACCESS_M = 1000.0  # walking to or from a stop
PARK_NEAR_M = 1200.0  # straight line from a lot to the destination
PR_ACCESS_M = 600.0  # walking from a park-and-ride lot to its stops
PARK_S = 180  # from the lot's entrance to walking away from the parked car
MAX_WALK_ONLY_S = 45 * 60
MAX_TRANSFERS = 4


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class LotCandidate:
    """What the parking center tells the planner about a lot before quoting it."""

    id: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class LotQuote:
    free_spaces: int  # predicted at the arrival time
    cost_fen: int  # for the planned stay from that arrival


@dataclass
class Leg:
    mode: str  # walk | car | transit | park
    start: dt.datetime
    end: dt.datetime
    from_name: str
    to_name: str
    distance_m: float
    coordinates: list[tuple[float, float]]  # [lon, lat]
    route: str | None = None
    trip_id: str | None = None
    lot_id: str | None = None
    from_stop_id: str | None = None  # GTFS stop_id at a transit end (names are not unique)
    to_stop_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "from": self.from_name,
            "to": self.to_name,
            "start": self.start.astimezone(dt.UTC).isoformat(),
            "end": self.end.astimezone(dt.UTC).isoformat(),
            "distance_m": round(self.distance_m, 1),
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in self.coordinates]},
        }
        for key in ("route", "trip_id", "lot_id", "from_stop_id", "to_stop_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class Itinerary:
    kind: str  # walk | transit | park_walk | park_ride
    legs: list[Leg]
    cost_fen: int = 0
    transfers: int = 0
    lot_id: str | None = None
    park_at: dt.datetime | None = None  # when the car reaches the lot (the booking's start)

    @property
    def start(self) -> dt.datetime:
        return self.legs[0].start

    @property
    def end(self) -> dt.datetime:
        return self.legs[-1].end

    @property
    def walk_m(self) -> float:
        return sum(leg.distance_m for leg in self.legs if leg.mode == "walk")

    def shifted(self, by: dt.timedelta) -> Itinerary:
        """The same trip started ``by`` later (for arrive-by: leave as late as possible)."""
        legs = [replace(leg, start=leg.start + by, end=leg.end + by) for leg in self.legs]
        park_at = self.park_at + by if self.park_at is not None else None
        return replace(self, legs=legs, park_at=park_at)

    def key(self) -> tuple[float, int, float]:
        return (self.end.timestamp(), self.cost_fen, self.walk_m)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": self.start.astimezone(dt.UTC).isoformat(),
            "end": self.end.astimezone(dt.UTC).isoformat(),
            "duration_s": int((self.end - self.start).total_seconds()),
            "cost_fen": self.cost_fen,
            "walk_m": round(self.walk_m, 1),
            "transfers": self.transfers,
            "lot_id": self.lot_id,
            "legs": [leg.as_json() for leg in self.legs],
        }


@dataclass
class Prepared:
    """Step one's output: car seconds to each candidate lot and when the car would be there."""

    near_dest: list[LotCandidate]
    park_ride: list[LotCandidate]
    car_s: dict[str, float] = field(default_factory=dict)
    arrive: dict[str, dt.datetime] = field(default_factory=dict)


class Planner:
    def __init__(self, net: Network) -> None:
        self.net = net

    # --- step one -------------------------------------------------------------------------------

    def prepare(
        self, origin: Point, dest: Point, depart: dt.datetime, lots: Sequence[LotCandidate], modes: set[str]
    ) -> Prepared:
        """Snap both points (OutsideNetwork if either is off the map) and time the car to lots."""
        net = self.net
        net.walk_index.snap(origin.lat, origin.lon)
        net.walk_index.snap(dest.lat, dest.lon)
        prepared = Prepared([], [])
        if "car" not in modes or not lots:
            return prepared
        lat = np.array([lot.lat for lot in lots])
        lon = np.array([lot.lon for lot in lots])
        to_dest = _straight_m(dest.lat, dest.lon, lat, lon)
        near_stop = np.array(
            [len(stops_near(net, a, b, PR_ACCESS_M)) > 0 for a, b in zip(lat, lon, strict=True)]
        )
        try:
            car = travel_times(net.roads, "car", origin.lat, origin.lon, lat, lon, index=net.car_index)
        except OutsideNetwork:  # no road for cars near the origin: the other modes still plan
            return prepared
        for i, lot in enumerate(lots):
            if not math.isfinite(car[i]):
                continue
            prepared.car_s[lot.id] = float(car[i])
            prepared.arrive[lot.id] = depart + dt.timedelta(seconds=float(car[i]))
            if to_dest[i] <= PARK_NEAR_M:
                prepared.near_dest.append(lot)
            elif near_stop[i] and "transit" in modes:
                prepared.park_ride.append(lot)
        return prepared

    # --- step two -------------------------------------------------------------------------------

    def plan(
        self,
        origin: Point,
        dest: Point,
        depart: dt.datetime,
        modes: set[str],
        prepared: Prepared,
        quotes: dict[str, LotQuote],
        max_results: int,
        window_s: int | None = None,
    ) -> list[Itinerary]:
        """``window_s``: plan transit over a departure window (arrive-by planning); the options
        come back unranked, for the caller to move and quote again before :func:`rank`."""
        options: list[Itinerary] = []
        if "walk" in modes:
            options += self._walk_only(origin, dest, depart)
        if "transit" in modes:  # walking to and from the stops comes with it
            options += self._walk_transit(origin, dest, depart, window_s)
        if "car" in modes:
            options += self._park_walk(origin, dest, depart, prepared, quotes)
            if "transit" in modes:
                options += self._park_ride(origin, dest, depart, prepared, quotes)
        if window_s is not None:  # arrive-by: the caller moves timetable-free trips, then ranks
            return options
        return rank(options, max_results)

    def _walk_only(self, origin: Point, dest: Point, depart: dt.datetime) -> list[Itinerary]:
        route = self.net.walk.route(origin.lat, origin.lon, dest.lat, dest.lon)
        if not math.isfinite(route.seconds) or route.seconds > MAX_WALK_ONLY_S:
            return []
        return [Itinerary("walk", [self._road_leg("walk", route, depart, "origin", "destination")])]

    def _walk_transit(
        self, origin: Point, dest: Point, depart: dt.datetime, window_s: int | None = None
    ) -> list[Itinerary]:
        """Walk + transit; with ``window_s``, every non-dominated departure in the window (range
        RAPTOR) rather than the earliest arrival from ``depart``. The walk to the first stop
        starts just in time for the vehicle."""
        net = self.net
        feed = net.feed
        src, src_s = walk_access(
            net.roads, origin.lat, origin.lon, feed.stop_lat, feed.stop_lon, ACCESS_M, index=net.walk_index
        )
        dst, dst_s = walk_access(
            net.roads, dest.lat, dest.lon, feed.stop_lat, feed.stop_lon, ACCESS_M, index=net.walk_index
        )
        if not len(src) or not len(dst):
            return []
        access = [math.ceil(s) for s in src_s]
        egress = [math.ceil(s) for s in dst_s]
        if window_s is None:
            journeys = net.transit.earliest(
                src.tolist(),
                dst.tolist(),
                self._local(depart),
                max_transfers=MAX_TRANSFERS,
                source_delays_s=access,
                target_delays_s=egress,
            )
        else:
            journeys = net.transit.range_earliest(
                src.tolist(),
                dst.tolist(),
                self._local(depart),
                window_s,
                max_transfers=MAX_TRANSFERS,
                source_delays_s=access,
                target_delays_s=egress,
            )
        walk_to = dict(zip(src.tolist(), access, strict=True))
        out = []
        for j in journeys:
            if not j.legs:
                continue
            first = int(j.legs[0].from_stop)
            leave = self._aware(j.legs[0].departure) - dt.timedelta(seconds=walk_to[first])
            legs = [self._walk_leg(origin, first, start=max(depart, leave), to_stop=True)]
            legs += self._transit_legs(j)
            legs.append(self._walk_leg(dest, int(j.legs[-1].to_stop), start=legs[-1].end, to_stop=False))
            out.append(Itinerary("transit", legs, transfers=j.transfers))
        return out

    def _park_walk(
        self, origin: Point, dest: Point, depart: dt.datetime, prepared: Prepared, quotes: dict[str, LotQuote]
    ) -> list[Itinerary]:
        out = []
        for lot in prepared.near_dest:
            quote = quotes.get(lot.id)
            if quote is None or quote.free_spaces <= 0:
                continue
            drive = self.net.car.route(origin.lat, origin.lon, lot.lat, lot.lon)
            if not math.isfinite(drive.seconds):
                continue
            car = self._road_leg("car", drive, depart, "origin", lot.name)
            park = self._park_leg(lot, car.end)
            walk = self.net.walk.route(lot.lat, lot.lon, dest.lat, dest.lon)
            if not math.isfinite(walk.seconds):
                continue
            legs = [car, park, self._road_leg("walk", walk, park.end, lot.name, "destination")]
            out.append(Itinerary("park_walk", legs, cost_fen=quote.cost_fen, lot_id=lot.id, park_at=car.end))
        return out

    def _park_ride(
        self, origin: Point, dest: Point, depart: dt.datetime, prepared: Prepared, quotes: dict[str, LotQuote]
    ) -> list[Itinerary]:
        net = self.net
        feed = net.feed
        best: dict[int, tuple[int, LotCandidate, float]] = {}  # stop -> (delay s, lot, walk s)
        for lot in prepared.park_ride:
            quote = quotes.get(lot.id)
            if quote is None or quote.free_spaces <= 0:
                continue
            stops, walk_s = walk_access(
                net.roads, lot.lat, lot.lon, feed.stop_lat, feed.stop_lon, PR_ACCESS_M, index=net.walk_index
            )
            for s, w in zip(stops.tolist(), walk_s.tolist(), strict=True):
                delay = math.ceil(prepared.car_s[lot.id] + PARK_S + w)
                if s not in best or delay < best[s][0]:
                    best[s] = (delay, lot, w)
        if not best:
            return []
        dst, dst_s = walk_access(
            net.roads, dest.lat, dest.lon, feed.stop_lat, feed.stop_lon, ACCESS_M, index=net.walk_index
        )
        if not len(dst):
            return []
        sources = sorted(best)
        journeys = net.transit.earliest(
            sources,
            dst.tolist(),
            self._local(depart),
            max_transfers=MAX_TRANSFERS,
            source_delays_s=[best[s][0] for s in sources],
            target_delays_s=[math.ceil(s) for s in dst_s],
        )
        out = []
        for j in journeys:
            if not j.legs:
                continue
            _, lot, _ = best[j.legs[0].from_stop]
            drive = net.car.route(origin.lat, origin.lon, lot.lat, lot.lon)
            car = self._road_leg("car", drive, depart, "origin", lot.name)
            park = self._park_leg(lot, car.end)
            legs = [
                car,
                park,
                self._walk_leg(Point(lot.lat, lot.lon), j.legs[0].from_stop, park.end, True, lot.name),
            ]
            legs += self._transit_legs(j)
            legs.append(self._walk_leg(dest, j.legs[-1].to_stop, start=legs[-1].end, to_stop=False))
            quote = quotes[lot.id]
            out.append(
                Itinerary(
                    "park_ride",
                    legs,
                    cost_fen=quote.cost_fen,
                    transfers=j.transfers,
                    lot_id=lot.id,
                    park_at=car.end,
                )
            )
        return out

    # --- legs -----------------------------------------------------------------------------------

    def _local(self, when: dt.datetime) -> dt.datetime:
        """The feed's clock: naive local time of its timezone."""
        return when.astimezone(self.net.tz).replace(tzinfo=None)

    def _aware(self, local: dt.datetime) -> dt.datetime:
        return local.replace(tzinfo=self.net.tz)

    def _road_leg(self, mode: str, route: Route, start: dt.datetime, a: str, b: str) -> Leg:
        end = start + dt.timedelta(seconds=math.ceil(route.seconds))
        return Leg(mode, start, end, a, b, route.distance_m, list(route.coordinates))

    def _park_leg(self, lot: LotCandidate, start: dt.datetime) -> Leg:
        where = (lot.lon, lot.lat)
        return Leg(
            "park",
            start,
            start + dt.timedelta(seconds=PARK_S),
            lot.name,
            lot.name,
            0.0,
            [where, where],
            lot_id=lot.id,
        )

    def _walk_leg(
        self, point: Point, stop: int, start: dt.datetime, to_stop: bool, name: str | None = None
    ) -> Leg:
        """A walk between a point and a stop; towards a stop it ends when the walk does (the
        transit leg then starts when its vehicle leaves)."""
        feed = self.net.feed
        s_lat, s_lon = float(feed.stop_lat[stop]), float(feed.stop_lon[stop])
        if to_stop:
            route = self.net.walk.route(point.lat, point.lon, s_lat, s_lon)
            a, b = name or "origin", feed.stop_names[stop]
        else:
            route = self.net.walk.route(s_lat, s_lon, point.lat, point.lon)
            a, b = feed.stop_names[stop], name or "destination"
        if not math.isfinite(route.seconds):  # linked by walk_access, so only off-graph slack
            metres = _straight_m(point.lat, point.lon, np.array([s_lat]), np.array([s_lon]))[0]
            route = Route(
                metres / WALK_SPEED_MPS, float(metres), [], [(point.lon, point.lat), (s_lon, s_lat)]
            )
        return self._road_leg("walk", route, start, a, b)

    def _transit_legs(self, journey: Journey) -> list[Leg]:
        feed = self.net.feed
        legs = []
        for leg in journey.legs:
            a, b = feed.stop_names[leg.from_stop], feed.stop_names[leg.to_stop]
            start, end = self._aware(leg.departure), self._aware(leg.arrival)
            if leg.mode is not LegMode.TRANSIT:
                metres = _straight_m(
                    float(feed.stop_lat[leg.from_stop]),
                    float(feed.stop_lon[leg.from_stop]),
                    feed.stop_lat[[leg.to_stop]],
                    feed.stop_lon[[leg.to_stop]],
                )[0]
                coords = [
                    (float(feed.stop_lon[s]), float(feed.stop_lat[s])) for s in (leg.from_stop, leg.to_stop)
                ]
                legs.append(Leg("walk", start, end, a, b, float(metres), coords))
                continue
            rows = feed.st_stop[feed.st_indptr[leg.trip] : feed.st_indptr[leg.trip + 1]].tolist()
            i = rows.index(leg.from_stop)
            k = rows.index(leg.to_stop, i + 1)
            path = rows[i : k + 1]
            lat, lon = feed.stop_lat[path], feed.stop_lon[path]
            hops = _straight_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) if len(path) > 1 else np.zeros(0)
            route = feed.route_names[int(feed.trip_route[leg.trip])]
            coords = [(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]
            legs.append(
                Leg(
                    "transit",
                    start,
                    end,
                    a,
                    b,
                    float(hops.sum()),
                    coords,
                    route=route,
                    trip_id=feed.trip_ids[leg.trip],
                    from_stop_id=feed.stop_ids[leg.from_stop],
                    to_stop_id=feed.stop_ids[leg.to_stop],
                )
            )
        return legs


def rank(options: list[Itinerary], max_results: int, leave_late: bool = False) -> list[Itinerary]:
    """Drop every option another beats or equals on time, cost and walking, then sort. Time is
    the arrival, or for arrive-by planning (``leave_late``) the departure, later being better."""

    def key(it: Itinerary) -> tuple[float, int, float]:
        return (-it.start.timestamp(), it.cost_fen, it.walk_m) if leave_late else it.key()

    keys = [key(it) for it in options]
    kept: list[Itinerary] = []
    seen: set[tuple[float, int, float]] = set()
    for it, ka in zip(options, keys, strict=True):
        dominated = any(kb != ka and all(x <= y for x, y in zip(kb, ka, strict=True)) for kb in keys)
        if not dominated and ka not in seen:
            seen.add(ka)
            kept.append(it)
    kept.sort(key=key)
    return kept[:max_results]


def _straight_m(
    lat: float | np.ndarray, lon: float | np.ndarray, lats: np.ndarray, lons: np.ndarray
) -> np.ndarray:
    p1, p2 = np.radians(lat), np.radians(lats)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2
    return np.asarray(2 * 6_371_008.8 * np.arcsin(np.sqrt(a)))
