"""Sensor events, availability now and later, lot search, congestion and guidance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support import Actor, Client, iso, now_utc


async def _sensed_lot(c: Client, spaces: int = 3, **kw: Any) -> tuple[Actor, dict[str, Any], Actor]:
    op = await c.operator()
    lot = await c.lot(op, kind="on_street", capacity=spaces, spaces=spaces, **kw)
    sensor = await c.device(op, lot["id"], "occupancy_sensor")
    return op, lot, sensor


async def _sense(c: Client, sensor: Actor, code: str, occupied: bool, ts: Any, event_id: str) -> Any:
    return await c.http.post(
        "/v1/devices/occupancy",
        json={"event_id": event_id, "space_code": code, "occupied": occupied, "ts": iso(ts)},
        headers=sensor.h,
    )


async def test_out_of_order_sensor_events_never_overwrite_newer_state(client: Client) -> None:
    op, lot, sensor = await _sensed_lot(client)
    t = now_utc()
    newer = await _sense(client, sensor, "S00", True, t, "n")
    older = await _sense(client, sensor, "S00", False, t - timedelta(seconds=30), "o")
    assert newer.status_code == older.status_code == 201
    assert newer.json()["applied"] is True and newer.json()["state"] == "occupied"
    assert older.json()["applied"] is False and older.json()["state"] == "occupied"
    spaces = (await client.http.get(f"/v1/operator/lots/{lot['id']}/spaces", headers=op.h)).json()
    s00 = next(s for s in spaces if s["code"] == "S00")
    assert s00["state"] == "occupied" and s00["state_source"] == "sensor"
    replay = await _sense(client, sensor, "S00", True, t, "n")
    assert replay.status_code == 200 and replay.json()["applied"] is True


async def test_unknown_space_code_is_404(client: Client) -> None:
    op, lot, sensor = await _sensed_lot(client)
    r = await _sense(client, sensor, "ZZ99", True, now_utc(), "u")
    assert r.status_code == 404 and r.json()["code"] == "unknown_space"


async def test_search_by_distance_with_live_counts_and_price(client: Client) -> None:
    op, near, sensor = await _sensed_lot(client, spaces=3, name="near", lat=31.3003, lon=121.5136)
    far = await client.lot(op, kind="garage", capacity=100, name="far", lat=31.3103, lon=121.5136)
    assert far["kind"] == "garage"
    outside = await client.lot(op, kind="garage", capacity=5, name="outside", lat=31.40, lon=121.51)
    drv = await client.driver()
    await _sense(client, sensor, "S01", True, now_utc(), "x1")
    r = await client.http.get(
        "/v1/lots", params={"lat": 31.3003, "lon": 121.5136, "radius_m": 2000}, headers=drv.h
    )
    assert r.status_code == 200, r.text
    hits = r.json()["lots"]
    assert [h["name"] for h in hits] == ["near", "far"]
    assert hits[0]["distance_m"] < 1
    # 0.01 deg of latitude = 1111.95 m on the 6371.0088 km mean sphere
    assert abs(hits[1]["distance_m"] - 1111.95) < 0.5
    assert hits[0]["free_spaces"] == 2 and hits[1]["free_spaces"] == 100
    assert all(h["id"] != outside["id"] for h in hits)
    # price at 10:00 Shanghai: 2 units of 30 min at 500 -> 1000 fen per hour
    r = await client.http.get(
        "/v1/lots",
        params={
            "lat": 31.3003,
            "lon": 121.5136,
            "radius_m": 2000,
            "at": "2030-01-07T10:00:00+08:00",
            "kind": "garage",
        },
        headers=drv.h,
    )
    assert [(h["name"], h["price_fen_per_hour"]) for h in r.json()["lots"]] == [("far", 1000)]


async def test_future_availability_counts_bookings_covering_that_time(client: Client) -> None:
    op, lot, sensor = await _sensed_lot(client, spaces=2)
    drv = await client.driver("沪A12345")
    start = now_utc() + timedelta(days=2)
    r = await client.http.post(
        "/v1/bookings",
        json={
            "lot_id": lot["id"],
            "start": iso(start),
            "end": iso(start + timedelta(hours=2)),
            "plate": "沪A12345",
        },
        headers=drv.h,
    )
    assert r.status_code == 201
    during = await client.http.get(
        f"/v1/lots/{lot['id']}", params={"at": iso(start + timedelta(hours=1))}, headers=drv.h
    )
    assert during.json()["free_spaces"] == 1
    assert during.json()["availability"]["reserved"] == 1
    now = await client.http.get(f"/v1/lots/{lot['id']}", headers=drv.h)
    assert now.json()["free_spaces"] == 2


async def test_entrance_congestion(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=50)
    await client.http.patch(
        f"/v1/operator/lots/{lot['id']}", json={"entrance_service_rate_per_min": 0.5}, headers=op.h
    )
    cam = await client.device(op, lot["id"])
    drv = await client.driver()
    calm = (await client.http.get(f"/v1/lots/{lot['id']}", headers=drv.h)).json()
    assert calm["entrance_congested"] is False and calm["arrivals_per_min"] == 0
    for i in range(3):
        await client.anpr(cam, f"沪A1000{i}", "in", now_utc() - timedelta(minutes=i), f"c{i}")
    busy = (await client.http.get(f"/v1/lots/{lot['id']}", headers=drv.h)).json()
    # 3 entries in the last 5 minutes = 0.6 per minute >= 1 entrance x 0.5 per minute
    assert busy["arrivals_per_min"] == 0.6
    assert busy["entrance_congested"] is True
    assert busy["free_spaces"] == 47


async def test_guidance_to_nearest_free_space(client: Client) -> None:
    op, lot, sensor = await _sensed_lot(client, spaces=3)
    await _sense(client, sensor, "S00", True, now_utc(), "g0")
    drv = await client.driver()
    target = lot["spaces"][2]
    r = await client.http.get(
        f"/v1/lots/{lot['id']}/guidance", params={"lat": target["lat"], "lon": target["lon"]}, headers=drv.h
    )
    codes = [h["code"] for h in r.json()]
    assert codes == ["S02", "S01"]


async def test_out_of_service_space_is_not_free(client: Client) -> None:
    op, lot, sensor = await _sensed_lot(client, spaces=2)
    space = lot["spaces"][0]["id"]
    r = await client.http.patch(f"/v1/operator/spaces/{space}", json={"out_of_service": True}, headers=op.h)
    assert r.status_code == 200 and r.json()["state"] == "out_of_service"
    detail = (await client.http.get(f"/v1/lots/{lot['id']}", headers=op.h)).json()
    assert detail["free_spaces"] == 1 and detail["availability"]["out_of_service"] == 1


async def test_operator_occupancy_report(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=4)
    cam = await client.device(op, lot["id"])
    base = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    await client.anpr(cam, "沪A11111", "in", base + timedelta(minutes=0), "a-in")
    # exits seen as driven through (a barrier-less lane): the stays close at these times
    await client.anpr(cam, "沪A11111", "out", base + timedelta(minutes=90), "a-out", passed=True)
    await client.anpr(cam, "沪A22222", "in", base + timedelta(minutes=30), "b-in")
    await client.anpr(cam, "沪A22222", "out", base + timedelta(minutes=60), "b-out", passed=True)
    r = await client.http.get(
        f"/v1/operator/lots/{lot['id']}/occupancy",
        params={"from": iso(base), "to": iso(base + timedelta(hours=2)), "bucket": "hour"},
        headers=op.h,
    )
    assert r.status_code == 200, r.text
    first, second = r.json()
    # hour 1: car A all 60 min + car B 30 min -> 90 car-minutes / 60 = 1.5 average, peak 2
    assert first["avg_occupied"] == 1.5 and first["max_occupied"] == 2
    assert first["occupancy_ratio"] == 0.375
    assert (first["entries"], first["exits"]) == (2, 0)
    # hour 2: car A 30 min -> 0.5 average, peak 1; exits of A (at +90) and B (at +60)
    assert second["avg_occupied"] == 0.5 and second["max_occupied"] == 1
    assert (second["entries"], second["exits"]) == (0, 2)
