"""Two weeks of a garage and a street lot, day by day, on the platform's own clock.

The platform clock is simulated (each unit of work runs at the moment the event *arrives*, which
is not always the moment its device says it happened), so this runs the services directly on the
real database rather than through HTTP, whose clock is the wall clock. Devices misbehave on
purpose: reads arrive late and out of order, are delivered twice, and are dated in the future.

Every expected number below is derived by hand from the demo centre tariff (parking.demo):
15 free minutes (a longer stay pays every started unit from entry), 30-minute units priced by the
Asia/Shanghai band their start falls in (08:00-20:00: 500 fen; 20:00-08:00: 200 fen), at most
6000 fen per 24 h from entry; cancellation free until 60 min before the start, then 50 % kept.

Each day d (0..13, from Monday 2026-11-02, Asia/Shanghai):
- A_d enters 09:00, is held at 11:10 (unpaid: 130 min -> 5 units, 09:00 ... 11:00, x 500 = 2500),
  pays at 11:12 (132 min: still 5 units, 2500) and leaves at 11:15, inside the 15 minutes after
  paying: the gate opens on what was paid.
- B_d enters 19:00 and drives out at 21:40 with nothing paid (camera ``passed``):
  160 min -> 6 units: 19:00, 19:30 x 500 + 20:00, 20:30, 21:00, 21:30 x 200 = 1800, a receivable.
  B_d's driver pays it on day d+2 at 10:00 when d is even (d = 0, 2, ..., 10: six of them).
- The camera sends a read dated an hour ahead (13:00): refused, counted (14 in all).
- The street sensor: S00 occupied 08:00 and free 12:00; S01 occupied 12:20 (arrives 12:21); then
  on odd days "S01 free at 12:10" arrives at 12:30 (older than the state: kept, not applied), on
  even days "S01 free at 18:00" (applied). S00's 08:00 reading is delivered twice.
Once:
- C enters day 0 08:00 and is read leaving day 8 09:00 (more than 168 h): held for review,
  flagged ``overlong_stay``; the operator releases it at 09:29: 8 days 1 h 29 min -> 8 capped
  periods x 6000 + 3 units (08:00, 08:30, 09:00) x 500 = 49500, a receivable never paid.
- Day 3 10:00: E1 enters (C and A_3 hold 2 of 3 places), E2 is held (full, no session). E1 is
  held at 10:20 (20 min -> 1 unit, 500) and released at 10:25 (25 min -> 500), a receivable.
- Driver D books day 4 14:00-16:00 on day 1 (4 units x 500 = 2000) and pays ahead; cancels on
  day 4 at 13:30 (within 60 min): 1000 kept, 1000 refunded.
- D books day 6 14:00-15:00 on day 5 (1000), pays ahead, enters 13:55 (booked), leaves 14:40:
  45 min -> 13:55, 14:25 x 500 = 1000, all prepaid: the gate opens on the prepayment, no refund.
- D books day 10 09:00-10:00 on day 9 (1000), pays ahead, never comes: expired at 09:16 (start +
  15 min grace), 500 kept, 500 refunded by the sweep.
- Day 5 12:00: the sensor sends a reading dated 2099: refused, counted.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from parking.bookings import money
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn
from parking.events import service as events
from parking.events.models import AnprEvent, OccupancyEvent
from parking.events.schemas import AnprEventIn, Direction, OccupancyEventIn
from parking.identity import service as identity
from parking.identity.access import Principal
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.reports import service as reports
from parking.sessions import payments, refunds
from parking.sessions import service as sessions
from parking.sessions.models import ParkingSession
from parking.unit import Ctx
from tests.support import Actor, Client

SH = ZoneInfo("Asia/Shanghai")
DAY0 = datetime(2026, 11, 2, tzinfo=SH)
DAYS = 14


def t(day: int, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return DAY0 + timedelta(days=day, hours=hours, minutes=minutes)


async def test_two_weeks_day_by_day(client: Client) -> None:
    c = client
    state = c.app.state.beidou
    provider = state.providers["sandbox"]
    op = await c.operator()
    garage = await c.lot(op, kind="garage", capacity=3, name="Garage")
    street = await c.lot(op, kind="surface", capacity=2, spaces=2, name="Street")
    camera = await c.device(op, garage["id"])
    sensor = await c.device(op, street["id"], "occupancy_sensor")
    drivers: dict[str, Actor] = {}
    for d in range(DAYS):
        drivers[f"沪A{d:05d}"] = await c.driver(f"沪A{d:05d}")
        drivers[f"沪B{d:05d}"] = await c.driver(f"沪B{d:05d}")
    drivers["沪D00001"] = await c.driver("沪D00001")
    operator = Principal(Role.OPERATOR, uuid.UUID(op.id))
    garage_id, street_id = uuid.UUID(garage["id"]), uuid.UUID(street["id"])
    camera_id, sensor_id = uuid.UUID(camera.id), uuid.UUID(sensor.id)

    def driver(plate: str) -> Principal:
        return Principal(Role.DRIVER, uuid.UUID(drivers[plate].id))

    @asynccontextmanager
    async def arrives(at: datetime) -> AsyncIterator[Ctx]:
        """One unit of work at platform time ``at``; refunds it decides are sent after it."""
        async with state.sessionmaker() as db:
            ctx = Ctx(db=db, settings=state.settings, now=at)
            yield ctx
            await db.commit()
        if ctx.refunds_queued:
            await sweep(at)

    async def sweep(at: datetime) -> int:
        async with state.sessionmaker() as db:
            sent = await refunds.send_pending(Ctx(db=db, settings=state.settings, now=at), state.providers)
            await db.commit()
        return sent

    gates: list[tuple[str, str, str, int | None]] = []

    async def read(
        plate: str, direction: str, ts: datetime, received: datetime, event_id: str, *, passed: bool = False
    ) -> events.Outcome:
        event = AnprEventIn(
            event_id=event_id, plate=plate, direction=Direction(direction), ts=ts, passed=passed
        )
        async with arrives(received) as ctx:
            outcome = await events.ingest_anpr(ctx, garage_id, camera_id, event)
        if outcome.decision is not None and outcome.created:
            d = outcome.decision
            gates.append((event_id, d.gate, d.reason, d.amount_due_fen))
        return outcome

    async def sense(
        code: str, occupied: bool, ts: datetime, received: datetime, event_id: str
    ) -> events.Outcome:
        event = OccupancyEventIn(event_id=event_id, space_code=code, occupied=occupied, ts=ts)
        async with arrives(received) as ctx:
            return await events.ingest_occupancy(ctx, street_id, sensor_id, event)

    async def pay(plate: str, session_id: uuid.UUID, at: datetime, key: str) -> None:
        async with arrives(at) as ctx:
            payment, _ = await payments.pay(ctx, driver(plate), session_id, key, provider)
        await callback(payment.provider_ref, payment.amount_fen, at)

    async def callback(ref: str, amount_fen: int, at: datetime) -> None:
        body = json.dumps({"provider_ref": ref, "status": "succeeded", "amount_fen": amount_fen}).encode()
        async with arrives(at) as ctx:
            await money.settle_callback(ctx, provider, body, provider.sign(body))

    async def book_and_prepay(made: datetime, start: datetime, end: datetime, key: str) -> uuid.UUID:
        data = BookingIn(lot_id=garage_id, start=start, end=end, plate="沪D00001")
        async with arrives(made) as ctx:
            booking, _ = await bookings.create_booking(ctx, driver("沪D00001"), data, key)
            payment, _ = await bookings.pay_booking(ctx, driver("沪D00001"), booking.id, key, provider)
        await callback(payment.provider_ref, payment.amount_fen, made + timedelta(minutes=1))
        return booking.id

    b_sessions: dict[int, uuid.UUID] = {}
    ids: dict[str, uuid.UUID] = {}  # sessions and bookings the agenda refers back to

    async def a_day(d: int) -> None:
        a = f"沪A{d:05d}"
        session_a = (await read(a, "in", t(d, "09:00"), t(d, "09:00"), f"a-in-{d}")).session_id
        assert session_a is not None
        ids[f"a-{d}"] = session_a

    async def a_held(d: int) -> None:
        held = await read(f"沪A{d:05d}", "out", t(d, "11:10"), t(d, "11:10"), f"a-out1-{d}")
        assert held.decision is not None and (held.decision.reason, held.decision.amount_due_fen) == (
            "unpaid",
            2500,
        )

    async def a_leaves(d: int) -> None:
        out = await read(f"沪A{d:05d}", "out", t(d, "11:15"), t(d, "11:16"), f"a-out2-{d}")
        assert out.decision is not None and (out.decision.gate, out.decision.reason) == ("open", "paid")

    async def b_enters(d: int) -> None:
        in_b = await read(f"沪B{d:05d}", "in", t(d, "19:00"), t(d, "19:00"), f"b-in-{d}")
        assert in_b.session_id is not None
        b_sessions[d] = in_b.session_id

    async def b_gone(d: int, received: datetime) -> None:
        gone = await read(f"沪B{d:05d}", "out", t(d, "21:40"), received, f"b-out-{d}", passed=True)
        assert gone.decision is not None
        assert (gone.decision.reason, gone.decision.amount_due_fen) == ("unpaid_exit", 1800)

    async def c_enters() -> None:
        session = (await read("沪C00001", "in", t(0, "08:00"), t(0, "08:00"), "c-in")).session_id
        assert session is not None
        ids["c"] = session

    async def c_held() -> None:
        held = await read("沪C00001", "out", t(8, "09:00"), t(8, "09:00"), "c-out")
        assert held.decision is not None and (held.decision.gate, held.decision.reason) == ("hold", "review")

    async def c_released() -> None:
        async with arrives(t(8, "09:29")) as ctx:
            released = await events.release(ctx, operator, ids["c"], "long-stay car, owner unreachable")
        assert released.fee_fen == 49500

    async def e_arrive() -> None:
        e1 = await read("沪E00001", "in", t(3, "10:00"), t(3, "10:00"), "e1-in")
        e2 = await read("沪E00002", "in", t(3, "10:00"), t(3, "10:00"), "e2-in")
        assert e1.decision is not None and e1.decision.reason == "free_space" and e1.session_id is not None
        assert e2.decision is not None and (e2.decision.gate, e2.decision.reason) == ("hold", "full")
        assert e2.session_id is None
        ids["e1"] = e1.session_id

    async def e1_held() -> None:
        held = await read("沪E00001", "out", t(3, "10:20"), t(3, "10:20"), "e1-out")
        assert held.decision is not None and held.decision.amount_due_fen == 500

    async def e1_released() -> None:
        async with arrives(t(3, "10:25")) as ctx:
            await events.release(ctx, operator, ids["e1"], "paid cash at the booth window")

    async def d_cancels() -> None:
        async with arrives(t(4, "13:30")) as ctx:
            cancelled = await bookings.cancel_booking(ctx, driver("沪D00001"), ids["booking-d4"])
        assert cancelled.cancel_fee_fen == 1000

    async def d_books(key: str, made: datetime, start: datetime, end: datetime) -> None:
        ids[f"booking-{key}"] = await book_and_prepay(made, start, end, key)

    async def d_stays() -> None:
        arrived = await read("沪D00001", "in", t(6, "13:55"), t(6, "13:55"), "d-in")
        assert arrived.decision is not None and arrived.decision.reason == "booked"

    async def d_leaves() -> None:
        left = await read("沪D00001", "out", t(6, "14:40"), t(6, "14:40"), "d-out")
        assert left.decision is not None and (left.decision.gate, left.decision.reason) == ("open", "paid")

    async def no_show() -> None:
        async with arrives(t(10, "09:16")) as ctx:
            assert await bookings.expire_no_shows(ctx) == 1

    async def sensor_day(d: int, when: str) -> None:
        if when == "08:00":  # S00's first reading, delivered twice
            assert (await sense("S00", True, t(d, "08:00"), t(d, "08:00"), f"s00-on-{d}")).applied
            assert not (await sense("S00", True, t(d, "08:00"), t(d, "08:02"), f"s00-on-{d}")).created
        elif when == "12:00":
            assert (await sense("S00", False, t(d, "12:00"), t(d, "12:00"), f"s00-off-{d}")).applied
        elif when == "12:21":
            assert (await sense("S01", True, t(d, "12:20"), t(d, "12:21"), f"s01-on-{d}")).applied
        elif when == "12:30":  # arrives after a newer reading: kept, not applied
            assert not (await sense("S01", False, t(d, "12:10"), t(d, "12:30"), f"s01-off-{d}")).applied
        else:
            assert (await sense("S01", False, t(d, "18:00"), t(d, "18:00"), f"s01-off-{d}")).applied

    async def clock_fast(d: int) -> None:
        future = await read("沪F00001", "in", t(d, "14:00"), t(d, "13:00"), f"future-{d}")
        assert future.refused == "future_timestamp"

    async def sensor_2099() -> None:
        refused = await sense("S00", True, datetime(2099, 1, 1, tzinfo=SH), t(5, "12:00"), "s-2099")
        assert refused.refused == "future_timestamp"

    for d in range(DAYS):
        # the day's agenda, run in the order the platform receives it
        agenda: list[tuple[datetime, Callable[[], Awaitable[None]]]] = [
            (t(d, "08:00"), partial(sensor_day, d, "08:00")),
            (t(d, "09:00"), partial(a_day, d)),
            (t(d, "11:10"), partial(a_held, d)),
            (
                t(d, "11:12"),
                partial(lambda d: pay(f"沪A{d:05d}", ids[f"a-{d}"], t(d, "11:12"), f"a-pay-{d}"), d),
            ),
            (t(d, "11:16"), partial(a_leaves, d)),
            (t(d, "12:00"), partial(sensor_day, d, "12:00")),
            (t(d, "12:21"), partial(sensor_day, d, "12:21")),
            (
                t(d, "12:30") if d % 2 else t(d, "18:00"),
                partial(sensor_day, d, "12:30" if d % 2 else "18:00"),
            ),
            (t(d, "13:00"), partial(clock_fast, d)),
            (t(d, "19:00"), partial(b_enters, d)),
            (
                t(d, "22:30") if d == 7 else t(d, "21:40"),
                partial(b_gone, d, t(d, "22:30") if d == 7 else t(d, "21:40")),
            ),
            (t(d, "23:00"), partial(lambda d: sweep(t(d, "23:00")), d)),
        ]
        if d >= 2 and (d - 2) % 2 == 0:  # B_{d-2} pays what it owes
            agenda.append(
                (
                    t(d, "10:00"),
                    partial(
                        lambda d: pay(f"沪B{d - 2:05d}", b_sessions[d - 2], t(d, "10:00"), f"b-pay-{d}"), d
                    ),
                )
            )
        if d == 7:  # A_7's entry read delivered again, late: one effect
            agenda.append(
                (
                    t(7, "11:20"),
                    partial(
                        lambda: _not_created(read("沪A00007", "in", t(7, "09:00"), t(7, "11:20"), "a-in-7"))
                    ),
                )
            )
        agenda += {
            0: [(t(0, "07:59"), c_enters)],
            1: [(t(1, "12:00"), partial(d_books, "d4", t(1, "12:00"), t(4, "14:00"), t(4, "16:00")))],
            3: [(t(3, "10:00"), e_arrive), (t(3, "10:20"), e1_held), (t(3, "10:25"), e1_released)],
            4: [(t(4, "13:30"), d_cancels)],
            5: [
                (t(5, "12:00"), partial(d_books, "d6", t(5, "12:00"), t(6, "14:00"), t(6, "15:00"))),
                (t(5, "12:01"), sensor_2099),
            ],
            6: [(t(6, "13:55"), d_stays), (t(6, "14:40"), d_leaves)],
            8: [(t(8, "09:00"), c_held), (t(8, "09:29"), c_released)],
            9: [(t(9, "12:00"), partial(d_books, "d10", t(9, "12:00"), t(10, "09:00"), t(10, "10:00")))],
            10: [(t(10, "09:16"), no_show)],
        }.get(d, [])
        for _, step in sorted(agenda, key=lambda item: item[0]):
            await step()

    # --- what two weeks left behind ----------------------------------------------------------
    async with arrives(t(DAYS, "00:30")) as ctx:
        rows = await reports.reconciliation(ctx, operator, t(0, "00:00"), t(DAYS, "00:00"))
        owed = await sessions.operator_receivables(ctx, operator, plate=None, open_only=False, limit=100)
        flags = await events.flags(ctx, operator, unresolved_only=False, limit=1000)
        devices = {d.id: d for d in await identity.operator_devices(ctx, operator)}
        stored_reads = await ctx.db.scalar(select(func.count()).select_from(AnprEvent))
        readings = (await ctx.db.scalars(select(OccupancyEvent))).all()
        all_sessions = (await ctx.db.scalars(select(ParkingSession))).all()
        spaces = {s.code: s.occupied for s in await lots_repo.spaces_of_lot(ctx.db, street_id)}

    garage_rows = [r for r in rows if r.lot_id == garage_id]
    assert len(garage_rows) == DAYS and [r.day for r in garage_rows] == [
        (DAY0 + timedelta(days=d)).date().isoformat() for d in range(DAYS)
    ]
    total = {
        k: sum(getattr(r, k) for r in garage_rows) for k in garage_rows[0].model_dump() if k.endswith("_fen")
    }
    assert total == {
        # A 14 x 2500 + B 14 x 1800 + C 49500 + E1 500 + D's stay 1000
        "fees_fen": 35000 + 25200 + 49500 + 500 + 1000,
        "cancellation_fees_fen": 1000 + 500,  # day 4 late cancellation, day 10 no-show
        # A 14 x 2500 + six B receivables 6 x 1800 + D's prepayments 2000 + 1000 + 1000
        "received_fen": 35000 + 10800 + 4000,
        "refunded_fen": 1000 + 500,
        "receivables_new_fen": 25200 + 49500 + 500,
        "receivables_settled_fen": 10800,
        # outstanding is a level, not a flow: summed over days it is not meaningful; see below
        "outstanding_fen": total["outstanding_fen"],
    }
    # the books balance: billed = received - refunded + still owed at the end
    last = garage_rows[-1]
    assert last.outstanding_fen == 8 * 1800 + 49500 + 500
    assert total["fees_fen"] + total["cancellation_fees_fen"] == (
        total["received_fen"] - total["refunded_fen"] + last.outstanding_fen
    )
    day8 = garage_rows[8]
    assert (day8.sessions_closed, day8.fees_fen, day8.received_fen) == (3, 2500 + 1800 + 49500, 2500 + 1800)
    assert (day8.receivables_new_fen, day8.receivables_settled_fen) == (1800 + 49500, 1800)
    assert day8.outstanding_fen == 5 * 1800 + 49500 + 500  # B1, B3, B5, B7, B8 + C + E1
    day3 = garage_rows[3]
    assert (day3.sessions_closed, day3.fees_fen) == (3, 2500 + 1800 + 500)
    assert (garage_rows[4].refunded_fen, garage_rows[4].cancellation_fees_fen) == (1000, 1000)
    assert (garage_rows[10].refunded_fen, garage_rows[10].cancellation_fees_fen) == (500, 500)
    assert garage_rows[1].received_fen == 2500 + 2000  # A_1 and D's first prepayment

    assert sorted((r.reason, r.amount_fen, r.settled_at is not None) for r in owed) == sorted(
        [("unpaid_exit", 1800, d % 2 == 0 and d <= 10) for d in range(DAYS)]
        + [("released", 49500, False), ("released", 500, False)]
    )
    assert Counter(f.kind for f in flags) == {"unpaid_exit": DAYS + 2, "overlong_stay": 1}
    assert devices[camera_id].rejected_future_events == DAYS
    assert devices[sensor_id].rejected_future_events == 1
    # reads stored: A 3/day, B 2/day, C 2, E1 2, E2 1, D 2; no duplicate, no refused one
    assert stored_reads == 5 * DAYS + 7
    assert len(all_sessions) == 2 * DAYS + 3 and all(s.status == "closed" for s in all_sessions)
    assert len(readings) == 4 * DAYS and sum(r.applied for r in readings) == 4 * 7 + 3 * 7
    assert spaces == {"S00": False, "S01": True}  # day 13 is odd: S01's late "free" was not applied
    decided = {g[0]: g[1:] for g in gates}
    assert decided["a-out1-0"] == ("hold", "unpaid", 2500)
    assert decided["a-out2-0"] == ("open", "paid", None)
    assert decided["b-out-0"] == ("open", "unpaid_exit", 1800)
    assert decided["c-out"] == ("hold", "review", None)
    assert decided["e2-in"] == ("hold", "full", None)
    assert decided["d-in"] == ("open", "booked", None)


async def _not_created(outcome: Awaitable[Any]) -> None:
    assert not (await outcome).created
