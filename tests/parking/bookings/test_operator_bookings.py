"""An operator's listing of the bookings at its lots: tenancy, the Asia/Shanghai day, status and
limit filters; the admin sees every lot's."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.support import Actor, Client, iso, now_utc

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_day(days: int) -> date:
    return (now_utc() + timedelta(days=days)).astimezone(SHANGHAI).date()


def at(day: date, hhmm: str, plus_days: int = 0) -> datetime:
    return datetime.fromisoformat(f"{(day + timedelta(days=plus_days)).isoformat()}T{hhmm}:00+08:00")


async def _book(c: Client, drv: Actor, lot_id: str, start: datetime, end: datetime) -> str:
    r = await c.http.post(
        "/v1/bookings",
        json={"lot_id": lot_id, "start": iso(start), "end": iso(end), "plate": "沪A12345"},
        headers=drv.h,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _ids(c: Client, actor: Actor, **params: Any) -> list[str]:
    r = await c.http.get("/v1/operator/bookings", params=params, headers=actor.h)
    assert r.status_code == 200, r.text
    return [b["id"] for b in r.json()]


async def test_operator_lists_the_bookings_at_its_own_lots(client: Client) -> None:
    c = client
    a, b = await c.operator("A"), await c.operator("B")
    a1, a2 = await c.lot(a, spaces=2, name="A1"), await c.lot(a, spaces=1, name="A2")
    b1 = await c.lot(b, spaces=1, name="B1")
    drv = await c.driver("沪A12345")
    d3, d4 = local_day(3), local_day(4)
    morning = await _book(c, drv, a1["id"], at(d3, "10:00"), at(d3, "12:00"))
    overnight = await _book(c, drv, a1["id"], at(d3, "23:00"), at(d3, "01:00", plus_days=1))
    next_day = await _book(c, drv, a2["id"], at(d4, "09:00"), at(d4, "10:00"))
    elsewhere = await _book(c, drv, b1["id"], at(d3, "10:30"), at(d3, "11:00"))
    cancelled = await _book(c, drv, a1["id"], at(d4, "20:00"), at(d4, "21:00"))
    assert (await c.http.post(f"/v1/bookings/{cancelled}/cancel", headers=drv.h)).status_code == 200

    # latest start first; another operator's booking never appears
    assert await _ids(c, a) == [cancelled, next_day, overnight, morning]
    assert await _ids(c, b) == [elsewhere]
    assert await _ids(c, c.admin) == [cancelled, next_day, overnight, elsewhere, morning]
    # the answer is the booking as its driver sees it
    listed = (await c.http.get("/v1/operator/bookings", params={"lot_id": a2["id"]}, headers=a.h)).json()
    assert listed == [(await c.http.get(f"/v1/bookings/{next_day}", headers=drv.h)).json()]

    # a Shanghai calendar day: the bookings overlapping it (the overnight one on both days)
    assert await _ids(c, a, day=d3.isoformat()) == [overnight, morning]
    assert await _ids(c, a, day=d4.isoformat()) == [cancelled, next_day, overnight]
    assert await _ids(c, a, day=local_day(5).isoformat()) == []
    assert await _ids(c, a, lot_id=a1["id"], day=d4.isoformat()) == [cancelled, overnight]
    assert await _ids(c, a, status="cancelled") == [cancelled]
    assert await _ids(c, a, status="confirmed", day=d4.isoformat()) == [next_day, overnight]
    assert await _ids(c, a, limit=2) == [cancelled, next_day]


async def test_another_operators_lot_answers_like_an_unknown_one(client: Client) -> None:
    c = client
    a, b = await c.operator("A"), await c.operator("B")
    b1 = await c.lot(b, spaces=1)
    drv = await c.driver("沪A12345")
    await _book(c, drv, b1["id"], at(local_day(3), "10:00"), at(local_day(3), "11:00"))
    theirs = await c.http.get("/v1/operator/bookings", params={"lot_id": b1["id"]}, headers=a.h)
    unknown = await c.http.get("/v1/operator/bookings", params={"lot_id": str(uuid.uuid4())}, headers=a.h)
    assert theirs.status_code == unknown.status_code == 404
    volatile = {"instance", "request_id"}
    assert {k: v for k, v in theirs.json().items() if k not in volatile} == {
        k: v for k, v in unknown.json().items() if k not in volatile
    }
    assert theirs.json()["detail"] == "lot not found"
    assert len(await _ids(c, b, lot_id=b1["id"])) == 1  # the owner sees it


async def test_bookings_listing_is_for_operators_and_checks_its_input(client: Client) -> None:
    c = client
    op = await c.operator()
    lot = await c.lot(op, spaces=1)
    cam = await c.device(op, lot["id"])
    drv = await c.driver("沪A12345")
    for actor in (drv, cam):
        r = await c.http.get("/v1/operator/bookings", headers=actor.h)
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert (await c.http.get("/v1/operator/bookings")).status_code == 401
    for params in ({"status": "lost"}, {"day": "26/11/2026"}, {"day": "9999-12-31"}, {"limit": 0}):
        r = await c.http.get("/v1/operator/bookings", params=params, headers=op.h)
        assert r.status_code == 422, (params, r.text)
