"""The access matrix: every role against every other tenant's resources.

Another tenant's resource answers 404 (its existence is not revealed); an action outside a role
answers 403; no or a bad token answers 401.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.support import TARIFF, Actor, Client, bearer, iso, now_utc


@dataclass
class World:
    c: Client
    op_a: Actor
    op_b: Actor
    drv_x: Actor
    drv_y: Actor
    lot_a: dict[str, Any]
    lot_b: dict[str, Any]
    cam_a: Actor
    sensor_a: Actor
    booking_x: str
    session_x: str
    flag_a: str


@pytest.fixture
async def world(client: Client) -> World:
    c = client
    op_a, op_b = await c.operator("A"), await c.operator("B")
    drv_x, drv_y = await c.driver("沪A12345"), await c.driver("沪B54321")
    lot_a = await c.lot(op_a, spaces=2, name="A lot")
    lot_b = await c.lot(op_b, spaces=1, name="B lot")
    cam_a = await c.device(op_a, lot_a["id"])
    sensor_a = await c.device(op_a, lot_a["id"], "occupancy_sensor")
    start, end = now_utc() + timedelta(hours=2), now_utc() + timedelta(hours=3)
    r = await c.http.post(
        "/v1/bookings",
        json={"lot_id": lot_a["id"], "start": iso(start), "end": iso(end), "plate": "沪A12345"},
        headers=drv_x.h,
    )
    assert r.status_code == 201, r.text
    booking_x = r.json()["id"]
    r = await c.anpr(cam_a, "沪A12345", "in", now_utc() - timedelta(hours=1), "e1")
    session_x = r.json()["session_id"]
    await c.anpr(cam_a, "沪C11111", "out", now_utc(), "e2")  # exit without entry -> flag
    flags = (await c.http.get("/v1/operator/flags", headers=op_a.h)).json()
    return World(
        c, op_a, op_b, drv_x, drv_y, lot_a, lot_b, cam_a, sensor_a, booking_x, session_x, flags[0]["id"]
    )


def _other_tenant_requests(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    lot, space = w.lot_a["id"], w.lot_a["spaces"][0]["id"]
    return [
        ("GET", f"/v1/operator/lots/{lot}", None),
        ("PATCH", f"/v1/operator/lots/{lot}", {"name": "mine now"}),
        ("POST", f"/v1/operator/lots/{lot}/spaces", [{"code": "Z1", "lat": 31.3, "lon": 121.5}]),
        ("GET", f"/v1/operator/lots/{lot}/spaces", None),
        (
            "PUT",
            f"/v1/operator/spaces/{space}/shared-windows",
            [{"days": [0], "start": "08:00", "end": "09:00"}],
        ),
        ("PATCH", f"/v1/operator/spaces/{space}", {"out_of_service": True}),
        ("POST", "/v1/operator/devices", {"lot_id": lot, "kind": "anpr_camera", "name": "spy"}),
        ("GET", f"/v1/operator/lots/{lot}/occupancy?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", None),
        ("GET", f"/v1/operator/sessions?lot_id={lot}", None),
        ("GET", f"/v1/sessions/{w.session_x}", None),
        ("GET", f"/v1/bookings/{w.booking_x}", None),
        ("POST", f"/v1/operator/flags/{w.flag_a}/resolve", {"resolution": "not mine"}),
        ("POST", f"/v1/operator/spaces/{space}/state", {"occupied": False}),
        ("POST", f"/v1/operator/sessions/{w.session_x}/release", {"reason": "not mine"}),
    ]


async def test_another_tenants_object_reads_exactly_as_an_unknown_one(world: World) -> None:
    """The answer for another operator's object must not confirm that it exists: same status,
    same detail, same code as for an id nobody has."""
    w = world
    real_ids = {w.lot_a["id"], w.lot_a["spaces"][0]["id"], w.session_x, w.booking_x, w.flag_a}
    for method, path, body in _other_tenant_requests(w):
        theirs = await w.c.http.request(method, path, json=body, headers=w.op_b.h)
        unknown_path = path
        for real in real_ids:
            unknown_path = unknown_path.replace(real, str(uuid.uuid4()))
        unknown_body = body
        if isinstance(body, dict) and body.get("lot_id") in real_ids:
            unknown_body = {**body, "lot_id": str(uuid.uuid4())}
        unknown = await w.c.http.request(method, unknown_path, json=unknown_body, headers=w.op_b.h)
        assert theirs.status_code == unknown.status_code == 404, (method, path, theirs.text, unknown.text)
        assert (theirs.json()["detail"], theirs.json()["code"]) == (
            unknown.json()["detail"],
            unknown.json()["code"],
        ), (method, path)


async def test_operator_cannot_reach_another_operators_lot(world: World) -> None:
    for method, path, body in _other_tenant_requests(world):
        r = await world.c.http.request(method, path, json=body, headers=world.op_b.h)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # ...while the owner can
    for method, path, body in _other_tenant_requests(world)[:4]:
        r = await world.c.http.request(method, path, json=body, headers=world.op_a.h)
        assert r.status_code < 300, (method, path, r.text)


async def test_operator_listings_show_only_own_data(world: World) -> None:
    c, w = world.c, world
    lots_b = (await c.http.get("/v1/operator/lots", headers=w.op_b.h)).json()
    assert [lot["id"] for lot in lots_b] == [w.lot_b["id"]]
    assert (await c.http.get("/v1/operator/sessions", headers=w.op_b.h)).json() == []
    assert (await c.http.get("/v1/operator/flags", headers=w.op_b.h)).json() == []
    assert (await c.http.get("/v1/operator/devices", headers=w.op_b.h)).json() == []
    revenue = await c.http.get(
        "/v1/operator/revenue?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z", headers=w.op_b.h
    )
    assert revenue.json() == []
    sessions_a = (await c.http.get("/v1/operator/sessions", headers=w.op_a.h)).json()
    assert {s["id"] for s in sessions_a} >= {w.session_x}


async def test_driver_cannot_reach_another_drivers_things(world: World) -> None:
    c, w = world.c, world
    for method, path in (
        ("GET", f"/v1/bookings/{w.booking_x}"),
        ("POST", f"/v1/bookings/{w.booking_x}/cancel"),
        ("GET", f"/v1/sessions/{w.session_x}"),
    ):
        r = await c.http.request(method, path, headers=w.drv_y.h)
        assert r.status_code == 404, (method, path)
    r = await c.http.post(f"/v1/sessions/{w.session_x}/pay", headers={**w.drv_y.h, "Idempotency-Key": "k"})
    assert r.status_code == 404
    assert (await c.http.get("/v1/me/bookings", headers=w.drv_y.h)).json() == []
    assert (await c.http.get("/v1/me/sessions", headers=w.drv_y.h)).json() == []
    # a plate registered to X can be neither booked with nor registered by Y
    start, end = now_utc() + timedelta(hours=5), now_utc() + timedelta(hours=6)
    r = await c.http.post(
        "/v1/bookings",
        json={"lot_id": w.lot_a["id"], "start": iso(start), "end": iso(end), "plate": "沪A12345"},
        headers=w.drv_y.h,
    )
    assert r.status_code == 422 and r.json()["code"] == "plate_not_yours"
    r = await c.http.post("/v1/me/plates", json={"plate": "沪a-12345"}, headers=w.drv_y.h)
    assert r.status_code == 409
    # ...while X sees its own
    assert (await c.http.get(f"/v1/sessions/{w.session_x}", headers=w.drv_x.h)).status_code == 200
    assert len((await c.http.get("/v1/me/sessions", headers=w.drv_x.h)).json()) == 1


async def test_roles_are_confined_to_their_endpoints(world: World) -> None:
    c, w = world.c, world
    lot = w.lot_a["id"]
    forbidden = [
        (w.drv_x, "GET", "/v1/operator/lots", None),
        (
            w.drv_x,
            "POST",
            "/v1/operator/lots",
            {"name": "x", "lat": 31, "lon": 121, "kind": "garage", "capacity": 1, "tariff": TARIFF},
        ),
        (w.drv_x, "POST", "/v1/admin/operators", {"name": "x"}),
        (w.op_a, "POST", "/v1/admin/operators", {"name": "x"}),
        (w.op_a, "GET", "/v1/me/plates", None),
        (
            w.op_a,
            "POST",
            "/v1/bookings",
            {
                "lot_id": lot,
                "start": "2030-01-01T08:00:00+08:00",
                "end": "2030-01-01T09:00:00+08:00",
                "plate": "沪A12345",
            },
        ),
        (w.cam_a, "GET", "/v1/operator/lots", None),
        (w.cam_a, "GET", "/v1/me/bookings", None),
        (
            w.cam_a,
            "POST",
            "/v1/devices/occupancy",
            {"event_id": "o1", "space_code": "S00", "occupied": True, "ts": iso(now_utc())},
        ),
        (
            w.sensor_a,
            "POST",
            "/v1/devices/anpr",
            {"event_id": "a1", "plate": "沪A12345", "direction": "in", "ts": iso(now_utc()), "confidence": 1},
        ),
        (
            w.drv_x,
            "POST",
            "/v1/devices/anpr",
            {"event_id": "a2", "plate": "沪A12345", "direction": "in", "ts": iso(now_utc()), "confidence": 1},
        ),
    ]
    for actor, method, path, body in forbidden:
        r = await c.http.request(method, path, json=body, headers=actor.h)
        assert r.status_code == 403, (actor.id, method, path, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_device_events_land_only_in_its_own_lot(world: World) -> None:
    c, w = world.c, world
    # a sensor of lot A names a space code that exists only in lot B: unknown in its own lot
    op_b_spaces = (await c.http.get(f"/v1/operator/lots/{w.lot_b['id']}/spaces", headers=w.op_b.h)).json()
    r = await c.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "x1", "space_code": "S00", "occupied": True, "ts": iso(now_utc())},
        headers=w.sensor_a.h,
    )
    assert r.status_code == 201
    assert r.json()["space_id"] == w.lot_a["spaces"][0]["id"]
    b_space = op_b_spaces[0]
    assert b_space["state"] == "free"


async def test_anonymous_gets_401_everywhere_protected(world: World) -> None:
    for method, path, body in _other_tenant_requests(world):
        r = await world.c.http.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
    r = await world.c.http.get("/v1/lots?lat=31.3&lon=121.5", headers=bearer("dr_bogus"))
    assert r.status_code == 401
