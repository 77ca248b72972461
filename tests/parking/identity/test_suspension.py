"""Suspending an operator: its token and its devices' are refused at once, on every entry point
(HTTP, MQTT, the receivers' TCP listener), its lots stay in drivers' search, and resuming
restores everything. The district's operator listing and the admin-only rule."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from api import background
from core.security import hash_token
from hardware.device_mqtt import Rejected
from tests.conftest import Backend
from tests.hardware.test_gnss_listener import _listener
from tests.support import REDIS_URL, Actor, Client, iso, now_utc


def _problem(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


async def _anpr_ok(c: Client, cam: Actor, event_id: str) -> int:
    r = await c.anpr(cam, "沪A12345", "in", now_utc(), event_id)
    return r.status_code


async def test_suspension_refuses_the_operator_and_its_devices_at_once(client: Client) -> None:
    c = client
    op, other = await c.operator("Suspended Co"), await c.operator("Other Co")
    lot = await c.lot(op, kind="garage", capacity=5, name="Garage A")
    other_lot = await c.lot(other, kind="garage", capacity=5, name="Garage B")
    cam = await c.device(op, lot["id"])
    other_cam = await c.device(other, other_lot["id"])
    drv = await c.driver("沪A12345")
    # both tokens answered just now: they sit in the token cache (5 s)
    assert (await c.http.get("/v1/operator/lots", headers=op.h)).status_code == 200
    assert await _anpr_ok(c, cam, "before") == 201
    tokens = c.app.state.beidou.tokens
    assert tokens.get(hash_token(op.token)) is not None and tokens.get(hash_token(cam.token)) is not None

    r = await c.http.post(f"/v1/admin/operators/{op.id}/suspend", headers=c.admin.h)
    assert r.status_code == 200, r.text
    suspended = r.json()
    assert suspended["id"] == op.id and suspended["status"] == "suspended"
    assert suspended["suspended_at"] is not None
    assert suspended["counts"] == {"lots": 1, "devices": 1}

    # the very next requests are refused, cache or not
    _problem(await c.http.get("/v1/operator/lots", headers=op.h), 401, "operator_suspended")
    _problem(await c.anpr(cam, "沪A12345", "out", now_utc(), "after"), 401, "operator_suspended")
    r = await c.http.get("/v1/operator/devices", headers=op.h)
    _problem(r, 401, "operator_suspended")
    assert r.headers["www-authenticate"] == "Bearer"
    # ...and stay refused (a refusal is not cached, a suspension is read from the database)
    _problem(await c.http.get("/v1/operator/lots", headers=op.h), 401, "operator_suspended")
    # another operator and its devices are untouched
    assert (await c.http.get("/v1/operator/lots", headers=other.h)).status_code == 200
    assert await _anpr_ok(c, other_cam, "other") == 201
    # the lot stays in drivers' search and its detail page
    found = await c.http.get("/v1/lots", params={"lat": 31.3003, "lon": 121.5136}, headers=drv.h)
    assert lot["id"] in {x["id"] for x in found.json()["lots"]}
    assert (await c.http.get(f"/v1/lots/{lot['id']}", headers=drv.h)).status_code == 200
    # ...but takes no bookings while nobody runs its gates
    start = now_utc() + timedelta(days=1)
    booking = {
        "lot_id": lot["id"],
        "plate": "沪A12345",
        "start": iso(start),
        "end": iso(start + timedelta(hours=1)),
    }
    _problem(await c.http.post("/v1/bookings", json=booking, headers=drv.h), 409, "lot_suspended")

    # suspending again changes nothing, not even the time
    again = await c.http.post(f"/v1/admin/operators/{op.id}/suspend", headers=c.admin.h)
    assert again.status_code == 200 and again.json() == suspended
    listed = (await c.http.get("/v1/admin/operators", headers=c.admin.h)).json()
    assert [(o["id"], o["status"]) for o in listed] == [(op.id, "suspended"), (other.id, "active")]

    r = await c.http.post(f"/v1/admin/operators/{op.id}/resume", headers=c.admin.h)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["suspended_at"]) == ("active", None)
    assert (await c.http.get("/v1/operator/lots", headers=op.h)).status_code == 200
    assert (await c.anpr(cam, "沪A12345", "out", now_utc(), "resumed")).status_code == 201
    again = await c.http.post(f"/v1/admin/operators/{op.id}/resume", headers=c.admin.h)
    assert again.status_code == 200 and again.json() == r.json()
    assert (await c.http.post("/v1/bookings", json=booking, headers=drv.h)).status_code == 201


async def test_suspension_reaches_mqtt_and_the_receiver_listener(client: Client) -> None:
    c = client
    op = await c.operator()
    lot = await c.lot(op, kind="on_street", spaces=1)
    sensor = await c.device(op, lot["id"], "occupancy_sensor")
    rx = await c.device(op, lot["id"], "gnss_receiver")
    state = c.app.state.beidou
    handle = background.mqtt_handlers(state)[state.settings.mqtt_topic_prefix]

    def payload(event_id: str) -> dict[str, Any]:
        return {
            "token": sensor.token,
            "event_id": event_id,
            "space_code": "S00",
            "occupied": True,
            "ts": iso(now_utc()),
        }

    await handle(lot["id"], payload("m1"))  # accepted (and now cached)
    assert (await c.http.post(f"/v1/admin/operators/{op.id}/suspend", headers=c.admin.h)).status_code == 200
    with pytest.raises(Rejected, match="suspended"):
        await handle(lot["id"], payload("m2"))

    listener, server, port = await _listener(c)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(rx.token.encode() + b"\n")
        assert (await reader.readline()).startswith(b"ERROR")
        writer.close()
        assert (
            await c.http.post(f"/v1/admin/operators/{op.id}/resume", headers=c.admin.h)
        ).status_code == 200
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(rx.token.encode() + b"\n")
        assert await reader.readline() == b"OK\r\n"
        writer.close()
    assert listener.stats.refused == 1
    await handle(lot["id"], payload("m3"))


async def test_a_suspension_reaches_the_other_workers_caches(make_client: Any, backend: Backend) -> None:
    """Two API workers on one database and one Redis: the worker that did not take the
    suspension drops its cached credentials when the live store tells it."""
    # the embedded default serves from one process; several workers share a Redis, on SQLite too
    shared = {} if backend.is_postgres else {"redis_url": REDIS_URL}
    first: Client = await make_client(**shared)
    second: Client = await make_client(**shared)
    op = await first.operator()
    lot = await first.lot(op)
    cam = await first.device(op, lot["id"])
    assert (await second.http.get("/v1/operator/lots", headers=op.h)).status_code == 200
    assert await _anpr_ok(second, cam, "e1") == 201
    await asyncio.sleep(0.2)  # the second worker's subscription is up (it subscribes at start)
    assert (await first.http.post(f"/v1/admin/operators/{op.id}/suspend", headers=first.admin.h)).is_success
    cache = second.app.state.beidou.tokens
    for _ in range(100):
        if cache.get(hash_token(op.token)) is None and cache.get(hash_token(cam.token)) is None:
            break
        await asyncio.sleep(0.01)
    _problem(await second.http.get("/v1/operator/lots", headers=op.h), 401, "operator_suspended")
    _problem(await second.anpr(cam, "沪A12345", "out", now_utc(), "e2"), 401, "operator_suspended")


async def test_admin_endpoints_are_for_the_admin_only(client: Client) -> None:
    c = client
    op = await c.operator()
    lot = await c.lot(op, spaces=1)
    cam = await c.device(op, lot["id"])
    drv = await c.driver("沪A12345")
    window = {"from": "2026-03-10T00:00:00+08:00", "to": "2026-03-11T00:00:00+08:00"}
    requests: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", "/v1/admin/operators", None),
        ("POST", f"/v1/admin/operators/{op.id}/suspend", None),
        ("POST", f"/v1/admin/operators/{op.id}/resume", None),
        ("GET", "/v1/admin/devices", None),
        ("GET", "/v1/admin/occupancy", window),
        ("GET", "/v1/admin/revenue", window),
    ]
    for actor in (op, drv, cam):
        for method, path, params in requests:
            r = await c.http.request(method, path, params=params, headers=actor.h)
            _problem(r, 403, "forbidden")
    for method, path, params in requests:
        _problem(await c.http.request(method, path, params=params), 401, "unauthenticated")
    # nothing happened to the operator
    assert (await c.http.get("/v1/operator/lots", headers=op.h)).status_code == 200


async def test_unknown_operator_answers_404(client: Client) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for action in ("suspend", "resume"):
        r = await client.http.post(f"/v1/admin/operators/{unknown}/{action}", headers=client.admin.h)
        _problem(r, 404, "not_found")
        assert r.json()["detail"] == "operator not found"


async def test_operator_listing_counts_lots_and_devices(client: Client) -> None:
    c = client
    a, b, empty = await c.operator("A"), await c.operator("B"), await c.operator("Empty")
    lots_a = [await c.lot(a, name="A1"), await c.lot(a, name="A2")]
    lot_b = await c.lot(b, name="B1")
    for kind in ("anpr_camera", "occupancy_sensor", "gnss_receiver"):
        await c.device(a, lots_a[1]["id"], kind)
    await c.device(b, lot_b["id"])
    r = await c.http.get("/v1/admin/operators", headers=c.admin.h)
    assert r.status_code == 200
    rows = r.json()
    assert [(o["id"], o["name"], o["status"], o["suspended_at"], o["counts"]) for o in rows] == [
        (a.id, "A", "active", None, {"lots": 2, "devices": 3}),
        (b.id, "B", "active", None, {"lots": 1, "devices": 1}),
        (empty.id, "Empty", "active", None, {"lots": 0, "devices": 0}),
    ]
    assert all(o["created_at"] for o in rows)
