"""RAPTOR against an independent connection scan on the real feeds, plus GTFS semantics.

The reference is a per-round connection scan (Dibbelt et al.'s CSA, one label array per number of
vehicles): every connection of every trip running on the service days, in departure order, no
patterns, no FIFO assumption, no pruning. Same semantics as documented in ``maas.gtfs``; if the
two disagree on any of a few hundred random queries, one of them is wrong.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from maas.gtfs import NO_CHANGE, Feed, load_feed, read_feed
from maas.journeys import Access, Journey, LegMode, Ride, Transfer
from maas.raptor import DAY_S, SERVICE_DAYS, Router, _Search
from tests.support import IN_CI, shared_data

DATA = Path(__file__).resolve().parents[1] / "data" / "mobility"
TERRE_HAUTE = DATA / "terre-haute-gtfs.zip"
NYC = shared_data("mobility", "nyc-subway-1-2-gtfs.zip")


@pytest.fixture(scope="module")
def th() -> Feed:
    return read_feed(TERRE_HAUTE)


class ConnectionScan:
    """Reference: earliest arrival per number of vehicles, by scanning connections."""

    def __init__(self, feed: Feed, day: dt.date) -> None:
        self.feed = feed
        rows = []
        for off in SERVICE_DAYS:
            active = feed.active_services(day + dt.timedelta(days=off))
            for t in range(feed.n_trips):
                if not active[feed.trip_service[t]]:
                    continue
                a, b = int(feed.st_indptr[t]), int(feed.st_indptr[t + 1])
                for i in range(a, b - 1):
                    rows.append(
                        (
                            int(feed.st_dep[i]) + off * DAY_S,
                            int(feed.st_arr[i + 1]) + off * DAY_S,
                            int(feed.st_stop[i]),
                            int(feed.st_stop[i + 1]),
                            t + 10**6 * off,  # a trip instance per service day
                            bool(feed.st_pickup[i]),
                            bool(feed.st_dropoff[i + 1]),
                        )
                    )
        rows.sort(key=lambda r: (r[0], r[1]))
        self.connections = rows
        self.walks: dict[int, list[tuple[int, int]]] = {}
        for a, b, w in zip(feed.walk_from.tolist(), feed.walk_to.tolist(), feed.walk_s.tolist(), strict=True):
            self.walks.setdefault(a, []).append((b, w))

    def pareto(
        self, sources: list[int], targets: list[int], t0: int, max_vehicles: int
    ) -> list[tuple[int, int]]:
        n = self.feed.n_stops
        big = 1 << 60
        ready = [big] * n
        arrival = [big] * n
        for s in sources:
            ready[s] = arrival[s] = t0
        for s in sources:
            for q, w in self.walks.get(s, []):
                ready[q] = min(ready[q], t0 + w)
                arrival[q] = min(arrival[q], t0 + w)
        out = []
        best = min(arrival[t] for t in targets)
        if best < big:
            out.append((best, 0))
        change = [big if c == NO_CHANGE else int(c) for c in self.feed.change_s.tolist()]
        for k in range(1, max_vehicles + 1):
            arr_k = [big] * n
            ready_k = list(ready)
            on: set[int] = set()
            for dep, arr, a, b, trip, pickup, dropoff in self.connections:
                if trip in on or (pickup and ready[a] <= dep):
                    on.add(trip)
                    if dropoff and arr < arr_k[b]:
                        arr_k[b] = arr
            for s in range(n):
                if arr_k[s] < big:
                    ready_k[s] = min(ready_k[s], arr_k[s] + change[s])
            walked = list(arr_k)
            for s in range(n):
                if arr_k[s] < big:
                    for q, w in self.walks.get(s, []):
                        walked[q] = min(walked[q], arr_k[s] + w)
                        ready_k[q] = min(ready_k[q], arr_k[s] + w)
            ready = ready_k
            now = min(walked[t] for t in targets)
            if now < best:
                best = now
                out.append((now, k - 1))
        return out


def seconds_of(journey: Journey, day: dt.date) -> int:
    return int((journey.arrival - dt.datetime.combine(day, dt.time())).total_seconds())


def check_journey(feed: Feed, journey: Journey) -> None:
    """Structural truths of any journey: legs chain in time and place, every vehicle leg rides a
    trip that runs on its service day, boards where pickup is allowed and alights where drop-off is."""
    clock = journey.legs[0].departure if journey.legs else journey.departure
    for prev, leg in zip([None, *journey.legs[:-1]], journey.legs, strict=True):
        assert leg.departure >= clock
        if prev is not None:
            assert leg.from_stop == prev.to_stop
            if prev.mode is LegMode.TRANSIT and leg.mode is LegMode.TRANSIT:
                change = int(feed.change_s[leg.from_stop])
                assert change != NO_CHANGE
                assert (leg.departure - prev.arrival).total_seconds() >= change
        clock = leg.arrival
        if leg.mode is not LegMode.TRANSIT:
            continue
        rows = range(int(feed.st_indptr[leg.trip]), int(feed.st_indptr[leg.trip + 1]))
        board = next(r for r in rows if feed.st_stop[r] == leg.from_stop)
        service_day = leg.departure - dt.timedelta(seconds=int(feed.st_dep[board]))
        assert service_day.time() == dt.time()  # the stop time lands on the trip's own schedule
        assert feed.active_services(service_day.date())[feed.trip_service[leg.trip]]
        alight = next(r for r in rows if r > board and feed.st_stop[r] == leg.to_stop)
        assert feed.st_pickup[board]
        assert feed.st_dropoff[alight]
        assert leg.arrival == service_day + dt.timedelta(seconds=int(feed.st_arr[alight]))


def random_queries(feed: Feed, n: int, days: list[dt.date], seed: int) -> list[tuple[int, int, dt.datetime]]:
    rng = random.Random(seed)
    served = sorted(set(feed.st_stop.tolist()))
    out = []
    for _ in range(n):
        a, b = rng.sample(served, 2)
        day = rng.choice(days)
        out.append(
            (
                a,
                b,
                dt.datetime.combine(day, dt.time())
                + dt.timedelta(seconds=rng.randrange(4 * 3600, 23 * 3600)),
            )
        )
    return out


def compare(feed: Feed, queries: list[tuple[int, int, dt.datetime]], max_transfers: int) -> int:
    router = Router(feed)
    references: dict[dt.date, ConnectionScan] = {}
    found = 0
    for a, b, when in queries:
        day = when.date()
        if day not in references:
            references[day] = ConnectionScan(feed, day)
        t0 = int((when - dt.datetime.combine(day, dt.time())).total_seconds())
        expected = references[day].pareto([a], [b], t0, max_transfers + 1)
        journeys = router.earliest([a], [b], when, max_transfers=max_transfers)
        got = [(seconds_of(j, day), j.transfers) for j in journeys]
        assert got == expected, (feed.stop_ids[a], feed.stop_ids[b], when)
        for j in journeys:
            check_journey(feed, j)
            assert j.legs[-1].to_stop == b if j.legs else a == b
        found += bool(journeys)
    return found


def test_terre_haute_matches_connection_scan(th: Feed) -> None:
    days = [dt.date(2017, 9, 18), dt.date(2017, 9, 23), dt.date(2017, 9, 24), dt.date(2017, 12, 25)]
    found = compare(th, random_queries(th, 300, days, seed=5), max_transfers=4)
    assert found > 150  # most queries have an answer: the comparison is not vacuous


@pytest.mark.skipif(
    not NYC.exists() and not IN_CI, reason="the NYC feed lives in the workplace's shared data"
)
def test_nyc_subway_matches_connection_scan() -> None:
    feed = read_feed(NYC)
    days = [dt.date(2025, 1, 6), dt.date(2025, 1, 11), dt.date(2024, 12, 25)]
    found = compare(feed, random_queries(feed, 40, days, seed=11), max_transfers=2)
    assert found >= 35


def test_no_service_day_is_never_used(th: Feed) -> None:
    """Terre Haute runs no Sunday service: a Sunday-morning query waits for Monday's first trip."""
    sunday = dt.datetime(2017, 9, 24, 9, 0)
    assert not th.active_services(sunday.date())[th.trip_service].any()
    router = Router(th)
    journeys = router.earliest_by_id("782537", "782608", sunday)
    assert journeys
    first = journeys[0].legs[0]
    assert first.departure.date() == dt.date(2017, 9, 25)
    # Christmas is removed from the Monday-Saturday service by calendar_dates.txt
    xmas = th.active_services(dt.date(2017, 12, 25))
    assert not xmas[th.service_ids.index("c_888_b_236_d_63")]
    assert th.active_services(dt.date(2017, 12, 26))[th.service_ids.index("c_888_b_236_d_63")]


def test_empty_stop_times_interpolate_along_shape_distance(th: Feed) -> None:
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(TERRE_HAUTE) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("stop_times.txt").decode("utf-8-sig"))))
    by_trip: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_trip.setdefault(r["trip_id"], []).append(r)
    checked = 0
    for trip_id, trip_rows in by_trip.items():
        trip_rows.sort(key=lambda r: int(r["stop_sequence"]))
        t = th.trip_ids.index(trip_id)
        deps = th.st_dep[th.st_indptr[t] : th.st_indptr[t + 1]]
        for i, r in enumerate(trip_rows):
            if r["departure_time"]:
                continue
            j0 = max(j for j in range(i) if trip_rows[j]["departure_time"])
            j1 = min(j for j in range(i + 1, len(trip_rows)) if trip_rows[j]["departure_time"])
            d = [float(trip_rows[j]["shape_dist_traveled"]) for j in (j0, i, j1)]
            t0, t1 = int(deps[j0]), int(deps[j1])
            assert t0 <= deps[i] <= t1
            assert abs(deps[i] - (t0 + (d[1] - d[0]) / (d[2] - d[0]) * (t1 - t0))) <= 0.5
            checked += 1
    assert checked > 500


def write_feed(where: Path, files: dict[str, str]) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (where / name).write_text(text.strip() + "\n")
    return where


TINY = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,Tiny,http://x,Asia/Shanghai",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n"
    "S,Station,31.0,121.0,1,\nS1,Platform 1,31.0,121.0,0,S\nS2,Platform 2,31.0,121.0001,0,S\n"
    "A,A,31.01,121.0,0,\nB,B,31.02,121.0,0,\nC,C,31.03,121.0,0,",
    "routes.txt": "route_id,route_short_name,route_type\nR,R1,1\nQ,Q1,3",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20260101,20261231",
    "calendar_dates.txt": "service_id,date,exception_type\nWK,20261001,2\nWK,20261003,1",
    "trips.txt": "route_id,service_id,trip_id\nR,WK,r_night\nR,WK,r_freq\nQ,WK,q_noalight",
    # r_night runs past midnight; r_freq is a frequency template; q_noalight forbids alighting at B
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type\n"
    "r_night,24:10:00,24:10:00,A,1,0,0\nr_night,,,B,2,0,0\nr_night,24:30:00,24:30:00,S1,3,0,0\n"
    "r_freq,06:00:00,06:00:00,A,1,0,0\nr_freq,06:10:00,06:10:00,S1,2,0,0\n"
    "q_noalight,07:00:00,07:00:00,A,1,0,0\nq_noalight,07:05:00,07:05:00,B,2,0,1\nq_noalight,07:09:00,07:09:00,C,3,1,0",
    "frequencies.txt": "trip_id,start_time,end_time,headway_secs\nr_freq,06:00:00,07:00:00,900",
    "transfers.txt": "from_stop_id,to_stop_id,transfer_type,min_transfer_time\nS,S,2,120",
}


def test_gtfs_semantics_on_a_tiny_feed(tmp_path: Path) -> None:
    feed = read_feed(write_feed(tmp_path / "tiny", TINY))
    router = Router(feed)
    # frequencies: 06:00, 06:15, 06:30, 06:45 (end 07:00 excluded); a 06:16 start takes the 06:30
    assert sorted(feed.trip_ids).count("r_freq") == 4
    j = router.earliest_by_id("A", "S1", dt.datetime(2026, 9, 7, 6, 16))[-1]
    assert j.legs[0].departure == dt.datetime(2026, 9, 7, 6, 30)
    assert j.arrival == dt.datetime(2026, 9, 7, 6, 40)
    # past midnight: Monday's 24:10 trip is Tuesday 00:10; the empty time at B is interpolated
    j = router.earliest_by_id("A", "S1", dt.datetime(2026, 9, 7, 23, 0))[-1]
    assert j.legs[0].departure == dt.datetime(2026, 9, 8, 0, 10)
    # ... and a Saturday 00:05 query still catches Friday's service day trip at 24:10
    j = router.earliest_by_id("A", "S1", dt.datetime(2026, 9, 12, 0, 5))[-1]
    assert j.legs[0].departure == dt.datetime(2026, 9, 12, 0, 10)
    # drop_off_type 1 at B: q_noalight (07:05 at B) cannot set down there, so B is first reached
    # by the night trip, its empty time interpolated by straight-line distance (A->B is a third
    # of A->B->S1): 24:10 + 20 min / 3 = 24:16:40
    j = router.earliest_by_id("A", "B", dt.datetime(2026, 9, 7, 6, 50))[-1]
    assert feed.trip_ids[j.legs[0].trip] == "r_night"
    assert j.arrival == dt.datetime(2026, 9, 8, 0, 16, 40)
    # pickup_type 1 at C does not stop anyone alighting there
    j = router.earliest_by_id("A", "C", dt.datetime(2026, 9, 7, 6, 50))[-1]
    assert j.arrival == dt.datetime(2026, 9, 7, 7, 9)
    # station-level transfer applies to its platforms: a 120 s walk S1 -> S2, and S1 as target
    # of "S" means any platform
    s1, s2 = feed.stop_index["S1"], feed.stop_index["S2"]
    pairs = set(zip(feed.walk_from.tolist(), feed.walk_to.tolist(), strict=True))
    assert (s1, s2) in pairs
    assert feed.change_s[s1] == 120
    assert feed.stops_of("S") == [s1, s2]
    # calendar_dates: 2026-10-01 (Thursday) removed, 2026-10-03 (Saturday) added
    wk = feed.service_ids.index("WK")
    assert not feed.active_services(dt.date(2026, 10, 1))[wk]
    assert feed.active_services(dt.date(2026, 10, 3))[wk]
    assert not feed.active_services(dt.date(2026, 10, 4))[wk]


def test_journeys_unpack_typed_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ride then a transfer: every label is a typed record, and the legs and their JSON follow."""
    feed = read_feed(write_feed(tmp_path / "tiny", TINY))
    router = Router(feed)
    searches: list[_Search] = []
    run = _Search.run

    def keep(self: _Search, *args: object) -> list[Journey]:
        searches.append(self)
        return run(self, *args)

    monkeypatch.setattr(_Search, "run", keep)
    a, s1, s2 = (feed.stop_index[x] for x in ("A", "S1", "S2"))
    (j,) = router.earliest([a], [s2], dt.datetime(2026, 9, 7, 6, 16), source_delays_s=[60])
    ride, walk = j.legs
    assert (ride.mode, ride.from_stop, ride.to_stop) == (LegMode.TRANSIT, a, s1)
    assert (walk.mode, walk.from_stop, walk.to_stop) == (LegMode.WALK, s1, s2)
    assert ride.departure == dt.datetime(2026, 9, 7, 6, 30) and walk.departure == ride.arrival
    assert (walk.arrival - walk.departure).total_seconds() == 120
    assert j.transfers == 0
    labels = [p for ps in (*searches[0].parents_arr, *searches[0].parents_ready) for p in ps.values()]
    assert {type(p) for p in labels} == {Access, Ride, Transfer}
    assert searches[0].parents_arr[0][a] == Access(60)
    assert searches[0].parents_arr[1][s2] == Transfer(s1, 120)
    ridden = searches[0].parents_arr[1][s1]
    assert isinstance(ridden, Ride) and (ridden.board, ridden.alight) == (0, 1)
    legs = j.as_json(feed)["legs"]
    assert [leg["mode"] for leg in legs] == ["transit", "walk"]
    assert type(legs[0]["mode"]) is str  # plain strings in the JSON, not enum members
    assert (legs[0]["trip_id"], legs[0]["route"]) == ("r_freq", "R1")
    assert "trip_id" not in legs[1] and legs[1]["duration_s"] == 120
    assert (legs[1]["from_stop"], legs[1]["to_stop"]) == ("S1", "S2")


def test_transfer_lists_mirror_the_transfer_arrays(th: Feed) -> None:
    frm = np.arange(0, 60)
    footpaths = (np.concatenate((frm, frm + 1)), np.concatenate((frm + 1, frm)), np.full(120, 30.5))
    router = Router(th, footpaths=footpaths)
    assert sum(len(links) for links in router.transfers) == len(router.walk_to) == 120
    assert router.transfers[1] == [(0, 31, Transfer(1, 31)), (2, 31, Transfer(1, 31))]
    for p, links in enumerate(router.transfers):
        lo, hi = router.walk_indptr[p], router.walk_indptr[p + 1]
        to, secs = router.walk_to[lo:hi].tolist(), router.walk_s[lo:hi].tolist()
        assert links == [(q, w, Transfer(p, w)) for q, w in zip(to, secs, strict=True)]


def test_range_query_keeps_only_non_dominated_departures(th: Feed) -> None:
    router = Router(th)
    a, b = th.stop_index["782537"], th.stop_index["782608"]
    window = router.range_earliest([a], [b], dt.datetime(2017, 9, 20, 7, 0), 3 * 3600)
    assert len(window) >= 2
    for x in window:
        single = router.earliest([a], [b], x.departure)
        assert any(s.arrival == x.arrival and s.transfers == x.transfers for s in single)
    for x in window:
        for y in window:
            if x is not y:
                assert not (
                    y.departure >= x.departure and y.arrival <= x.arrival and y.transfers <= x.transfers
                )


def test_cache_round_trip(tmp_path: Path, th: Feed) -> None:
    first = load_feed(TERRE_HAUTE, tmp_path)
    again = load_feed(TERRE_HAUTE, tmp_path)
    assert list(tmp_path.iterdir())
    for name, value in vars(th).items():
        other = getattr(again, name)
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, other), name
        else:
            assert value == other, name
    assert first.n_trips == again.n_trips


def test_cli_earliest_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import app

    monkeypatch.setenv("BEIDOU_MAAS_DIR", str(tmp_path))
    args = ["maas", "earliest", "--gtfs", str(TERRE_HAUTE), "--from-stop", "782537", "--to-stop", "782608"]
    result = CliRunner().invoke(app, [*args, "--depart", "2017-09-20T08:00:00", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    feed = read_feed(TERRE_HAUTE)
    expected = Router(feed).earliest_by_id("782537", "782608", dt.datetime(2017, 9, 20, 8, 0))[-1]
    assert answer["arrival"] == expected.arrival.isoformat()
    assert answer["transfers"] == expected.transfers
    assert answer["legs"][0]["from_stop"] == "782537"
    assert answer["legs"][-1]["to_stop"] == "782608"
    # an unknown stop is a clear usage error, not a traceback
    bad = CliRunner().invoke(app, [*args[:-1], "nope", "--depart", "2017-09-20T08:00:00", "--json"])
    assert bad.exit_code == 2
    assert "unknown stop_id" in bad.output
