"""The admin's district-wide reports: revenue per lot and Asia/Shanghai hour or day, occupancy of
every lot (the operators' own computation), and the bounds on what one request may ask."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from core.errors import Forbidden, Invalid
from parking.events import service as events
from parking.events.schemas import AnprEventIn, Direction
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import DeviceIn, DeviceKind, Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, LotOut
from parking.reports import district
from parking.reports import service as reports
from parking.reports.schemas import DistrictBucket
from parking.sessions import payments
from parking.unit import Ctx
from tests.support import TARIFF, Client, unit

SANDBOX = payments.SandboxProvider("s" * 32)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+00:00")


def sh(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


async def _garage(ctx: Ctx, name: str) -> tuple[Principal, LotOut, Any]:
    op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, name)).id)
    lot = await lots.create_lot(
        ctx, op, LotIn(name=name, lat=31.3, lon=121.5, kind=LotKind.GARAGE, capacity=4, tariff=TARIFF)
    )
    cam = await lots.add_device(ctx, op, DeviceIn(lot_id=lot.id, kind=DeviceKind.ANPR_CAMERA, name="c"))
    return op, lot, cam


async def _stay_and_pay(
    ctx: Ctx, lot: LotOut, cam: Any, driver: Principal, plate: str, entry: datetime, paid: datetime
) -> int:
    """A car enters at ``entry`` and pays at ``paid`` (the payment settles then)."""
    ctx.now = entry
    await identity.add_plate(ctx, driver, plate)
    read = AnprEventIn(event_id=f"in-{plate}", plate=plate, direction=Direction.IN, ts=entry)
    session_id = (await events.ingest_anpr(ctx, lot.id, cam.id, read)).session_id
    assert session_id is not None
    ctx.now = paid
    pending, _ = await payments.pay(ctx, driver, session_id, f"k-{plate}", SANDBOX)
    body = json.dumps(
        {"provider_ref": pending.provider_ref, "status": "succeeded", "amount_fen": pending.amount_fen}
    ).encode()
    await payments.settle(ctx, SANDBOX, body, SANDBOX.sign(body))
    return pending.amount_fen


async def test_revenue_per_lot_and_shanghai_hour_and_day(client: Client) -> None:
    """The tariff (CENTRE: 15 free minutes, then 30-minute units from entry priced by the band
    holding each unit's start, 500 fen 08:00-20:00 and 200 fen 20:00-08:00 Shanghai):

    P1 lot A: 12:00Z-13:40Z = 20:00-21:40 local, 100 min -> 4 units at 20:00..21:30, night: 800
    P2 lot A: 15:00Z-16:20Z = 23:00-00:20 local, 80 min -> 3 units, night: 600; it settles on
        the 11th in Shanghai although on the 10th in UTC, as P1 does
    P3 lot A: 23:50Z-01:05Z = 07:50-09:05 local, 75 min -> 07:50 night 200 + 08:20 and 08:50
        day 2 x 500 = 1200
    P4 lot B: 00:45Z-01:30Z = 08:45-09:30 local, 45 min -> 2 day units: 1000
    and a payment left pending (never settled) at lot B, which counts nowhere.
    """
    async with unit(client) as ctx:
        _, lot_a, cam_a = await _garage(ctx, "A")
        _, lot_b, cam_b = await _garage(ctx, "B")
        driver = Principal(Role.DRIVER, (await identity.register_driver(ctx, "D", "+86 138 0000 0000")).id)
        fees = [
            await _stay_and_pay(
                ctx, lot_a, cam_a, driver, "沪A00001", utc("2026-03-10T12:00"), utc("2026-03-10T13:40")
            ),
            await _stay_and_pay(
                ctx, lot_a, cam_a, driver, "沪A00002", utc("2026-03-10T15:00"), utc("2026-03-10T16:20")
            ),
            await _stay_and_pay(
                ctx, lot_a, cam_a, driver, "沪A00003", utc("2026-03-10T23:50"), utc("2026-03-11T01:05")
            ),
            await _stay_and_pay(
                ctx, lot_b, cam_b, driver, "沪A00004", utc("2026-03-11T00:45"), utc("2026-03-11T01:30")
            ),
        ]
        assert fees == [800, 600, 1200, 1000]  # the tariff agrees with the hand computation above
        ctx.now = utc("2026-03-11T01:00")
        await identity.add_plate(ctx, driver, "沪A00005")
        read = AnprEventIn(event_id="in-5", plate="沪A00005", direction=Direction.IN, ts=ctx.now)
        pending_session = (await events.ingest_anpr(ctx, lot_b.id, cam_b.id, read)).session_id
        assert pending_session is not None
        ctx.now = utc("2026-03-11T02:00")
        await payments.pay(ctx, driver, pending_session, "k-5", SANDBOX)

        start, end = utc("2026-03-10T00:00"), utc("2026-03-12T00:00")
        a, b = lot_a.id, lot_b.id
        by_hour = await district.revenue(ctx, ADMIN, start, end, DistrictBucket.HOUR)
        assert [(r.start, r.end, r.lot_id, r.revenue_fen, r.payments) for r in by_hour] == [
            (sh("2026-03-10T21:00"), sh("2026-03-10T22:00"), a, 800, 1),
            (sh("2026-03-11T00:00"), sh("2026-03-11T01:00"), a, 600, 1),
            *sorted(
                [
                    (sh("2026-03-11T09:00"), sh("2026-03-11T10:00"), a, 1200, 1),
                    (sh("2026-03-11T09:00"), sh("2026-03-11T10:00"), b, 1000, 1),
                ],
                key=lambda row: str(row[2]),
            ),
        ]
        by_day = await district.revenue(ctx, ADMIN, start, end, DistrictBucket.DAY)
        assert [(r.start, r.end, r.lot_id, r.revenue_fen, r.payments) for r in by_day] == [
            (sh("2026-03-10T00:00"), sh("2026-03-11T00:00"), a, 800, 1),
            *sorted(
                [
                    (sh("2026-03-11T00:00"), sh("2026-03-12T00:00"), a, 600 + 1200, 2),
                    (sh("2026-03-11T00:00"), sh("2026-03-12T00:00"), b, 1000, 1),
                ],
                key=lambda row: str(row[2]),
            ),
        ]
        assert {r.lot_id: r.operator_id for r in by_day} == {a: lot_a.operator_id, b: lot_b.operator_id}
        assert all(r.start.utcoffset() == timedelta(hours=8) for r in by_day + by_hour)
        # the range is half-open on settlement: P1 (13:40Z) is outside [13:41Z, ...)
        later = await district.revenue(ctx, ADMIN, utc("2026-03-10T13:41"), end, DistrictBucket.DAY)
        assert sum(r.revenue_fen for r in later) == 600 + 1200 + 1000
        # the same payments, as each operator sees them (per Shanghai day)
        op_a = Principal(Role.OPERATOR, lot_a.operator_id)
        assert [(r.day, r.revenue_fen) for r in await reports.revenue(ctx, op_a, start, end)] == [
            ("2026-03-10", 800),
            ("2026-03-11", 1800),
        ]
        # billed is accrual: P1 drives out at 13:45Z (21:45 local), inside the 15 minutes after
        # paying, and its 800 fen are billed on the 10th; nothing was left owed
        ctx.now = utc("2026-03-10T13:45")
        out = AnprEventIn(event_id="out-1", plate="沪A00001", direction=Direction.OUT, ts=ctx.now)
        left = await events.ingest_anpr(ctx, lot_a.id, cam_a.id, out)
        assert left.decision is not None and left.decision.reason == "paid"
        billed = await district.revenue(ctx, ADMIN, start, end, DistrictBucket.DAY)
        assert [(r.start, r.lot_id, r.billed_fen, r.receivables_fen) for r in billed if r.billed_fen] == [
            (sh("2026-03-10T00:00"), a, 800, 0)
        ]
        with pytest.raises(Forbidden):
            await district.revenue(ctx, op_a, start, end, DistrictBucket.DAY)


async def test_district_occupancy_is_each_lots_own_occupancy(client: Client) -> None:
    """Garage A (capacity 4): one car 03:30Z-04:30Z, so each hour from 03:00Z holds it half the
    time: 0.5 cars on average, 1 at most, ratio 0.125; garage B stays empty."""
    async with unit(client) as ctx:
        op_a, lot_a, cam_a = await _garage(ctx, "A")
        _, lot_b, _ = await _garage(ctx, "B")
        ctx.now = utc("2026-03-10T06:00")
        for event_id, direction, ts in (("i", Direction.IN, "03:30"), ("o", Direction.OUT, "04:30")):
            read = AnprEventIn(  # the exit is driven through (no barrier): the stay ends then
                event_id=event_id,
                plate="沪A12345",
                direction=direction,
                ts=utc(f"2026-03-10T{ts}"),
                passed=direction == Direction.OUT,
            )
            await events.ingest_anpr(ctx, lot_a.id, cam_a.id, read)
        start, end = utc("2026-03-10T03:00"), utc("2026-03-10T05:00")
        rows = await district.occupancy(ctx, ADMIN, start, end, DistrictBucket.HOUR)
        assert [(r.lot_id, r.operator_id, r.name) for r in rows] == [
            (lot_a.id, lot_a.operator_id, "A"),
            (lot_b.id, lot_b.operator_id, "B"),
        ]
        a, b = rows
        assert [
            (x.start, x.end, x.avg_occupied, x.max_occupied, x.occupancy_ratio, x.entries, x.exits)
            for x in a.buckets
        ] == [
            (start, utc("2026-03-10T04:00"), 0.5, 1, 0.125, 1, 0),
            (utc("2026-03-10T04:00"), end, 0.5, 1, 0.125, 0, 1),
        ]
        assert [(x.avg_occupied, x.max_occupied, x.entries, x.exits) for x in b.buckets] == [(0, 0, 0, 0)] * 2
        # the admin's figures are the operator's own for its lot
        assert a.buckets == await reports.occupancy(ctx, op_a, lot_a.id, start, end, "hour")
        by_day = await district.occupancy(
            ctx, ADMIN, utc("2026-03-09T16:00"), utc("2026-03-10T16:00"), DistrictBucket.DAY
        )
        assert [(x.avg_occupied, x.max_occupied) for x in by_day[0].buckets] == [(round(1 / 24, 3), 1)]
        with pytest.raises(Forbidden):
            await district.occupancy(ctx, op_a, start, end, DistrictBucket.HOUR)


async def test_ranges_are_bounded(client: Client) -> None:
    t = utc("2026-03-10T00:00")
    async with unit(client) as ctx:
        for call in (district.occupancy, district.revenue):
            with pytest.raises(Invalid):  # backwards, or empty
                await call(ctx, ADMIN, t, t, DistrictBucket.HOUR)
        with pytest.raises(Invalid, match="31 days"):
            await district.occupancy(ctx, ADMIN, t, t + timedelta(days=31, seconds=1), DistrictBucket.DAY)
        with pytest.raises(Invalid, match="31 days"):
            await district.revenue(ctx, ADMIN, t, t + timedelta(days=32), DistrictBucket.HOUR)
        with pytest.raises(Invalid, match="366 days"):
            await district.revenue(ctx, ADMIN, t, t + timedelta(days=367), DistrictBucket.DAY)
        assert await district.occupancy(ctx, ADMIN, t, t + timedelta(days=31), DistrictBucket.HOUR) == []
        assert await district.revenue(ctx, ADMIN, t, t + timedelta(days=366), DistrictBucket.DAY) == []


async def test_district_reports_over_http(client: Client) -> None:
    c = client
    op = await c.operator()
    lot = await c.lot(op, kind="garage", capacity=4)
    h = c.admin.h
    window = {"from": "2026-03-10T00:00:00+08:00", "to": "2026-03-10T02:00:00+08:00"}
    r = await c.http.get("/v1/admin/occupancy", params=window, headers=h)
    assert r.status_code == 200, r.text
    assert [(x["lot_id"], len(x["buckets"])) for x in r.json()] == [(lot["id"], 2)]
    r = await c.http.get("/v1/admin/revenue", params={**window, "bucket": "hour"}, headers=h)
    assert r.status_code == 200 and r.json() == []
    for path, params in (
        ("/v1/admin/occupancy", {**window, "bucket": "15min"}),  # the district is by hour or day
        ("/v1/admin/revenue", {**window, "bucket": "week"}),
        ("/v1/admin/revenue", {"from": "2026-03-10T00:00:00+08:00"}),  # no end
        ("/v1/admin/occupancy", {"from": "2026-03-10T00:00:00", "to": "2026-03-11T00:00:00"}),  # naive
        ("/v1/admin/occupancy", {"from": "2026-01-01T00:00:00+08:00", "to": "2027-01-01T00:00:00+08:00"}),
        ("/v1/admin/revenue", {"from": "1970-01-01T00:00:00Z", "to": "2200-01-01T00:00:00Z"}),
        ("/v1/admin/revenue", {"from": "2026-03-11T00:00:00+08:00", "to": "2026-03-10T00:00:00+08:00"}),
    ):
        r = await c.http.get(path, params=params, headers=h)
        assert r.status_code == 422, (path, params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
