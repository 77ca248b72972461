"""A district simulator that drives the real ingestion paths over HTTP.

Cars arrive at each lot as a Poisson process (rate scaled by lot size), stay a log-normal time
and leave; gate-counted garages see plate reads, sensed lots see plate reads *and* in-space sensor
events. Plates are generated in the Shanghai civil format. It is bounded: it stops after
``duration_s`` or ``max_events``, or when cancelled.

Simulated drivers do not pay in the app: street lots have no barrier (their exits are reported as
driven through, billed after the fact as receivables, as Shanghai's roadside parking is), and a
garage barrier that holds an unpaid car is opened by the attendant a moment later, which the
camera reports the same way. The demo's receivables and reconciliation therefore have content.
"""

from __future__ import annotations

import asyncio
import random
import string
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)

SERIAL = [c for c in string.ascii_uppercase + string.digits if c not in "IO"]


def random_plate(rng: random.Random) -> str:
    if rng.random() < 0.3:  # new-energy small vehicle
        return (
            "沪"
            + rng.choice("ABCDEFGHJKLMN")
            + rng.choice("DF")
            + "".join(rng.choice(string.digits) for _ in range(5))
        )
    return "沪" + rng.choice("ABCDEFGHJKLMN") + "".join(rng.choice(SERIAL) for _ in range(5))


@dataclass
class LotSim:
    spec: dict[str, Any]
    parked: dict[str, str | None] = field(default_factory=dict)  # plate -> space code


class Simulator:
    def __init__(
        self, base_url: str, credentials: dict[str, Any], *, speed: float = 1.0, seed: int | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.lots = [LotSim(lot) for lot in credentials["lots"]]
        self.speed = speed
        self.rng = random.Random(seed)
        self.sent = 0
        self.failed = 0
        # another way for sensor events (MQTT): (lot spec, event) -> True when it took the event
        self.sensor_sink: Callable[[dict[str, Any], dict[str, Any]], Awaitable[bool]] | None = None

    async def run(self, *, duration_s: float | None = None, max_events: int | None = None) -> None:
        deadline = None if duration_s is None else asyncio.get_running_loop().time() + duration_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as client:
            while True:
                if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                    return
                if max_events is not None and self.sent + self.failed >= max_events:
                    return
                await self.step(client)
                await asyncio.sleep(self.rng.expovariate(2.0 * self.speed))

    async def step(self, client: httpx.AsyncClient) -> None:
        lot = self.rng.choice(self.lots)
        codes = lot.spec["space_codes"]
        occupancy = len(lot.parked) / max(1, len(codes))
        if lot.parked and self.rng.random() < occupancy:
            plate = self.rng.choice(list(lot.parked))
            code = lot.parked.pop(plate)
            if code is not None:
                await self._sensor(client, lot, code, occupied=False)
            barrier = lot.spec["kind"] == "garage"
            answer = await self._anpr(client, lot, plate, "out", passed=not barrier)
            if barrier and answer is not None and answer.get("gate") == "hold":
                await self._anpr(client, lot, plate, "out", passed=True)
        else:
            free = sorted(set(codes) - {c for c in lot.parked.values() if c})
            if not free:
                return
            plate = random_plate(self.rng)
            answer = await self._anpr(client, lot, plate, "in")
            if answer is not None and answer.get("gate") == "hold":
                return  # full (or a weak read): the car drives on
            code = self.rng.choice(free) if lot.spec["kind"] != "garage" else None
            lot.parked[plate] = code
            if code is not None:
                await self._sensor(client, lot, code, occupied=True)

    async def _post(
        self, client: httpx.AsyncClient, path: str, token: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Send one device event; its JSON answer when it was accepted."""
        try:
            response = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            self.failed += 1
            log.warning("simulator_post_failed", path=path, error=type(exc).__name__)
            return None
        if response.status_code >= 300:
            self.failed += 1
            log.warning("simulator_rejected", path=path, status=response.status_code)
            return None
        self.sent += 1
        answer: dict[str, Any] = response.json()
        return answer

    async def _anpr(
        self, client: httpx.AsyncClient, lot: LotSim, plate: str, direction: str, *, passed: bool = False
    ) -> dict[str, Any] | None:
        return await self._post(
            client,
            "/v1/devices/anpr",
            lot.spec["camera_token"],
            {
                "event_id": uuid.uuid4().hex,
                "plate": plate,
                "direction": direction,
                "ts": datetime.now(UTC).isoformat(),
                "confidence": round(self.rng.uniform(0.85, 0.99), 2),
                "passed": passed,
            },
        )

    async def _sensor(self, client: httpx.AsyncClient, lot: LotSim, code: str, *, occupied: bool) -> None:
        body = {
            "event_id": uuid.uuid4().hex,
            "space_code": code,
            "occupied": occupied,
            "ts": datetime.now(UTC).isoformat(),
        }
        if self.sensor_sink is not None:
            try:
                if await self.sensor_sink(lot.spec, body):
                    self.sent += 1
                    return
            except Exception as exc:  # the broker is away: the event goes over HTTP instead
                log.warning("simulator_sensor_sink_failed", error=f"{type(exc).__name__}: {exc}")
        await self._post(client, "/v1/devices/occupancy", lot.spec["sensor_token"], body)
