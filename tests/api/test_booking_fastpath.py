"""The booking fast path (``api.fastpath.BookingFastPath``) answers exactly like the FastAPI route,
and only takes what it may.

Two apps on one database, one with the fast paths and one without, get the same corpus of
requests, each on a world of its own built alike (a lot of two spaces, a driver with a plate);
their answers must be equal once the ids each world made are replaced by their order of
appearance. On SQLite the layer stands aside (no one-statement booking there).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.types import Receive, Scope, Send

from api.fastpath import BookingFastPath
from api.middleware import REQUESTS
from tests.conftest import Backend
from tests.support import Actor, Client, iso, now_utc

WORLDS = itertools.count(1)
Request = tuple[dict[str, str], bytes, str]  # headers, body, query


async def _world(c: Client) -> tuple[dict[str, Any], Actor, str, Actor]:
    n = next(WORLDS)
    op = await c.operator()
    lot = await c.lot(op, spaces=2)
    plate = f"沪A{n:05d}"
    driver = await c.driver(plate)
    assert (await c.http.get("/v1/me", headers=driver.h)).status_code == 200  # the token is cached
    assert (await c.http.get("/v1/operator/lots", headers=op.h)).status_code == 200
    return lot, driver, plate, op


def _corpus(lot: dict[str, Any], driver: Actor, plate: str, op: Actor) -> list[Request]:
    day = (
        (now_utc() + timedelta(days=3))
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )

    def body(hours: int = 0, **changes: Any) -> bytes:
        start = day + timedelta(hours=hours)
        fields = {
            "lot_id": lot["id"],
            "start": iso(start),
            "end": iso(start + timedelta(hours=1)),
            "plate": plate,
        }
        fields.update(changes)
        return httpx.Request("POST", "/", json=fields).content

    json_h = {**driver.h, "Content-Type": "application/json"}
    return [
        (json_h, body(), ""),  # 201 on the first space
        ({**json_h, "Idempotency-Key": "k-1"}, body(1), ""),  # 201
        ({**json_h, "Idempotency-Key": "k-1"}, body(1), ""),  # 200: the replay
        ({**json_h, "Idempotency-Key": "k-1"}, body(2), ""),  # 422 idempotency_key_reused
        ({**json_h, "Idempotency-Key": "k" * 129}, body(3), ""),  # 422 from the route
        ({**json_h, "Idempotency-Key": ""}, body(3), ""),
        ({**driver.h, "Content-Type": "application/json; charset=utf-8"}, body(4), ""),  # 201
        ({**driver.h, "Content-Type": "text/plain"}, body(5), ""),
        (driver.h, body(5), ""),  # no content type: the route's call (422)
        (json_h, b'{"lot_id": ', ""),  # broken JSON
        (json_h, b"", ""),
        (json_h, body(6, extra=1), ""),  # an unknown field
        (json_h, body(6, end=iso(day)), ""),  # ends before it starts
        (json_h, body(6, plate="沪Z99999"), ""),  # not the driver's plate
        (json_h, body(-24 * 7), ""),  # in the past
        (json_h, body(6, lot_id="00000000-0000-4000-8000-000000000000"), ""),  # no such lot
        (json_h, body(), ""),  # 201 on the second space
        (json_h, body(), ""),  # 409 no_space
        (json_h, body(7), "x=1"),  # a query: the route's call (201)
        ({**op.h, "Content-Type": "application/json"}, body(8), ""),  # an operator: 403
        ({"Authorization": "Bearer dr_unknown", "Content-Type": "application/json"}, body(8), ""),  # 401
        ({"Authorization": "Basic eDp5", "Content-Type": "application/json"}, body(8), ""),
    ]


def _comparable(r: httpx.Response, lot: dict[str, Any], plate: str, ids: dict[str, str]) -> tuple[Any, ...]:
    spaces = {s["id"]: f"space{i}" for i, s in enumerate(lot["spaces"])}
    body = r.json()
    if "id" in body:
        body["id"] = ids.setdefault(body["id"], f"b{len(ids) + 1}")
        body["lot_id"] = "lot" if body["lot_id"] == lot["id"] else body["lot_id"]
        body["space_id"] = spaces.get(body["space_id"], body["space_id"])
        body.pop("created_at")  # each request's clock reading
        body["plate"] = "mine" if body["plate"] == plate else body["plate"]
    body.pop("request_id", None)
    return r.status_code, r.headers["content-type"], r.headers.get("www-authenticate"), body


def _counted(status: str) -> float:
    """Requests the access metrics counted for the booking route with this status."""
    return float(REQUESTS.labels("POST", "/v1/bookings", status)._value.get())


async def test_fast_path_and_route_answer_alike(make_client: Callable[..., Any], backend: Backend) -> None:
    created_before = _counted("201")
    fast: Client = await make_client()
    slow: Client = await make_client(fast_paths=False)
    answers = []
    for c in (fast, slow):
        lot, driver, plate, op = await _world(c)
        ids: dict[str, str] = {}
        got = []
        for headers, content, query in _corpus(lot, driver, plate, op):
            r = await c.http.post(
                "/v1/bookings" + (f"?{query}" if query else ""), content=content, headers=headers
            )
            got.append(_comparable(r, lot, plate, ids))
        answers.append(got)
    assert answers[0] == answers[1]
    statuses = [a[0] for a in answers[0]]
    assert statuses[:16] == [201, 201, 200, 422, 422, 422, 201, 422, 422, 422, 422, 422, 422, 422, 422, 404]
    assert statuses[16:] == [201, 409, 201, 403, 401, 401]
    # the metrics name the route whichever layer answered: 5 bookings made by each app
    assert _counted("201") - created_before == 10
    assert [a[3].get("code") for a in answers[0][3:6]] == [
        "idempotency_key_reused",
        "idempotency_key",
        "idempotency_key",
    ]


async def test_the_fast_path_takes_plain_bookings_only(client: Client, backend: Backend) -> None:
    lot, driver, plate, op = await _world(client)
    reached: list[tuple[str, bytes]] = []

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()  # the route still gets the whole body
        reached.append((scope["query_string"].decode(), message.get("body", b"")))
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    layer = BookingFastPath(route)

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = client.app  # as Starlette sets it before the middleware stack
        await layer(scope, receive, send)

    corpus = _corpus(lot, driver, plate, op)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_app), base_url="http://t") as http:
        statuses = [
            (
                await http.post("/v1/bookings" + (f"?{q}" if q else ""), content=content, headers=headers)
            ).status_code
            for headers, content, q in corpus
        ]
    if backend.is_postgres:
        # taken: bookings, replays and the service's refusals; left: what the route must judge
        taken = [201, 201, 200, 422, 599, 599, 201, 599, 599, 599, 599, 599, 599, 422, 422, 404]
        assert statuses == [*taken, 201, 409, 599, 403, 401, 599]  # it authenticates as the route does
        assert [body for _, body in reached][:2] == [corpus[4][1], corpus[5][1]]
        assert reached[-2][0] == "x=1"
    else:  # the embedded default books through the route
        assert statuses == [599] * len(corpus)
        assert [body for _, body in reached] == [content for _, content, _ in corpus]
