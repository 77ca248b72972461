"""Bookings: pricing, conflicts, the 100-request race, shared windows, check-in and no-shows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api import background
from tests.support import Actor, Client, iso, now_utc


def future_local(days: int, hhmm: str) -> datetime:
    """A Shanghai wall-clock time ``days`` from today (always in the future for days >= 2)."""
    base = (now_utc() + timedelta(days=days)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    return datetime.fromisoformat(f"{base.isoformat()}T{hhmm}:00+08:00")


async def _book(c: Client, drv: Actor, lot_id: str, start: datetime, end: datetime, **extra: Any) -> Any:
    headers = dict(drv.h)
    if "key" in extra:
        headers["Idempotency-Key"] = extra.pop("key")
    return await c.http.post(
        "/v1/bookings",
        json={"lot_id": lot_id, "start": iso(start), "end": iso(end), "plate": "沪A12345", **extra},
        headers=headers,
    )


async def test_booking_is_priced_by_the_tariff(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    start, end = future_local(3, "10:00"), future_local(3, "12:00")
    r = await _book(client, drv, lot["id"], start, end)
    assert r.status_code == 201, r.text
    body = r.json()
    # 10:00-12:00 = 120 min -> 4 units of 30 min, all in the 08:00-20:00 band at 500 -> 2000 fen
    assert body["status"] == "confirmed"
    assert body["price_fen"] == 2000
    assert body["space_id"] == lot["spaces"][0]["id"]
    got = await client.http.get(f"/v1/bookings/{body['id']}", headers=drv.h)
    assert got.json()["id"] == body["id"]
    mine = await client.http.get("/v1/me/bookings", headers=drv.h)
    assert [b["id"] for b in mine.json()] == [body["id"]]


async def test_overlap_is_refused_and_adjacent_is_fine(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    s, e = future_local(3, "10:00"), future_local(3, "12:00")
    assert (await _book(client, drv, lot["id"], s, e)).status_code == 201
    clash = await _book(client, drv, lot["id"], s + timedelta(hours=1), e + timedelta(hours=1))
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith("application/problem+json")
    assert clash.json()["code"] == "no_space"
    adjacent = await _book(client, drv, lot["id"], e, e + timedelta(hours=1))
    assert adjacent.status_code == 201


async def test_hundred_concurrent_bookings_of_one_space_make_exactly_one(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drivers = []
    for i in range(100):
        r = await client.http.post("/v1/drivers", json={"name": f"d{i}", "phone": "+86 138 0000 0000"})
        actor = Actor(**r.json())
        plate = f"沪A{i:05d}"
        assert (
            await client.http.post("/v1/me/plates", json={"plate": plate}, headers=actor.h)
        ).status_code == 201
        drivers.append((actor, plate))
    s, e = future_local(4, "09:00"), future_local(4, "11:00")
    space = lot["spaces"][0]["id"]

    async def attempt(actor: Actor, plate: str) -> int:
        r = await client.http.post(
            "/v1/bookings",
            json={"lot_id": lot["id"], "space_id": space, "start": iso(s), "end": iso(e), "plate": plate},
            headers=actor.h,
        )
        return r.status_code

    codes = await asyncio.gather(*(attempt(a, p) for a, p in drivers))
    assert sorted(codes) == [201] + [409] * 99


async def test_idempotent_retry_returns_the_same_booking(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=2)
    drv = await client.driver("沪A12345")
    s, e = future_local(3, "10:00"), future_local(3, "11:00")
    first = await _book(client, drv, lot["id"], s, e, key="b-1")
    again = await _book(client, drv, lot["id"], s, e, key="b-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len((await client.http.get("/v1/me/bookings", headers=drv.h)).json()) == 1


async def test_an_idempotency_key_is_bound_to_its_request(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=2)
    other = await client.lot(op, spaces=2, name="Other")
    drv = await client.driver("沪A12345")
    s, e = future_local(3, "10:00"), future_local(3, "11:00")
    first = await _book(client, drv, lot["id"], s, e, key="k-1")
    assert first.status_code == 201
    # the same key with another lot, or another window: refused, not answered with the first booking
    for changed in (
        await _book(client, drv, other["id"], s, e, key="k-1"),
        await _book(client, drv, lot["id"], s, e + timedelta(hours=1), key="k-1"),
    ):
        assert changed.status_code == 422, changed.text
        assert changed.json()["code"] == "idempotency_key_reused"
    mine = (await client.http.get("/v1/me/bookings", headers=drv.h)).json()
    assert [(b["id"], b["lot_id"], b["end"]) for b in mine] == [
        (first.json()["id"], lot["id"], first.json()["end"])
    ]
    # the same request again is still the retry it was
    again = await _book(client, drv, lot["id"], s, e, key="k-1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]


async def test_bookings_start_within_the_horizon(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    horizon = client.app.state.beidou.settings.booking_horizon_days
    assert horizon == 90
    far = future_local(horizon + 1, "10:00")
    r = await _book(client, drv, lot["id"], far, far + timedelta(hours=1))
    assert r.status_code == 422 and r.json()["code"] == "beyond_horizon"
    y2099 = datetime(2099, 1, 1, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    r = await _book(client, drv, lot["id"], y2099, y2099 + timedelta(hours=1))
    assert r.status_code == 422 and r.json()["code"] == "beyond_horizon"
    near = future_local(horizon - 1, "10:00")
    assert (await _book(client, drv, lot["id"], near, near + timedelta(hours=1))).status_code == 201


async def test_cancel_before_start_is_free_and_releases_the_space(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    s, e = future_local(3, "10:00"), future_local(3, "11:00")
    booking = (await _book(client, drv, lot["id"], s, e)).json()
    r = await client.http.post(f"/v1/bookings/{booking['id']}/cancel", headers=drv.h)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled" and r.json()["cancel_fee_fen"] == 0
    assert (await _book(client, drv, lot["id"], s, e)).status_code == 201


async def test_booking_never_takes_a_sensed_occupied_space_now(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    sensor = await client.device(op, lot["id"], "occupancy_sensor")
    drv = await client.driver("沪A12345")
    r = await client.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "o1", "space_code": "S00", "occupied": True, "ts": iso(now_utc())},
        headers=sensor.h,
    )
    assert r.status_code == 201
    now_booking = await _book(client, drv, lot["id"], now_utc(), now_utc() + timedelta(hours=1))
    assert now_booking.status_code == 409
    later = await _book(client, drv, lot["id"], future_local(3, "10:00"), future_local(3, "11:00"))
    assert later.status_code == 201


async def test_garage_capacity_counts_open_sessions_and_bookings(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=2)
    cam = await client.device(op, lot["id"])
    await client.anpr(cam, "沪B11111", "in", now_utc(), "g1")
    drv = await client.driver("沪A12345")
    s, e = now_utc(), now_utc() + timedelta(hours=1)
    first = await _book(client, drv, lot["id"], s, e)
    assert first.status_code == 201 and first.json()["space_id"] is None
    full = await _book(client, drv, lot["id"], s, e)
    assert full.status_code == 409
    detail = (await client.http.get(f"/v1/lots/{lot['id']}", headers=drv.h)).json()
    assert detail["free_spaces"] == 0  # 2 - 1 open session - 1 booking covering now


async def test_shared_space_bookable_only_inside_its_windows(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="residential_shared", spaces=1)
    space = lot["spaces"][0]["id"]
    drv = await client.driver("沪A12345")
    day = future_local(7, "00:00")
    # weekday window 08:30-17:30 on the day of the week of `day`, and an overnight window
    weekday = day.weekday()
    windows = [
        {"days": [weekday], "start": "08:30", "end": "17:30"},
        {"days": [weekday], "start": "22:00", "end": "06:00"},
    ]
    r = await client.http.put(f"/v1/operator/spaces/{space}/shared-windows", json=windows, headers=op.h)
    assert r.status_code == 200 and r.json()["shared_windows"] == windows
    inside = await _book(client, drv, lot["id"], day.replace(hour=9), day.replace(hour=12))
    assert inside.status_code == 201
    outside = await _book(client, drv, lot["id"], day.replace(hour=17), day.replace(hour=19))
    assert outside.status_code == 409
    overnight = await _book(
        client, drv, lot["id"], day.replace(hour=23), day.replace(hour=23) + timedelta(hours=6)
    )
    assert overnight.status_code == 201  # 23:00 -> 05:00 next day lies in the 22:00-06:00 window
    bad = await client.http.put(
        f"/v1/operator/spaces/{space}/shared-windows",
        json=[{"days": [7], "start": "25:00", "end": "06:00"}],
        headers=op.h,
    )
    assert bad.status_code == 422


async def test_entry_checks_in_the_booking(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    cam = await client.device(op, lot["id"])
    drv = await client.driver("沪A12345")
    start = now_utc() + timedelta(minutes=10)
    booking = (await _book(client, drv, lot["id"], start, start + timedelta(hours=1))).json()
    r = await client.anpr(cam, "沪A12345", "in", now_utc(), "ci-1")
    session = (await client.http.get(f"/v1/sessions/{r.json()['session_id']}", headers=drv.h)).json()
    assert session["booking_id"] == booking["id"]
    after = (await client.http.get(f"/v1/bookings/{booking['id']}", headers=drv.h)).json()
    assert after["status"] == "checked_in" and after["session_id"] == session["id"]


async def test_no_show_releases_the_space(make_client: Any) -> None:
    client: Client = await make_client(checkin_grace_min=1)
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    start = now_utc() - timedelta(minutes=4)
    booking = (await _book(client, drv, lot["id"], start, start + timedelta(hours=2))).json()
    assert booking["status"] == "confirmed"
    await background.housekeeping(client.app.state.beidou)()
    after = (await client.http.get(f"/v1/bookings/{booking['id']}", headers=drv.h)).json()
    assert after["status"] == "no_show"
    again = await _book(client, drv, lot["id"], now_utc(), now_utc() + timedelta(hours=1))
    assert again.status_code == 201


async def test_booking_validation(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    s = future_local(3, "10:00")
    assert (await _book(client, drv, lot["id"], s, s)).status_code == 422
    naive = await client.http.post(
        "/v1/bookings",
        json={
            "lot_id": lot["id"],
            "start": "2030-01-01T10:00:00",
            "end": "2030-01-01T11:00:00",
            "plate": "沪A12345",
        },
        headers=drv.h,
    )
    assert naive.status_code == 422
    past = await _book(client, drv, lot["id"], now_utc() - timedelta(days=1), now_utc() + timedelta(hours=1))
    assert past.status_code == 422 and past.json()["code"] == "start_in_past"
    unknown = await client.http.post(
        "/v1/bookings",
        json={
            "lot_id": "00000000-0000-0000-0000-000000000000",
            "start": iso(s),
            "end": iso(s + timedelta(hours=1)),
            "plate": "沪A12345",
        },
        headers=drv.h,
    )
    assert unknown.status_code == 404
