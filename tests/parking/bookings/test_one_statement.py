"""The one-statement booking (PostgreSQL's ``beidou_book``, migration 0007_booking_fastpath)
answers exactly as the ORM path: every scenario below runs twice on fresh, identical data, once
through ``POST /v1/bookings`` (on PostgreSQL: the function, in one round trip) and once through
the ORM path (``create_booking`` inside a unit of work that already holds a transaction, which
always takes the ORM path), and both must give the outcomes written beside each scenario.

On SQLite both runs take the ORM path; the scenarios' expected outcomes hold there too.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from core.errors import DomainError
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn
from parking.identity.access import Principal
from parking.identity.schemas import Role
from tests.conftest import Backend
from tests.support import TARIFF, Actor, Client, iso, now_utc, unit

WORLDS = itertools.count(1)  # plates are unique: each world's drivers get their own


def future_local(days: int, hhmm: str) -> datetime:
    base = (now_utc() + timedelta(days=days)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    return datetime.fromisoformat(f"{base.isoformat()}T{hhmm}:00+08:00")


@dataclass
class World:
    op: Actor
    lot: dict[str, Any]
    driver: Actor
    plate: str
    other: Actor  # a driver with a plate of their own
    other_plate: str
    ids: dict[str, str] = field(default_factory=dict)  # booking id -> "b1", "b2"... in order seen

    def space(self, i: int) -> str:
        return str(self.lot["spaces"][i]["id"])

    def label(self, booking_id: str) -> str:
        return self.ids.setdefault(booking_id, f"b{len(self.ids) + 1}")


async def make_world(c: Client, *, kind: str = "surface", spaces: int = 2) -> World:
    n = next(WORLDS)
    op = await c.operator()
    lot = await c.lot(op, kind=kind, spaces=spaces, capacity=max(spaces, 1))
    plate, other_plate = f"沪A{n:05d}", f"沪B{n:05d}"
    driver = await c.driver(plate)
    other = await c.driver(other_plate, name="Other")
    return World(op, lot, driver, plate, other, other_plate)


Outcome = tuple[Any, ...]
Book = Callable[[World, Actor, dict[str, Any], str | None], Awaitable[Outcome]]


def _normal(w: World, status: str, body: dict[str, Any]) -> Outcome:
    """What must be equal between the paths: everything but the new id's value and created_at."""
    spaces = [s["id"] for s in w.lot["spaces"]]
    space = body["space_id"]
    return (
        status,
        w.label(str(body["id"])),
        body["status"],
        None if space is None else spaces.index(str(space)),
        {w.plate: "mine", w.other_plate: "other's"}.get(body["plate"], body["plate"]),
        datetime.fromisoformat(str(body["start"])).astimezone(UTC),
        datetime.fromisoformat(str(body["end"])).astimezone(UTC),
        body["price_fen"],
        body["cancel_fee_fen"],
    )


def http_book(c: Client, sent: list[int] | None = None) -> Book:
    async def book(w: World, who: Actor, body: dict[str, Any], key: str | None) -> Outcome:
        if sent is not None:
            sent.append(1)
        headers = dict(who.h)
        if key is not None:
            headers["Idempotency-Key"] = key
        r = await c.http.post("/v1/bookings", json=body, headers=headers)
        if r.status_code in (200, 201):
            return _normal(w, "created" if r.status_code == 201 else "replayed", r.json())
        assert r.headers["content-type"].startswith("application/problem+json"), r.text
        return ("refused", r.status_code, r.json()["code"], r.json()["detail"])

    return book


STATUS = {"NotFound": 404, "Invalid": 422, "Conflict": 409}


def orm_book(c: Client) -> Book:
    async def book(w: World, who: Actor, body: dict[str, Any], key: str | None) -> Outcome:
        data = BookingIn.model_validate(body)
        try:
            async with unit(c) as ctx:
                await ctx.db.execute(text("SELECT 1"))  # a transaction is open: the ORM path
                out, created = await bookings.create_booking(
                    ctx, Principal(Role.DRIVER, uuid.UUID(who.id)), data, key
                )
        except DomainError as exc:
            return ("refused", STATUS[type(exc).__name__], exc.code, exc.detail)
        return _normal(w, "created" if created else "replayed", out.model_dump(mode="json"))

    return book


def body(w: World, start: datetime, hours: float = 1, **extra: Any) -> dict[str, Any]:
    end = start + timedelta(hours=hours)
    return {"lot_id": w.lot["id"], "start": iso(start), "end": iso(end), "plate": w.plate, **extra}


Scenario = Callable[[Client, Book], Awaitable[list[Outcome]]]


async def first_free_then_second_then_full(c: Client, book: Book) -> list[Outcome]:
    w = await make_world(c)
    s = future_local(3, "10:00")
    return [await book(w, w.driver, body(w, s, 2), None) for _ in range(3)]


async def idempotency_replay_and_reuse(c: Client, book: Book) -> list[Outcome]:
    w = await make_world(c)
    s = future_local(3, "10:00")
    return [
        await book(w, w.driver, body(w, s), "k-1"),
        await book(w, w.driver, body(w, s), "k-1"),
        await book(w, w.driver, body(w, s, 2), "k-1"),
        await book(w, w.other, body(w, s, plate=w.other_plate), "k-1"),  # keys are per driver
    ]


async def refusals_in_the_orm_order(c: Client, book: Book) -> list[Outcome]:
    w = await make_world(c)
    s = future_local(3, "10:00")
    horizon = c.app.state.beidou.settings.booking_horizon_days
    past = now_utc() - timedelta(hours=1)
    far = now_utc() + timedelta(days=horizon + 1)
    unknown = {"lot_id": str(uuid.uuid4())}
    return [
        await book(w, w.driver, body(w, s, plate=w.other_plate), None),  # another driver's plate
        await book(w, w.driver, body(w, past, plate=w.other_plate), None),  # the plate is checked first
        await book(w, w.driver, body(w, past), None),
        await book(w, w.driver, body(w, far), None),
        await book(w, w.driver, body(w, far, **unknown), None),  # the window before the lot
        await book(w, w.driver, body(w, s, **unknown), None),
        await book(w, w.driver, body(w, s, space_id=str(uuid.uuid4())), None),
    ]


async def asked_space_and_kind(c: Client, book: Book) -> list[Outcome]:
    w = await make_world(c, spaces=3)
    r = await c.http.patch(f"/v1/operator/spaces/{w.space(2)}", json={"kind": "ev"}, headers=w.op.h)
    assert r.status_code == 200, r.text
    s = future_local(3, "10:00")
    return [
        await book(w, w.driver, body(w, s, space_id=w.space(1)), None),
        await book(w, w.driver, body(w, s, space_id=w.space(1)), None),  # taken: 409
        await book(w, w.driver, body(w, s, space_kind="ev"), None),  # the ev space, not S00
        await book(w, w.driver, body(w, s, space_kind="ev"), None),  # no other ev space
        await book(w, w.driver, body(w, s), None),  # S00 is the last free one
        await book(w, w.driver, body(w, s), None),
    ]


async def suspended_operator(c: Client, book: Book) -> list[Outcome]:
    w = await make_world(c)
    r = await c.http.post(f"/v1/admin/operators/{w.op.id}/suspend", headers=c.admin.h)
    assert r.status_code == 200, r.text
    return [await book(w, w.driver, body(w, future_local(3, "10:00")), None)]


async def tariff_changed_between_bookings(c: Client, book: Book) -> list[Outcome]:
    w = await make_world(c)
    s = future_local(3, "10:00")
    first = await book(w, w.driver, body(w, s, 2), None)
    dearer = {**TARIFF, "bands": [{**band, "unit_fen": band["unit_fen"] * 2} for band in TARIFF["bands"]]}
    r = await c.http.patch(f"/v1/operator/lots/{w.lot['id']}", json={"tariff": dearer}, headers=w.op.h)
    assert r.status_code == 200, r.text
    return [first, await book(w, w.driver, body(w, s, 2), None)]


async def garage_and_shared_lots(c: Client, book: Book) -> list[Outcome]:
    garage = await make_world(c, kind="garage", spaces=0)
    s = future_local(3, "10:00")
    shared = await make_world(c, kind="surface", spaces=2)
    day = future_local(7, "00:00")
    windows = [{"days": [day.weekday()], "start": "08:30", "end": "17:30"}]
    r = await c.http.put(
        f"/v1/operator/spaces/{shared.space(0)}/shared-windows", json=windows, headers=shared.op.h
    )
    assert r.status_code == 200, r.text
    return [
        await book(garage, garage.driver, body(garage, s), None),  # a place, no space
        await book(shared, shared.driver, body(shared, day.replace(hour=9)), None),  # S00, in its window
        await book(shared, shared.driver, body(shared, day.replace(hour=18)), None),  # S01: S00 closed
        await book(shared, shared.driver, body(shared, day.replace(hour=18)), None),
    ]


D3 = future_local(3, "10:00").astimezone(UTC)  # the dates the expectations below are written for
NO_SPACE = ("refused", 409, "no_space", "no space is free for the whole window")
NOT_YOURS = ("refused", 422, "plate_not_yours", "the plate must be one of your registered plates")


def booked(status: str, label: str, space: int | None, start: datetime, hours: float, price: int) -> Outcome:
    return (status, label, "confirmed", space, "mine", start, start + timedelta(hours=hours), price, 0)


def expected(name: str, c: Client) -> list[Outcome]:
    horizon = c.app.state.beidou.settings.booking_horizon_days
    d7 = future_local(7, "00:00").astimezone(UTC)
    return {
        # the tariff: 500 fen per 30 min from 08:00 to 20:00 Shanghai time; 10:00-12:00 = 4 units
        "first_free_then_second_then_full": [
            booked("created", "b1", 0, D3, 2, 2000),
            booked("created", "b2", 1, D3, 2, 2000),
            NO_SPACE,
        ],
        "idempotency_replay_and_reuse": [
            booked("created", "b1", 0, D3, 1, 1000),
            booked("replayed", "b1", 0, D3, 1, 1000),
            (
                "refused",
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request",
            ),
            ("created", "b2", "confirmed", 1, "other's", D3, D3 + timedelta(hours=1), 1000, 0),
        ],
        "refusals_in_the_orm_order": [
            NOT_YOURS,
            NOT_YOURS,
            ("refused", 422, "start_in_past", "a booking cannot start in the past"),
            ("refused", 422, "beyond_horizon", f"a booking may start at most {horizon} days ahead"),
            ("refused", 422, "beyond_horizon", f"a booking may start at most {horizon} days ahead"),
            ("refused", 404, "not_found", "lot not found"),
            ("refused", 404, "not_found", "space not found in this lot"),
        ],
        "asked_space_and_kind": [
            booked("created", "b1", 1, D3, 1, 1000),
            NO_SPACE,
            booked("created", "b2", 2, D3, 1, 1000),
            NO_SPACE,
            booked("created", "b3", 0, D3, 1, 1000),
            NO_SPACE,
        ],
        "suspended_operator": [
            ("refused", 409, "lot_suspended", "the lot's operator is suspended: it takes no bookings")
        ],
        # twice the unit price after the change: 4 units x 1000
        "tariff_changed_between_bookings": [
            booked("created", "b1", 0, D3, 2, 2000),
            booked("created", "b2", 1, D3, 2, 4000),
        ],
        "garage_and_shared_lots": [
            booked("created", "b1", None, D3, 1, 1000),
            # the shared world's own bookings: b1, b2 (d7 is its day's 00:00 in Shanghai)
            booked("created", "b1", 0, d7 + timedelta(hours=9), 1, 1000),
            booked("created", "b2", 1, d7 + timedelta(hours=18), 1, 1000),  # 18:00-19:00: 2 units x 500
            NO_SPACE,
        ],
    }[name]


SCENARIOS: list[Scenario] = [
    first_free_then_second_then_full,
    idempotency_replay_and_reuse,
    refusals_in_the_orm_order,
    asked_space_and_kind,
    suspended_operator,
    tariff_changed_between_bookings,
    garage_and_shared_lots,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_one_statement_and_orm_paths_answer_alike(
    client: Client, backend: Backend, scenario: Scenario
) -> None:
    autocommit = client.app.state.beidou.autocommit
    sent: list[int] = []
    through_http = await scenario(client, http_book(client, sent))
    statements = 0 if autocommit is None else autocommit.statements
    through_orm = await scenario(client, orm_book(client))
    assert through_http == through_orm == expected(scenario.__name__, client)
    if backend.is_postgres:  # every HTTP booking went to the function (a new lot's tariff: twice)
        assert autocommit is not None and len(sent) <= statements <= 2 * len(sent)
        assert autocommit.statements == statements  # and none of the ORM path's
    else:
        assert autocommit is None


async def test_racing_paths_make_exactly_one_booking(client: Client, backend: Backend) -> None:
    """Forty requests through the function and ten through the ORM path race for one space and
    window: exactly one wins, and the database holds exactly one live booking of it."""
    w = await make_world(client, spaces=1)
    drivers = [w.driver]
    for i in range(49):
        drivers.append(await client.driver(f"沪C{i:05d}", name=f"d{i}"))
    plates = [w.plate] + [f"沪C{i:05d}" for i in range(49)]
    s = future_local(5, "09:00")
    http, orm = http_book(client), orm_book(client)
    outcomes = await asyncio.gather(
        *(
            (orm if i % 5 == 0 else http)(
                w, drivers[i], body(w, s, 2, space_id=w.space(0), plate=plates[i]), None
            )
            for i in range(50)
        )
    )
    assert sorted(o[0] for o in outcomes) == ["created"] + ["refused"] * 49
    assert all(o == NO_SPACE for o in outcomes if o[0] == "refused")
    async with unit(client) as ctx:
        live = await bookings.live_overlapping(ctx, uuid.UUID(w.lot["id"]), s, s + timedelta(hours=2))
    assert len(live) == 1 and str(live[0].space_id) == w.space(0)
