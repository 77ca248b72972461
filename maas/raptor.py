"""RAPTOR (Delling, Pajor, Werneck 2012): earliest arrival by number of transfers, as a Pareto set.

The feed's trips are grouped into patterns (the same stop sequence) whose trips never overtake
one another, so each stop column of a pattern's timetable is sorted. A round scans every pattern
touching a stop improved in the previous round, all its stops at once in NumPy:

- trip ``t`` is boardable at position ``i`` if it departs at or after the stop's ready time and
  allows pickup there; a cumulative OR along the pattern gives, for each position ``j``, the trips
  boarded somewhere before ``j``; the first of them that allows drop-off at ``j`` is the earliest
  arrival there (FIFO makes the first the earliest). This is exact with pickup/drop-off rules,
  where the classic "current trip" scan is not.
- only the rows that can matter are touched: trips arriving at the last stop before the earliest
  ready time, or leaving the first stop after the best arrival at the target, are cut off by
  binary search.

Two times per stop and round: the **arrival** (what a journey ending there reports) and the
**ready** time (when one may board there: arrival plus the stop's minimum change time after a
vehicle, the arrival itself after a walk or at the origin). Pruning keeps a label if it improves
either, so change times never hide a better boarding. How each label was reached (access, ride or
transfer: the typed records of ``maas.journeys``) is kept per round to unpack the journeys.

Service days: a query on date D sees the trips of D - 1 to D + 2 (times past 24:00 belong to the
previous service day; a Saturday-night query may need Monday's first trip), on one clock of
seconds from D's midnight (an optional horizon bounds how late a journey may leave).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from maas.gtfs import NO_CHANGE, Feed
from maas.journeys import Access, Journey, Leg, LegMode, Parents, Ride, Transfer

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
Bools = NDArray[np.bool_]

INF = np.int64(2**62)
DAY_S = 86_400
DEFAULT_MAX_TRANSFERS = 8
SERVICE_DAYS = (-1, 0, 1, 2)  # relative to the query date: yesterday's late trips, two days ahead


@dataclass
class Pattern:
    """Trips with one stop sequence, FIFO: every column of ``dep``/``arr`` is sorted."""

    stops: I32  # (S,)
    trips: I32  # (T,) feed trip index of each row
    dep: I64  # (T, S) seconds from the query date's midnight
    arr: I64
    pickup: Bools
    dropoff: Bools


@dataclass
class DayTimetable:
    """The patterns running around one date, and for each stop the patterns that serve it."""

    day: dt.date
    patterns: list[Pattern]
    stop_patterns: list[list[int]]


def _fifo_chains(dep: I64, arr: I64) -> list[list[int]]:
    """Split rows (sorted by first departure) into chains where no trip overtakes another."""
    chains: list[list[int]] = []
    for r in range(len(dep)):
        for chain in chains:
            last = chain[-1]
            if np.all(dep[r] >= dep[last]) and np.all(arr[r] >= arr[last]):
                chain.append(r)
                break
        else:
            chains.append([r])
    return chains


def _pattern_keys(feed: Feed) -> tuple[I32, list[I32]]:
    """Pattern id of every trip and the stop sequence of every pattern."""
    keys: dict[bytes, int] = {}
    seqs: list[I32] = []
    of_trip = np.empty(feed.n_trips, dtype=np.int32)
    for t in range(feed.n_trips):
        seq = feed.st_stop[feed.st_indptr[t] : feed.st_indptr[t + 1]]
        key = seq.tobytes()
        if key not in keys:
            keys[key] = len(seqs)
            seqs.append(seq)
        of_trip[t] = keys[key]
    return of_trip, seqs


class Router:
    """Transit queries on one feed; day timetables are built on first use and kept."""

    def __init__(
        self,
        feed: Feed,
        cache_days: int = 8,
        footpaths: tuple[NDArray[np.integer], NDArray[np.integer], NDArray[np.floating]] | None = None,
    ) -> None:
        """``footpaths`` (from, to, seconds), e.g. walked on the street network, join the
        transfers of transfers.txt (the shorter time wins where both link two stops)."""
        self.feed = feed
        self.pattern_of_trip, self.pattern_stops = _pattern_keys(feed)
        links: dict[tuple[int, int], int] = {}
        for a, b, w in zip(feed.walk_from.tolist(), feed.walk_to.tolist(), feed.walk_s.tolist(), strict=True):
            links[(a, b)] = w
        if footpaths is not None:
            for a, b, w in zip(*(np.asarray(x).tolist() for x in footpaths), strict=True):
                key = (int(a), int(b))
                links[key] = min(links.get(key, int(INF)), int(np.ceil(w)))
        pairs = sorted(links)
        self.walk_from = np.array([a for a, _ in pairs], dtype=np.int64)
        self.walk_to = np.array([b for _, b in pairs], dtype=np.int64)
        self.walk_s = np.array([links[p] for p in pairs], dtype=np.int64)
        self.walk_indptr = np.searchsorted(self.walk_from, np.arange(feed.n_stops + 1)).astype(np.int64)
        # per stop, (to, seconds, label) of its transfers: the labels are built here once, so the
        # rounds only share them
        self.transfers: list[list[tuple[int, int, Transfer]]] = [[] for _ in range(feed.n_stops)]
        for a, b, w in zip(self.walk_from.tolist(), self.walk_to.tolist(), self.walk_s.tolist(), strict=True):
            self.transfers[a].append((b, w, Transfer(a, w)))
        change = feed.change_s.astype(np.int64)
        self.change_s = np.where(change == NO_CHANGE, INF, change)
        self.timetable = lru_cache(maxsize=cache_days)(self._build_day)

    def _build_day(self, day: dt.date) -> DayTimetable:
        feed = self.feed
        rows: dict[int, list[tuple[int, int]]] = {}
        for offset_days in SERVICE_DAYS:
            running = feed.active_services(day + dt.timedelta(days=offset_days))[feed.trip_service]
            for t in np.flatnonzero(running):
                rows.setdefault(int(self.pattern_of_trip[t]), []).append((int(t), offset_days * DAY_S))
        patterns: list[Pattern] = []
        for p, members in sorted(rows.items()):
            stops = self.pattern_stops[p]
            trips = np.array([t for t, _ in members], dtype=np.int32)
            offsets = np.array([o for _, o in members], dtype=np.int64)[:, None]
            idx = feed.st_indptr[trips][:, None] + np.arange(len(stops))[None, :]
            dep = feed.st_dep[idx].astype(np.int64) + offsets
            arr = feed.st_arr[idx].astype(np.int64) + offsets
            order = np.lexsort((arr[:, -1], dep[:, 0]))
            dep, arr, trips, idx = dep[order], arr[order], trips[order], idx[order]
            for chain in _fifo_chains(dep, arr):
                c = np.array(chain)
                patterns.append(
                    Pattern(stops, trips[c], dep[c], arr[c], feed.st_pickup[idx[c]], feed.st_dropoff[idx[c]])
                )
        stop_patterns: list[list[int]] = [[] for _ in range(feed.n_stops)]
        for i, pat in enumerate(patterns):
            for s in set(pat.stops.tolist()):
                stop_patterns[s].append(i)
        return DayTimetable(day, patterns, stop_patterns)

    # --- queries --------------------------------------------------------------------------------

    def earliest(
        self,
        sources: Sequence[int],
        targets: Sequence[int],
        depart: dt.datetime,
        *,
        max_transfers: int = DEFAULT_MAX_TRANSFERS,
        horizon_s: int | None = None,
        source_delays_s: Sequence[int] | None = None,
        target_delays_s: Sequence[int] | None = None,
    ) -> list[Journey]:
        """The Pareto set of (arrival, transfers): one journey per transfer count that arrives
        strictly earlier than every journey with fewer transfers, fewest transfers first.

        ``depart`` is naive local time of the feed. ``source_delays_s``/``target_delays_s``
        (e.g. walking to and from the stops) shift each source's start and each target's
        arrival; the journeys' ``arrival`` includes the target delay."""
        day = depart.date()
        t0 = (depart - dt.datetime.combine(day, dt.time())).total_seconds()
        search = _Search(self, self.timetable(day), int(t0), horizon_s)
        delays_in = list(source_delays_s or [0] * len(sources))
        delays_out = np.array(list(target_delays_s or [0] * len(targets)), dtype=np.int64)
        targets_a = np.asarray(targets, dtype=np.int64)
        return search.run(list(sources), delays_in, targets_a, delays_out, max_transfers)

    def earliest_by_id(
        self, from_stop: str, to_stop: str, depart: dt.datetime, max_transfers: int = DEFAULT_MAX_TRANSFERS
    ) -> list[Journey]:
        return self.earliest(
            self.feed.stops_of(from_stop), self.feed.stops_of(to_stop), depart, max_transfers=max_transfers
        )

    def range_earliest(
        self,
        sources: Sequence[int],
        targets: Sequence[int],
        depart_from: dt.datetime,
        window_s: int,
        *,
        max_transfers: int = DEFAULT_MAX_TRANSFERS,
        source_delays_s: Sequence[int] | None = None,
        target_delays_s: Sequence[int] | None = None,
    ) -> list[Journey]:
        """Range RAPTOR over a departure window: for every distinct departure time of a trip
        boardable from the sources in ``[depart_from, depart_from + window_s]``, the Pareto
        journeys, keeping those not dominated on (later departure, earlier arrival, fewer
        transfers). Latest departures are searched first, so each one prunes the next."""
        day = depart_from.date()
        table = self.timetable(day)
        t0 = int((depart_from - dt.datetime.combine(day, dt.time())).total_seconds())
        delays_in = list(source_delays_s or [0] * len(sources))
        starts: set[int] = set()
        for s, delay in zip(sources, delays_in, strict=True):
            for pi in table.stop_patterns[s]:
                pat = table.patterns[pi]
                for pos in np.flatnonzero(pat.stops == s):
                    col = pat.dep[:, pos][pat.pickup[:, pos]]
                    lo, hi = np.searchsorted(col, [t0 + delay, t0 + delay + window_s + 1])
                    starts.update(int(x) - delay for x in col[lo:hi])
        found: list[Journey] = []
        for start in sorted(starts, reverse=True):
            depart = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=start)
            for j in self.earliest(
                sources,
                targets,
                depart,
                max_transfers=max_transfers,
                source_delays_s=source_delays_s,
                target_delays_s=target_delays_s,
            ):
                if not any(
                    k.departure >= j.departure and k.arrival <= j.arrival and k.transfers <= j.transfers
                    for k in found
                ):
                    found.append(j)
        return sorted(found, key=lambda j: (j.departure, j.arrival, j.transfers))


class _Search:
    """One RAPTOR run: per round, arrival and ready times and how each was reached."""

    def __init__(self, router: Router, table: DayTimetable, t0: int, horizon_s: int | None) -> None:
        self.r = router
        self.table = table
        self.t0 = t0
        self.horizon = int(INF) if horizon_s is None else t0 + horizon_s
        self.midnight = dt.datetime.combine(table.day, dt.time())

    def clock(self, seconds: int) -> dt.datetime:
        return self.midnight + dt.timedelta(seconds=int(seconds))

    def run(
        self, sources: list[int], delays_in: list[int], targets: I64, delays_out: I64, max_transfers: int
    ) -> list[Journey]:
        n = self.r.feed.n_stops
        best_arr = np.full(n, INF, dtype=np.int64)
        best_ready = np.full(n, INF, dtype=np.int64)
        arr0 = np.full(n, INF, dtype=np.int64)
        parents_arr: list[Parents] = [{}]
        parents_ready: list[Parents] = [{}]
        rounds_arr = [arr0]
        rounds_ready = [arr0.copy()]
        for s, delay in zip(sources, delays_in, strict=True):
            t = self.t0 + delay
            if t < arr0[s]:
                arr0[s] = t
                rounds_ready[0][s] = t
                parents_arr[0][s] = parents_ready[0][s] = Access(delay)
        marked = set(np.flatnonzero(arr0 < INF).tolist())
        self._walk(marked, arr0, rounds_ready[0], parents_arr[0], parents_ready[0], best_arr, best_ready)
        np.minimum(best_arr, arr0, out=best_arr)
        np.minimum(best_ready, rounds_ready[0], out=best_ready)
        marked = set(np.flatnonzero(rounds_ready[0] < INF).tolist())

        results: list[tuple[int, int, int]] = []  # (round, target stop, arrival) per Pareto point
        target_best = self._target_best(arr0, targets, delays_out, results, 0, parents_arr)
        ready_prev = rounds_ready[0].copy()
        for k in range(1, max_transfers + 2):
            if not marked:
                break
            arr_k = np.full(n, INF, dtype=np.int64)
            ready_k = np.full(n, INF, dtype=np.int64)
            par_arr: Parents = {}
            par_ready: Parents = {}
            scan = sorted({p for s in marked for p in self.table.stop_patterns[s]})
            for pi in scan:
                self._scan(
                    pi, ready_prev, target_best, best_arr, best_ready, arr_k, ready_k, par_arr, par_ready
                )
            by_vehicle = set(par_arr)
            self._walk(by_vehicle, arr_k, ready_k, par_arr, par_ready, best_arr, best_ready, target_best)
            rounds_arr.append(arr_k)
            rounds_ready.append(ready_k)
            parents_arr.append(par_arr)
            parents_ready.append(par_ready)
            marked = set(par_ready)
            np.minimum(ready_prev, ready_k, out=ready_prev)
            target_best = self._target_best(arr_k, targets, delays_out, results, k, parents_arr, target_best)
        self.rounds_arr, self.rounds_ready = rounds_arr, rounds_ready
        self.parents_arr, self.parents_ready = parents_arr, parents_ready
        return [self._journey(*found) for found in results]

    def _target_best(
        self,
        arr_k: I64,
        targets: I64,
        delays_out: I64,
        results: list[tuple[int, int, int]],
        k: int,
        parents_arr: list[Parents],
        previous: int = int(INF),
    ) -> int:
        at = arr_k[targets] + delays_out
        i = int(np.argmin(at))
        if at[i] < previous:
            results.append((k, int(targets[i]), int(at[i])))
            return int(at[i])
        return previous

    def _walk(
        self,
        stops: Iterable[int],
        arr: I64,
        ready: I64,
        par_arr: Parents,
        par_ready: Parents,
        best_arr: I64,
        best_ready: I64,
        limit: int = int(INF),
    ) -> None:
        """Transfers along transfers.txt from stops reached in this round (not chained)."""
        transfers = self.r.transfers
        for p in sorted(stops):
            for q, w, parent in transfers[p]:
                t = int(arr[p]) + w
                if t >= limit:
                    continue
                better_arr = t < arr[q] and t < best_arr[q]
                better_ready = t < ready[q] and t < best_ready[q]
                if not (better_arr or better_ready):
                    continue
                if better_arr:
                    arr[q] = t
                    best_arr[q] = t
                    par_arr[q] = parent
                if better_ready:
                    ready[q] = t
                    best_ready[q] = t
                    par_ready[q] = parent

    def _scan(
        self,
        pi: int,
        ready_prev: I64,
        target_best: int,
        best_arr: I64,
        best_ready: I64,
        arr_k: I64,
        ready_k: I64,
        par_arr: Parents,
        par_ready: Parents,
    ) -> None:
        pat = self.table.patterns[pi]
        b = ready_prev[pat.stops]
        finite = b < INF
        if not finite[:-1].any():
            return
        lo = int(np.searchsorted(pat.arr[:, -1], b[finite].min()))
        hi = int(np.searchsorted(pat.dep[:, 0], min(target_best, self.horizon)))
        if lo >= hi:
            return
        dep, arr = pat.dep[lo:hi], pat.arr[lo:hi]
        boardable = (dep >= b[None, :]) & pat.pickup[lo:hi]
        boardable[:, -1] = False  # boarding at the last stop leads nowhere
        before = np.logical_or.accumulate(boardable, axis=1)
        can = np.zeros_like(before)
        can[:, 1:] = before[:, :-1] & pat.dropoff[lo:hi, 1:]
        has = can.any(axis=0)
        if not has.any():
            return
        row = np.argmax(can, axis=0)
        cols = np.flatnonzero(has)
        times = arr[row[cols], cols]
        limit = min(target_best, int(INF))
        for j, t in zip(cols.tolist(), times.tolist(), strict=True):
            if t >= limit:
                continue
            s = int(pat.stops[j])
            ready = t + int(self.r.change_s[s])
            better_arr = t < arr_k[s] and t < best_arr[s]
            better_ready = ready < ready_k[s] and ready < best_ready[s]
            if not (better_arr or better_ready):
                continue
            trip_row = lo + int(row[j])
            board = int(np.flatnonzero(boardable[row[j], :j])[-1])  # the latest boarding: shortest ride
            parent = Ride(pi, trip_row, board, j)
            if better_arr:
                arr_k[s] = t
                best_arr[s] = t
                par_arr[s] = parent
            if better_ready:
                ready_k[s] = ready
                best_ready[s] = ready
                par_ready[s] = parent

    # --- journeys -------------------------------------------------------------------------------

    def _journey(self, k: int, target: int, arrival: int) -> Journey:
        legs: list[Leg] = []
        stop, rnd = target, k
        ready = False  # which label of the stop is followed: arrival, or ready to board
        while True:
            parent = (self.parents_ready if ready else self.parents_arr)[rnd][stop]
            match parent:
                case Access():
                    break
                case Transfer(from_stop=p, seconds=w):
                    t_end = int((self.rounds_ready if ready else self.rounds_arr)[rnd][stop])
                    legs.append(Leg(LegMode.WALK, p, stop, self.clock(t_end - w), self.clock(t_end)))
                    stop, ready = p, False  # a walk starts where a vehicle (or the origin) left us
                case Ride(pattern=pi, row=trip_row, board=board, alight=alight):
                    pat = self.table.patterns[pi]
                    legs.append(
                        Leg(
                            LegMode.TRANSIT,
                            int(pat.stops[board]),
                            int(pat.stops[alight]),
                            self.clock(int(pat.dep[trip_row, board])),
                            self.clock(int(pat.arr[trip_row, alight])),
                            int(pat.trips[trip_row]),
                        )
                    )
                    # board from the earliest round whose ready time catches this departure
                    stop = int(pat.stops[board])
                    dep = int(pat.dep[trip_row, board])
                    rnd = next(
                        r
                        for r in range(rnd)
                        if self.rounds_ready[r][stop] <= dep and stop in self.parents_ready[r]
                    )
                    ready = True
        legs.reverse()
        transit = sum(1 for leg in legs if leg.mode is LegMode.TRANSIT)
        start = legs[0].departure if legs else self.clock(self.t0)
        return Journey(start, self.clock(arrival), max(0, transit - 1), legs)
