"""Redis stopped and restarted during a run of requests: answers keep coming from the database,
marked degraded; nothing answered 2xx is lost; the live store is rebuilt when Redis is back."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import REDIS_URL, Client, iso, now_utc

REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def _redis_up() -> bool:
    try:
        return bool(redis.Redis(socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)).ping())
    except redis.RedisError:
        return False


def _stop_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False, capture_output=True)
    deadline = time.monotonic() + 10
    while _redis_up():
        assert time.monotonic() < deadline, "redis did not stop"
        time.sleep(0.05)


def _start_redis() -> None:
    subprocess.run(REDIS_START, check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while not _redis_up():
        assert time.monotonic() < deadline, "redis did not come back"
        time.sleep(0.05)


async def test_redis_outage_degrades_and_recovers(make_client: Any) -> None:
    # On the embedded backend too, pointed at the real Redis: SQLite + Redis is a valid setup.
    # the app's own background monitor runs (probing every 0.2 s), as in production
    client: Client = await make_client(redis_url=REDIS_URL, background_tasks=True, live_probe_interval_s=0.2)
    op = await client.operator()
    lot = await client.lot(op, kind="on_street", spaces=20)
    sensor = await client.device(op, lot["id"], "occupancy_sensor")
    drv = await client.driver()
    state = client.app.state.beidou
    accepted: list[str] = []

    async def sense(i: int) -> None:
        r = await client.http.post(
            "/v1/devices/occupancy",
            json={"event_id": f"e{i}", "space_code": f"S{i:02d}", "occupied": True, "ts": iso(now_utc())},
            headers=sensor.h,
        )
        assert r.status_code == 201, r.text
        accepted.append(f"e{i}")

    try:
        for i in range(5):
            await sense(i)
        _stop_redis()
        for i in range(5, 12):
            await sense(i)
            search = await client.http.get(
                "/v1/lots", params={"lat": 31.3003, "lon": 121.5136, "radius_m": 500}, headers=drv.h
            )
            assert search.status_code == 200
        degraded = search.json()
        assert degraded["live_degraded"] is True
        assert state.live.degraded  # the monitor noticed, or the failed reads told it
        assert degraded["lots"][0]["free_spaces"] == 20 - 12  # computed from the database
        ready = (await client.http.get("/readyz")).json()
        assert ready["live_store"] == "unavailable" and ready["database"] == "ok"
    finally:
        _start_redis()
    deadline = time.monotonic() + 10  # the monitor's next ticks see Redis back and rebuild it
    while state.live.degraded:
        assert time.monotonic() < deadline, "the live monitor did not rebuild the store"
        await asyncio.sleep(0.1)
    for i in range(12, 15):
        await sense(i)
    search = await client.http.get(
        "/v1/lots", params={"lat": 31.3003, "lon": 121.5136, "radius_m": 500}, headers=drv.h
    )
    body = search.json()
    assert body["live_degraded"] is False
    assert body["lots"][0]["free_spaces"] == 20 - 15
    cached = redis.Redis.from_url(state.settings.redis_url).get(f"beidou:lot:{lot['id']}:availability")
    assert cached is not None  # rebuilt into the fresh Redis
    spaces = (await client.http.get(f"/v1/operator/lots/{lot['id']}/spaces", headers=op.h)).json()
    assert sum(s["state"] == "occupied" for s in spaces) == len(accepted) == 15
    await asyncio.sleep(0)
