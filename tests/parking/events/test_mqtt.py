"""Occupancy over MQTT through the real Mosquitto broker on this machine."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import aiomqtt

from tests.support import Client, iso, now_utc

BROKER = "mqtt://127.0.0.1:1883"


async def _space_state(c: Client, op_h: dict[str, str], lot_id: str, code: str) -> str:
    spaces = (await c.http.get(f"/v1/operator/lots/{lot_id}/spaces", headers=op_h)).json()
    return str(next(s["state"] for s in spaces if s["code"] == code))


async def _wait_for(predicate: Any, timeout_s: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_mqtt_occupancy_through_the_broker(make_client: Any) -> None:
    prefix = f"beidou-test-{uuid.uuid4().hex[:8]}/occupancy"
    client: Client = await make_client(mqtt_url=BROKER, mqtt_topic_prefix=prefix)
    listener = client.app.state.mqtt
    await asyncio.wait_for(listener.subscribed.wait(), 10)
    op = await client.operator()
    lot = await client.lot(op, kind="on_street", spaces=2)
    other = await client.lot(op, kind="on_street", spaces=1, name="other")
    sensor = await client.device(op, lot["id"], "occupancy_sensor")
    camera = await client.device(op, lot["id"], "anpr_camera")
    stranger = await client.device(op, other["id"], "occupancy_sensor")

    def msg(token: str, code: str, occupied: bool, event_id: str) -> bytes:
        return json.dumps(
            {
                "token": token,
                "event_id": event_id,
                "space_code": code,
                "occupied": occupied,
                "ts": iso(now_utc()),
            }
        ).encode()

    async with aiomqtt.Client("127.0.0.1", 1883) as pub:
        topic = f"{prefix}/{lot['id']}"
        # refused for good: bad JSON, wrong token, a camera's token, a sensor of another lot
        await pub.publish(topic, b"\xff not json", qos=1)
        await pub.publish(topic, msg("dv_forged", "S00", True, "bad-1"), qos=1)
        await pub.publish(topic, msg(camera.token, "S00", True, "bad-2"), qos=1)
        await pub.publish(topic, msg(stranger.token, "S00", True, "bad-3"), qos=1)
        # accepted
        await pub.publish(topic, msg(sensor.token, "S01", True, "good-1"), qos=1)
        await pub.publish(topic, msg(sensor.token, "S01", True, "good-1"), qos=1)  # duplicate

    async def s01_occupied() -> bool:
        return await _space_state(client, op.h, lot["id"], "S01") == "occupied"

    assert await _wait_for(s01_occupied)
    assert await _space_state(client, op.h, lot["id"], "S00") == "free"
    from sqlalchemy import func, select

    from parking.events.models import OccupancyEvent

    async with client.app.state.beidou.sessionmaker() as db:
        count = await db.scalar(select(func.count()).select_from(OccupancyEvent))
    assert count == 1  # the duplicate had no second effect; the refused ones stored nothing


async def test_gates_over_mqtt_read_in_decision_out(make_client: Any) -> None:
    """A camera publishes its read on ``<anpr prefix>/<lot>``; the barrier controller hears the
    decision on ``<gates prefix>/<lot>``, the same as the HTTP answer would have been."""
    run = uuid.uuid4().hex[:8]
    anpr_prefix, gates_prefix = f"beidou-test-{run}/anpr", f"beidou-test-{run}/gates"
    client: Client = await make_client(
        mqtt_url=BROKER,
        mqtt_topic_prefix=f"beidou-test-{run}/occupancy",
        mqtt_anpr_prefix=anpr_prefix,
        mqtt_gates_prefix=gates_prefix,
    )
    await asyncio.wait_for(client.app.state.mqtt.subscribed.wait(), 10)
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=1)
    camera = await client.device(op, lot["id"])
    sensor = await client.device(op, lot["id"], "occupancy_sensor")

    def read(token: str, plate: str, direction: str, event_id: str, ts: Any = None) -> bytes:
        body = {"token": token, "event_id": event_id, "plate": plate, "direction": direction}
        body["ts"] = iso(ts or now_utc())
        return json.dumps(body).encode()

    decisions: list[dict[str, Any]] = []
    async with aiomqtt.Client("127.0.0.1", 1883) as bus:
        await bus.subscribe(f"{gates_prefix}/{lot['id']}", qos=1)
        topic = f"{anpr_prefix}/{lot['id']}"
        await bus.publish(topic, read(camera.token, "沪A12345", "in", "m-1"), qos=1)
        await bus.publish(topic, read(camera.token, "沪B54321", "in", "m-2"), qos=1)  # the one place is taken
        await bus.publish(topic, read(sensor.token, "沪C11111", "in", "m-3"), qos=1)  # not a camera: refused
        await bus.publish(  # a clock a month fast: refused, counted, no decision
            topic, read(camera.token, "沪D22222", "in", "m-4", now_utc() + timedelta(days=30)), qos=1
        )
        await bus.publish(topic, read(camera.token, "沪A12345", "out", "m-5"), qos=1)  # within grace

        async def collect() -> None:
            async for message in bus.messages:
                decisions.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]
                if len(decisions) == 3:
                    return

        await asyncio.wait_for(collect(), 15)
    by_event = {d["event_id"]: d for d in decisions}
    assert set(by_event) == {"m-1", "m-2", "m-5"}
    assert (by_event["m-1"]["gate"], by_event["m-1"]["reason"]) == ("open", "free_space")
    assert (by_event["m-2"]["gate"], by_event["m-2"]["reason"], by_event["m-2"]["session_id"]) == (
        "hold",
        "full",
        None,
    )
    assert (by_event["m-5"]["gate"], by_event["m-5"]["reason"]) == ("open", "within_grace")
    assert by_event["m-5"]["session_id"] == by_event["m-1"]["session_id"]
    devices = {d["id"]: d for d in (await client.http.get("/v1/operator/devices", headers=op.h)).json()}
    assert devices[camera.id]["rejected_future_events"] == 1


def test_each_deployment_has_its_own_subscription_group() -> None:
    """Workers of one deployment (one database) share an MQTT subscription group, so each message
    is handled once; a second deployment on the same broker gets another group, so it never
    receives (and refuses) the first one's messages."""
    from api.app import mqtt_group
    from core.settings import Settings

    one = Settings(database_url="postgresql://db-a/parking")
    assert mqtt_group(one) == mqtt_group(Settings(database_url="postgresql://db-a/parking"))
    assert mqtt_group(one) != mqtt_group(Settings(database_url="postgresql://db-b/parking"))
    assert mqtt_group(Settings(database_url="sqlite:///x", mqtt_group="fleet")) == "fleet"
