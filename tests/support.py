"""Helpers shared by the tests: a client that speaks the API in a few words."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from parking.demo import CENTRE_TARIFF
from parking.unit import Ctx, transaction

ADMIN_TOKEN = "test-admin-token"
PG_URL = os.environ.get("BEIDOU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("BEIDOU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def shared_data(*parts: str) -> Path:
    """A file of the workplace's shared data set (too big to copy into tests/data): from
    ``BEIDOU_SHARED_DATA``, beside the checkout, or at its usual place on this machine."""
    roots = [
        os.environ.get("BEIDOU_SHARED_DATA", ""),
        str(Path(__file__).resolve().parents[2] / "shared" / "data"),
    ]
    for root in [*filter(None, roots), "/work/shared/data"]:
        candidate = Path(root).joinpath(*parts)
        if candidate.exists():
            return candidate
    return Path("/work/shared/data").joinpath(*parts)


# --- a small vocabulary for tests -------------------------------------------------------------

TARIFF = CENTRE_TARIFF  # the demo's tariff: one definition for demo, tests and benchmarks


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def iso(dt: datetime) -> str:
    return dt.isoformat()


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class Actor:
    id: str
    token: str

    @property
    def h(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Client:
    http: httpx.AsyncClient
    app: Any
    admin: Actor = field(default_factory=lambda: Actor("admin", ADMIN_TOKEN))

    async def operator(self, name: str = "Op") -> Actor:
        r = await self.http.post("/v1/admin/operators", json={"name": name}, headers=self.admin.h)
        assert r.status_code == 201, r.text
        return Actor(**r.json())

    async def driver(self, plate: str | None = None, name: str = "Driver") -> Actor:
        r = await self.http.post("/v1/drivers", json={"name": name, "phone": "+86 138 0000 0000"})
        assert r.status_code == 201, r.text
        actor = Actor(**r.json())
        if plate:
            r = await self.http.post("/v1/me/plates", json={"plate": plate}, headers=actor.h)
            assert r.status_code == 201, r.text
        return actor

    async def lot(
        self,
        op: Actor,
        *,
        kind: str = "surface",
        capacity: int = 10,
        spaces: int = 0,
        lat: float = 31.3003,
        lon: float = 121.5136,
        tariff: dict[str, Any] | None = None,
        name: str = "Lot",
    ) -> dict[str, Any]:
        r = await self.http.post(
            "/v1/operator/lots",
            json={
                "name": name,
                "lat": lat,
                "lon": lon,
                "kind": kind,
                "capacity": capacity,
                "tariff": tariff or TARIFF,
            },
            headers=op.h,
        )
        assert r.status_code == 201, r.text
        lot: dict[str, Any] = r.json()
        lot["spaces"] = []
        if spaces:
            body = [
                {"code": f"S{i:02d}", "lat": lat + i * 1e-5, "lon": lon, "kind": "standard", "bookable": True}
                for i in range(spaces)
            ]
            r = await self.http.post(f"/v1/operator/lots/{lot['id']}/spaces", json=body, headers=op.h)
            assert r.status_code == 201, r.text
            lot["spaces"] = r.json()
        return lot

    async def device(self, op: Actor, lot_id: str, kind: str = "anpr_camera") -> Actor:
        r = await self.http.post(
            "/v1/operator/devices", json={"lot_id": lot_id, "kind": kind, "name": kind}, headers=op.h
        )
        assert r.status_code == 201, r.text
        return Actor(**r.json())

    async def anpr(
        self,
        cam: Actor,
        plate: str,
        direction: str,
        ts: datetime,
        event_id: str,
        confidence: float = 0.95,
        *,
        passed: bool = False,
    ) -> httpx.Response:
        body: dict[str, object] = {
            "event_id": event_id,
            "plate": plate,
            "direction": direction,
            "ts": iso(ts),
            "confidence": confidence,
        }
        if passed:
            body["passed"] = True
        return await self.http.post("/v1/devices/anpr", json=body, headers=cam.h)


def window(start_in_min: float, length_min: float) -> tuple[str, str]:
    start = now_utc() + timedelta(minutes=start_in_min)
    return iso(start), iso(start + timedelta(minutes=length_min))


@asynccontextmanager
async def unit(client: Client) -> AsyncIterator[Ctx]:
    """A unit of work on the client's database (committed at the end), for service-level tests."""
    state = client.app.state.beidou
    async with transaction(state.sessionmaker, state.settings) as ctx:
        yield ctx
