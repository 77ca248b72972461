"""Live availability pushed over server-sent events, through a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.support import Actor, iso, now_utc


async def _next_event(lines: Any) -> dict[str, Any]:
    event: dict[str, Any] = {}
    async for line in lines:
        if line.startswith("event:"):
            event["event"] = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            event["data"] = json.loads(line.split(":", 1)[1])
        elif line == "" and "data" in event:
            return event
    raise AssertionError("stream ended")


async def test_live_stream_pushes_changes(live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        admin = {"Authorization": "Bearer test-admin-token"}
        op = Actor(**(await http.post("/v1/admin/operators", json={"name": "op"}, headers=admin)).json())
        lot = (
            await http.post(
                "/v1/operator/lots",
                json={
                    "name": "L",
                    "lat": 31.3,
                    "lon": 121.5,
                    "kind": "on_street",
                    "capacity": 2,
                    "tariff": {
                        "free_minutes": 0,
                        "unit_minutes": 60,
                        "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 100}],
                    },
                },
                headers=op.h,
            )
        ).json()
        await http.post(
            f"/v1/operator/lots/{lot['id']}/spaces",
            json=[{"code": "A1", "lat": 31.3, "lon": 121.5}, {"code": "A2", "lat": 31.3, "lon": 121.5}],
            headers=op.h,
        )
        sensor = Actor(
            **(
                await http.post(
                    "/v1/operator/devices",
                    json={"lot_id": lot["id"], "kind": "occupancy_sensor", "name": "s"},
                    headers=op.h,
                )
            ).json()
        )
        async with http.stream("GET", f"/v1/lots/{lot['id']}/live", headers=op.h) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            first = await asyncio.wait_for(_next_event(lines), 10)
            assert first["event"] == "availability"
            assert first["data"]["free_spaces"] == 2
            r = await http.post(
                "/v1/devices/occupancy",
                json={"event_id": "s1", "space_code": "A1", "occupied": True, "ts": iso(now_utc())},
                headers=sensor.h,
            )
            assert r.status_code == 201
            pushed = await asyncio.wait_for(_next_event(lines), 10)
            assert pushed["data"]["lot_id"] == lot["id"]
            assert pushed["data"]["free_spaces"] == 1
            assert pushed["data"]["occupied"] == 1
