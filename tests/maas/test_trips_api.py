"""Trip planning through the API on the real Terre Haute network, and booking a planned lot
through the parking center's own rules, on both backends."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.support import Client, iso, now_utc

DATA = Path(__file__).resolve().parents[1] / "data" / "mobility"
GTFS = DATA / "terre-haute-gtfs.zip"
# Downtown Terre Haute (Wabash Ave & 7th St) and a point on the south side near US-41
DOWNTOWN = {"lat": 39.4668, "lon": -87.4112}
SOUTH = {"lat": 39.4283, "lon": -87.4170}
FEED_DAY = "2017-09-20T12:30:00+00:00"  # a Wednesday inside the feed's validity (08:30 local)


@pytest.fixture
async def trips(make_client: Any) -> Client:
    return await make_client()  # type: ignore[no-any-return]  # serves conftest's maas_dir


def stop_times_of(trip_id: str) -> dict[str, tuple[str, str]]:
    with zipfile.ZipFile(GTFS) as z:
        rows = csv.DictReader(io.StringIO(z.read("stop_times.txt").decode("utf-8-sig")))
        return {
            r["stop_id"]: (r["arrival_time"], r["departure_time"]) for r in rows if r["trip_id"] == trip_id
        }


def check_chain(it: dict[str, Any]) -> None:
    legs = it["legs"]
    assert legs
    assert it["start"] == legs[0]["start"]
    assert it["end"] == legs[-1]["end"]
    start, end = dt.datetime.fromisoformat(it["start"]), dt.datetime.fromisoformat(it["end"])
    assert it["duration_s"] == int((end - start).total_seconds())
    for a, b in itertools.pairwise(legs):
        assert dt.datetime.fromisoformat(a["end"]) <= dt.datetime.fromisoformat(b["start"])
    for leg in legs:
        assert leg["geometry"]["type"] == "LineString"
        assert len(leg["geometry"]["coordinates"]) >= 2
        assert dt.datetime.fromisoformat(leg["start"]) <= dt.datetime.fromisoformat(leg["end"])
    walked = sum(leg["distance_m"] for leg in legs if leg["mode"] == "walk")
    assert it["walk_m"] == pytest.approx(walked, abs=0.5)


async def test_walk_and_transit_follow_the_timetable(trips: Client) -> None:
    drv = await trips.driver("沪A12345")
    r = await trips.http.post(
        "/v1/trips/plan",
        json={"from": SOUTH, "to": DOWNTOWN, "depart_at": FEED_DAY, "modes": ["walk", "transit"]},
        headers=drv.h,
    )
    assert r.status_code == 200, r.text
    found = r.json()["itineraries"]
    transit = [it for it in found if any(leg["mode"] == "transit" for leg in it["legs"])]
    assert transit, found
    for it in found:
        check_chain(it)
        assert it["cost_fen"] == 0
    it = transit[0]
    assert it["legs"][0]["mode"] == "walk"
    assert it["legs"][-1]["mode"] == "walk"
    edt = dt.timezone(dt.timedelta(hours=-4))  # the feed's local time on that day
    timed = 0
    for leg in (x for it in transit for x in it["legs"] if x["mode"] == "transit"):
        # the vehicle leaves when the feed's stop_times.txt says, where the stop is timed there
        departure = stop_times_of(leg["trip_id"])[leg["from_stop_id"]][1]
        assert leg["route"]
        if departure:
            start = dt.datetime.fromisoformat(leg["start"]).astimezone(edt)
            assert start.strftime("%H:%M:%S") == departure
            timed += 1
    assert timed >= 1
    # every itinerary starts no earlier than asked
    assert all(dt.datetime.fromisoformat(x["start"]) >= dt.datetime.fromisoformat(FEED_DAY) for x in found)


async def test_arrive_by_keeps_what_arrives_in_time_latest_start_first(trips: Client) -> None:
    drv = await trips.driver("沪A12345")
    deadline = "2017-09-20T15:00:00+00:00"
    ask = {"from": SOUTH, "to": DOWNTOWN, "arrive_by": deadline, "modes": ["walk", "transit"]}
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert r.status_code == 200, r.text
    found = r.json()["itineraries"]
    assert any(leg["mode"] == "transit" for it in found for leg in it["legs"])
    ends = [dt.datetime.fromisoformat(it["end"]) for it in found]
    assert all(end <= dt.datetime.fromisoformat(deadline) for end in ends)
    starts = [dt.datetime.fromisoformat(it["start"]) for it in found]
    assert starts == sorted(starts, reverse=True)


async def test_arrive_by_with_a_car_parks_just_in_time(trips: Client) -> None:
    op = await trips.operator()
    lot = await trips.lot(op, spaces=2, lat=39.4660, lon=-87.4125, name="Downtown Garage")
    drv = await trips.driver("沪A12345")
    deadline = (now_utc() + dt.timedelta(days=2)).replace(microsecond=0)
    ask = {"from": SOUTH, "to": DOWNTOWN, "arrive_by": iso(deadline), "modes": ["car", "walk"]}
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert r.status_code == 200, r.text
    parked = [it for it in r.json()["itineraries"] if it["lot_id"] == lot["id"]]
    assert len(parked) == 1
    # a trip without a timetable leaves as late as it can: it arrives on the deadline itself
    assert dt.datetime.fromisoformat(parked[0]["end"]) == deadline
    check_chain(parked[0])


async def test_plan_then_book_the_lot_then_it_is_full(trips: Client) -> None:
    op = await trips.operator()
    lot = await trips.lot(op, spaces=1, lat=39.4660, lon=-87.4125, name="Downtown Garage")
    drv = await trips.driver("沪A12345")
    depart = (now_utc() + dt.timedelta(days=2)).replace(microsecond=0)
    ask = {
        "from": SOUTH,
        "to": DOWNTOWN,
        "depart_at": iso(depart),
        "modes": ["car", "walk"],
        "stay_minutes": 90,
    }
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert r.status_code == 200, r.text
    parked = [it for it in r.json()["itineraries"] if it["lot_id"] == lot["id"]]
    assert len(parked) == 1
    it = parked[0]
    check_chain(it)
    assert [leg["mode"] for leg in it["legs"]] == ["car", "park", "walk"]
    assert it["legs"][1]["lot_id"] == lot["id"]

    stranger = await trips.driver("沪B99999")
    assert (await trips.http.post(f"/v1/trips/{it['id']}/book", headers=stranger.h)).status_code == 404
    forged = it["id"][:-4] + ("AAAA" if not it["id"].endswith("AAAA") else "BBBB")
    assert (await trips.http.post(f"/v1/trips/{forged}/book", headers=drv.h)).status_code == 404

    booked = await trips.http.post(f"/v1/trips/{it['id']}/book", headers={**drv.h, "Idempotency-Key": "k1"})
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert booking["lot_id"] == lot["id"]
    park_at = dt.datetime.fromisoformat(it["legs"][1]["start"])
    assert abs((dt.datetime.fromisoformat(booking["start"]) - park_at).total_seconds()) < 1
    assert (
        dt.datetime.fromisoformat(booking["end"]) - dt.datetime.fromisoformat(booking["start"])
    ) == dt.timedelta(minutes=90)
    assert booking["price_fen"] == it["cost_fen"]  # the plan quoted what the booking charges
    again = await trips.http.post(f"/v1/trips/{it['id']}/book", headers={**drv.h, "Idempotency-Key": "k1"})
    assert again.status_code == 200
    assert again.json()["id"] == booking["id"]

    gone = await trips.http.post(f"/v1/trips/{it['id']}/book", headers=drv.h)
    assert gone.status_code == 409
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert gone.json()["replan"] == "/v1/trips/plan"

    # the only space is booked for that window: a new plan no longer offers the lot
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert all(x["lot_id"] != lot["id"] for x in r.json()["itineraries"])


async def test_bad_requests_are_clear(trips: Client) -> None:
    drv = await trips.driver("沪A12345")
    far = {"from": {"lat": 31.30, "lon": 121.51}, "to": DOWNTOWN, "depart_at": FEED_DAY}
    r = await trips.http.post("/v1/trips/plan", json=far, headers=drv.h)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "outside_network"
    both = {"from": SOUTH, "to": DOWNTOWN, "depart_at": FEED_DAY, "arrive_by": FEED_DAY}
    assert (await trips.http.post("/v1/trips/plan", json=both, headers=drv.h)).status_code == 422
    naive = {"from": SOUTH, "to": DOWNTOWN, "depart_at": "2017-09-20T08:30:00"}
    assert (await trips.http.post("/v1/trips/plan", json=naive, headers=drv.h)).status_code == 422
    assert (await trips.http.post("/v1/trips/plan", json={"from": SOUTH, "to": DOWNTOWN})).status_code == 401
    op = await trips.operator()
    assert (
        await trips.http.post("/v1/trips/plan", json={"from": SOUTH, "to": DOWNTOWN}, headers=op.h)
    ).status_code == 403


async def test_nothing_found_is_an_empty_list_with_a_reason(trips: Client) -> None:
    drv = await trips.driver("沪A12345")
    # transit only, years after the feed ended: no trip runs
    ask = {"from": SOUTH, "to": DOWNTOWN, "depart_at": iso(now_utc()), "modes": ["transit"]}
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert r.status_code == 200
    assert r.json()["itineraries"] == []
    assert r.json()["reason"]


async def test_without_an_imported_network_planning_is_unavailable(make_client: Any, tmp_path: Path) -> None:
    c: Client = await make_client(maas_dir=tmp_path / "empty")
    drv = await c.driver("沪A12345")
    r = await c.http.post("/v1/trips/plan", json={"from": SOUTH, "to": DOWNTOWN}, headers=drv.h)
    assert r.status_code == 503
    assert r.json()["code"] == "no_network"
