"""API nodes are stateless: two app instances on one PostgreSQL and one Redis (each with its own
processes' caches, pools and live-store clients, as two machines behind a load balancer) serve
one district as one. Whatever one node accepted, the other sees, and races across the nodes are
settled by the database.

On the embedded backend the two instances share the SQLite file and a real Redis (SQLite + Redis
is a valid setup); on PostgreSQL both book through the one-statement path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.conftest import Backend
from tests.support import REDIS_URL, Actor, Client, iso, now_utc


async def _nodes(make_client: Callable[..., Any], backend: Backend) -> tuple[Client, Client]:
    shared = {} if backend.is_postgres else {"redis_url": REDIS_URL}
    a: Client = await make_client(search_cache_ttl_s=0, **shared)
    b: Client = await make_client(search_cache_ttl_s=0, **shared)
    return a, b


async def test_what_one_node_accepted_the_other_serves(
    make_client: Callable[..., Any], backend: Backend
) -> None:
    a, b = await _nodes(make_client, backend)
    op = await a.operator()  # the admin's call on node A
    lot = await b.lot(op, spaces=2)  # the operator's token, first seen by node B
    drv = await a.driver("沪A12345")
    assert [x["id"] for x in (await b.http.get("/v1/operator/lots", headers=op.h)).json()] == [lot["id"]]

    start = now_utc() - timedelta(minutes=1)  # held from now on: the live view changes
    body = {
        "lot_id": lot["id"],
        "plate": "沪A12345",
        "start": iso(start),
        "end": iso(start + timedelta(hours=1)),
    }
    booked = await a.http.post("/v1/bookings", json=body, headers={**drv.h, "Idempotency-Key": "k-1"})
    assert booked.status_code == 201, booked.text
    # the retry after a lost answer reaches the other node: the same booking, not a second one
    retried = await b.http.post("/v1/bookings", json=body, headers={**drv.h, "Idempotency-Key": "k-1"})
    assert retried.status_code == 200 and retried.json()["id"] == booked.json()["id"]
    seen = await b.http.get(f"/v1/bookings/{booked.json()['id']}", headers=drv.h)
    assert seen.status_code == 200 and seen.json() == booked.json()
    # the live availability one node refreshed in Redis is what the other node's search shows:
    # 2 spaces, one held by the booking that starts in 5 minutes
    params = {"lat": 31.3003, "lon": 121.5136, "radius_m": 500}
    for node in (a, b):
        hits = (await node.http.get("/v1/lots", params=params, headers=drv.h)).json()["lots"]
        assert [(h["id"], h["free_spaces"]) for h in hits] == [(lot["id"], 1)]

    cancelled = await b.http.post(f"/v1/bookings/{booked.json()['id']}/cancel", headers=drv.h)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    mine = (await a.http.get("/v1/me/bookings", headers=drv.h)).json()
    assert [(x["id"], x["status"]) for x in mine] == [(booked.json()["id"], "cancelled")]
    for node in (a, b):
        hits = (await node.http.get("/v1/lots", params=params, headers=drv.h)).json()["lots"]
        assert [h["free_spaces"] for h in hits] == [2]


async def test_a_race_across_nodes_has_one_winner(make_client: Callable[..., Any], backend: Backend) -> None:
    a, b = await _nodes(make_client, backend)
    op = await a.operator()
    lot = await a.lot(op, spaces=1)
    drivers: list[tuple[Actor, str]] = []
    for i in range(30):
        plate = f"沪B{i:05d}"
        drivers.append((await (a if i % 2 else b).driver(plate, name=f"d{i}"), plate))
    start = now_utc() + timedelta(days=3)

    async def attempt(i: int) -> int:
        actor, plate = drivers[i]
        node = a if i % 2 else b
        r = await node.http.post(
            "/v1/bookings",
            json={
                "lot_id": lot["id"],
                "space_id": lot["spaces"][0]["id"],
                "plate": plate,
                "start": iso(start),
                "end": iso(start + timedelta(hours=2)),
            },
            headers=actor.h,
        )
        return r.status_code

    codes = await asyncio.gather(*(attempt(i) for i in range(len(drivers))))
    assert sorted(codes) == [201] + [409] * (len(drivers) - 1)
    listed = (await b.http.get("/v1/operator/bookings", params={"lot_id": lot["id"]}, headers=op.h)).json()
    assert len(listed) == 1 and listed[0]["status"] == "confirmed"
