"""The device inventory (the admin's, and an operator's own) and each device's last contact:
recorded when the platform accepts something from it, at most once a minute."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from api import background
from parking.identity import service as identity
from parking.identity.access import ADMIN
from tests.hardware.test_gnss_listener import _finished, _listener
from tests.parking.tracks.test_tracks_api import epoch
from tests.support import Actor, Client, iso, now_utc, unit


def _at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


async def _devices(c: Client, actor: Actor) -> dict[str, dict[str, Any]]:
    r = await c.http.get("/v1/operator/devices", headers=actor.h)
    assert r.status_code == 200, r.text
    return {d["id"]: d for d in r.json()}


async def test_inventory_admin_sees_all_operators_only_their_own(client: Client) -> None:
    c = client
    a, b = await c.operator("A"), await c.operator("B")
    lot_a, lot_b = await c.lot(a), await c.lot(b)
    cam_a = await c.device(a, lot_a["id"])
    rx_a = await c.device(a, lot_a["id"], "gnss_receiver")
    cam_b = await c.device(b, lot_b["id"])

    r = await c.http.get("/v1/admin/devices", headers=c.admin.h)
    assert r.status_code == 200
    assert [(d["id"], d["operator_id"], d["lot_id"], d["kind"], d["last_seen_at"]) for d in r.json()] == [
        (cam_a.id, a.id, lot_a["id"], "anpr_camera", None),
        (rx_a.id, a.id, lot_a["id"], "gnss_receiver", None),
        (cam_b.id, b.id, lot_b["id"], "anpr_camera", None),
    ]
    only_b = await c.http.get("/v1/admin/devices", params={"operator_id": b.id}, headers=c.admin.h)
    assert [d["id"] for d in only_b.json()] == [cam_b.id]
    unknown = await c.http.get(
        "/v1/admin/devices", params={"operator_id": str(uuid.uuid4())}, headers=c.admin.h
    )
    assert unknown.status_code == 404 and unknown.json()["detail"] == "operator not found"

    # an operator's own listing: its devices only, with their last contact
    assert set(await _devices(c, a)) == {cam_a.id, rx_a.id}
    assert set(await _devices(c, b)) == {cam_b.id}
    assert all("last_seen_at" in d for d in (await _devices(c, a)).values())
    # ...and the district inventory is not an operator's
    assert (await c.http.get("/v1/admin/devices", headers=a.h)).status_code == 403
    assert (
        await c.http.get("/v1/admin/devices", params={"operator_id": a.id}, headers=a.h)
    ).status_code == 403


async def test_last_seen_advances_when_a_device_sends_and_not_within_the_minute(client: Client) -> None:
    c = client
    op = await c.operator()
    lot = await c.lot(op, kind="garage", capacity=5, spaces=1)
    cam = await c.device(op, lot["id"])
    sensor = await c.device(op, lot["id"], "occupancy_sensor")
    idle = await c.device(op, lot["id"], "anpr_camera")

    before = now_utc()
    assert (await c.anpr(cam, "沪A12345", "in", now_utc(), "e1")).status_code == 201
    after = now_utc()
    seen = _at((await _devices(c, op))[cam.id]["last_seen_at"])
    assert before <= seen <= after
    # more reads within the minute (a new one, and a replay): not written again
    assert (await c.anpr(cam, "沪B12345", "in", now_utc(), "e2")).status_code == 201
    assert (await c.anpr(cam, "沪B12345", "in", now_utc(), "e2")).status_code == 200
    assert _at((await _devices(c, op))[cam.id]["last_seen_at"]) == seen

    r = await c.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "o1", "space_code": "S00", "occupied": True, "ts": iso(now_utc())},
        headers=sensor.h,
    )
    assert r.status_code == 201
    listed = await _devices(c, op)
    assert _at(listed[sensor.id]["last_seen_at"]) >= seen
    assert listed[idle.id]["last_seen_at"] is None  # a device that never sent
    admin_view = (await c.http.get("/v1/admin/devices", headers=c.admin.h)).json()
    assert {d["id"]: d["last_seen_at"] for d in admin_view} == {
        k: v["last_seen_at"] for k, v in listed.items()
    }

    # a refused request is not contact: another kind's endpoint
    r = await c.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "o2", "space_code": "S00", "occupied": False, "ts": iso(now_utc())},
        headers=idle.h,
    )
    assert r.status_code == 403
    assert (await _devices(c, op))[idle.id]["last_seen_at"] is None


async def test_seen_records_once_a_minute_per_device(client: Client) -> None:
    """The clock of the unit decides: at t, t+30 s (kept), t+60 s (written), t+90 s (kept);
    another device's minute is its own."""
    c = client
    op = await c.operator()
    lot = await c.lot(op)
    cam, other = await c.device(op, lot["id"]), await c.device(op, lot["id"])
    t0 = datetime.fromisoformat("2026-03-10T08:00:00+00:00")
    expected = [(0, 0), (30, 0), (60, 60), (90, 60), (121, 121)]
    for offset, recorded in expected:
        async with unit(c) as ctx:
            ctx.now = t0 + timedelta(seconds=offset)
            await identity.seen(ctx, uuid.UUID(cam.id))
        async with unit(c) as ctx:
            devices = {str(d.id): d for d in await identity.district_devices(ctx, ADMIN)}
        assert devices[cam.id].last_seen_at == t0 + timedelta(seconds=recorded), offset
        assert devices[other.id].last_seen_at is None
    async with unit(c) as ctx:  # a clock behind the recorded time never moves it back
        ctx.now = t0
        await identity.seen(ctx, uuid.UUID(cam.id))
        devices = {str(d.id): d for d in await identity.district_devices(ctx, ADMIN)}
    assert devices[cam.id].last_seen_at == t0 + timedelta(seconds=121)


async def test_receivers_mqtt_and_tcp_count_as_contact(client: Client) -> None:
    c = client
    op = await c.operator()
    lot = await c.lot(op, kind="on_street", spaces=1)
    sensor = await c.device(op, lot["id"], "occupancy_sensor")
    roadside = await c.device(op, lot["id"], "gnss_receiver")
    tcp_rx = await c.device(op, lot["id"], "gnss_receiver")
    drv = await c.driver("沪A12345")
    r = await c.http.post("/v1/me/receivers", json={"plate": "沪A12345", "name": "car"}, headers=drv.h)
    car = Actor(**r.json())
    t = now_utc() - timedelta(seconds=5)
    body = "".join(epoch(t + timedelta(seconds=i), 31.3003, 121.5136, quality=1, sigma=2.0) for i in range(3))

    # a vehicle's receiver over HTTP: the driver sees when it last reported
    mine = (await c.http.get("/v1/me/receivers", headers=drv.h)).json()
    assert mine[0]["last_seen_at"] is None
    assert (await c.http.post("/v1/gnss/nmea", content=body.encode(), headers=car.h)).status_code == 200
    mine = (await c.http.get("/v1/me/receivers", headers=drv.h)).json()
    assert mine[0]["last_seen_at"] is not None
    # a roadside receiver over HTTP
    assert (await c.http.post("/v1/gnss/nmea", content=body.encode(), headers=roadside.h)).status_code == 200
    # a sensor over MQTT (the handler the broker's messages go through)
    state = c.app.state.beidou
    await background.mqtt_handlers(state)[state.settings.mqtt_topic_prefix](
        lot["id"],
        {
            "token": sensor.token,
            "event_id": "m1",
            "space_code": "S00",
            "occupied": True,
            "ts": iso(now_utc()),
        },
    )
    # a roadside receiver over the TCP listener: its fix batch
    listener, server, port = await _listener(c)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(tcp_rx.token.encode() + b"\n")
        assert await reader.readline() == b"OK\r\n"
        writer.write(body.encode())
        await writer.drain()
        writer.close()
        await _finished(listener)
    assert listener.stats.fixes > 0
    listed = await _devices(c, op)
    assert all(listed[d.id]["last_seen_at"] is not None for d in (sensor, roadside, tcp_rx))
