"""The lot-search fast path answers exactly like the FastAPI route, and only takes what it may."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from api.fastpath import SearchFastPath, parse_search_query
from tests.support import Actor, Client

CENTRE = (31.3003, 121.5136)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lat=31.3&lon=121.5", {"lat": 31.3, "lon": 121.5, "radius_m": 1000.0, "kind": None}),
        (
            "lon=121.5&lat=-31&radius_m=50000&kind=garage",
            {"lat": -31.0, "lon": 121.5, "radius_m": 50000.0, "kind": "garage"},
        ),
        ("lat=90&lon=-180&radius_m=0.5", {"lat": 90.0, "lon": -180.0, "radius_m": 0.5, "kind": None}),
    ],
)
def test_plain_queries_take_the_fast_path(query: str, expected: dict[str, Any]) -> None:
    assert parse_search_query(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "",  # no position
        "lat=31.3",  # no lon
        "lat=91&lon=0",  # out of range
        "lat=0&lon=0&radius_m=0",  # radius must be > 0
        "lat=0&lon=0&radius_m=50001",
        "lat=nan&lon=0",
        "lat=1e1&lon=0",  # valid for the route, but left to it
        "lat=+1&lon=0",
        "lat=1_0&lon=0",
        "lat=&lon=0",
        "lat=0&lon=0&kind=moon",
        "lat=0&lon=0&at=2026-01-01T00:00:00%2B08:00",  # a future time: the full route
        "lat=0&lon=0&lat=1",  # repeated
        "lat=0&lon=0&page=2",  # unknown parameter
        "lat",  # malformed
    ],
)
def test_anything_unusual_is_left_to_the_route(query: str) -> None:
    assert parse_search_query(query) is None


async def _district(c: Client) -> Actor:
    op = await c.operator()
    for i, kind in enumerate(("garage", "surface", "on_street", "garage")):
        await c.lot(
            op, kind=kind, capacity=5 + i, spaces=3, name=f"L{i}", lat=CENTRE[0] + i * 0.004, lon=CENTRE[1]
        )
    return await c.driver("沪A12345")


def _comparable(r: httpx.Response) -> tuple[int, Any]:
    body = r.json()
    if r.status_code == 200:
        body.pop("at")  # each request's own clock reading
    else:
        body.pop("instance", None)
        body.pop("request_id", None)
    return r.status_code, body


NUMBERS = [
    "0",
    "-0",
    "90",
    "-90.0",
    "180",
    "181",
    "1e2",
    "nan",
    "inf",
    "",
    "x",
    "5000",
    "50000",
    "60000",
    "0.004",
]
WORDS = ["garage", "surface", "on_street", "bus"]
NAMES = ["lat", "lon", "radius_m", "kind", "at"]


def _queries(n: int, seed: int = 11) -> list[list[tuple[str, str]]]:
    """A seeded corpus of well-formed and malformed queries around the district."""
    rng = random.Random(seed)
    corpus = []
    for _ in range(n):
        pairs = [
            ("lat", f"{CENTRE[0] + rng.uniform(-0.02, 0.02):.6f}"),
            ("lon", f"{CENTRE[1] + rng.uniform(-0.02, 0.02):.6f}"),
        ]
        if rng.random() < 0.5:
            pairs.append(("radius_m", rng.choice(["300", "800.5", "2000", *NUMBERS])))
        if rng.random() < 0.4:
            pairs.append(("kind", rng.choice(WORDS)))
        for _ in range(rng.choice([0, 0, 0, 1, 2])):  # damage: drop, repeat or corrupt a field
            i = rng.randrange(len(pairs))
            action = rng.choice(["drop", "repeat", "corrupt", "add"])
            if action == "drop":
                pairs.pop(i)
            elif action == "repeat":
                pairs.append(pairs[i])
            elif action == "corrupt":
                pairs[i] = (pairs[i][0], rng.choice(NUMBERS + WORDS))
            else:
                pairs.append((rng.choice(NAMES), rng.choice(NUMBERS + WORDS)))
        rng.shuffle(pairs)
        corpus.append(pairs)
    return corpus


async def test_fast_path_and_route_answer_alike(make_client: Callable[..., Any]) -> None:
    fast: Client = await make_client()
    driver = await _district(fast)
    slow: Client = await make_client(fast_paths=False)  # started after the data: same live view
    statuses = set()
    for i, pairs in enumerate(_queries(150)):
        token = [driver.token, driver.token, "dr_unknown", ""][i % 4]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        a = await fast.http.get("/v1/lots", params=pairs, headers=headers)
        b = await slow.http.get("/v1/lots", params=pairs, headers=headers)
        assert _comparable(a) == _comparable(b), (pairs, token, a.text, b.text)
        statuses.add(a.status_code)
    assert statuses == {200, 401, 422}
    near = await fast.http.get(
        "/v1/lots", params={"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 2000}, headers=driver.h
    )
    assert near.status_code == 200 and [h["name"] for h in near.json()["lots"]] == ["L0", "L1", "L2", "L3"]


async def test_a_plain_search_never_reaches_the_route(client: Client) -> None:
    driver = await _district(client)
    await client.http.get(
        "/v1/lots", params={"lat": 0, "lon": 0, "kind": "moon"}, headers=driver.h
    )  # 422, caches token
    reached: list[str] = []

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["query_string"].decode())
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    layer = SearchFastPath(route)

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = client.app  # as Starlette sets it before the middleware stack
        await layer(scope, receive, send)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=with_app), base_url="http://t") as http:
        ok = await http.get(
            "/v1/lots",
            params={"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": 2000, "kind": "garage"},
            headers=driver.h,
        )
        unusual = await http.get("/v1/lots", params={"lat": "1e1", "lon": "0"}, headers=driver.h)
        stranger = await http.get(
            "/v1/lots", params={"lat": 0, "lon": 0}, headers={"Authorization": "Bearer dr_x"}
        )
    assert ok.status_code == 200 and [h["name"] for h in ok.json()["lots"]] == ["L0", "L3"]
    assert unusual.status_code == stranger.status_code == 599
    assert reached == ["lat=1e1&lon=0", "lat=0&lon=0"]
