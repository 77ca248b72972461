"""Periodic work each API process runs beside its requests.

Each loop survives failures of what it touches (a database or Redis outage is logged, then
retried next tick), so an outage never silently stops the housekeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError

from api.state import AppState
from core.db import utcnow
from core.errors import DomainError
from hardware.occupancy_mqtt import Rejected
from parking.bookings import service as bookings
from parking.events import service as events
from parking.events.schemas import OccupancyEventIn
from parking.identity import service as identity
from parking.identity.access import authenticate
from parking.identity.schemas import DeviceKind, Role
from parking.privacy import service as privacy
from parking.unit import Ctx

log = structlog.get_logger(__name__)


async def _every(interval_s: float, name: str, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("background_job_failed", job=name, error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(interval_s)


def housekeeping(state: AppState) -> Callable[[], Awaitable[None]]:
    """Expire no-shows and refresh every lot's snapshot (bookings start and end with time)."""

    async def job() -> None:
        async with state.sessionmaker() as db:
            ctx = Ctx(db=db, settings=state.settings)
            await bookings.expire_no_shows(ctx)
            await db.commit()
            if not state.live.degraded:
                await state.live.rebuild(db, ctx.now)

    return job


def live_monitor(state: AppState) -> Callable[[], Awaitable[None]]:
    """Notice the live store going away and coming back; rebuild it from the database on return."""

    async def job() -> None:
        up = await state.live_store.ping()
        if not up and not state.live.degraded:
            state.live.degraded = True
            log.warning("live_store_down", store=state.live_store.name)
        elif up and state.live.degraded:
            async with state.sessionmaker() as db:
                lots = await state.live.rebuild(db, utcnow())
            log.info("live_store_rebuilt", store=state.live_store.name, lots=lots)

    return job


def retention(state: AppState) -> Callable[[], Awaitable[None]]:
    async def job() -> None:
        async with state.sessionmaker() as db:
            await privacy.purge(Ctx(db=db, settings=state.settings))
            await db.commit()

    return job


def mqtt_handler(state: AppState) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """Ingest one MQTT occupancy message through the same service as the HTTP endpoint."""

    async def handle(lot_id: str, payload: dict[str, Any]) -> None:
        token = payload.pop("token", None)
        try:
            event = OccupancyEventIn.model_validate(payload)
        except ValidationError as exc:
            raise Rejected(f"invalid occupancy payload: {exc.error_count()} errors") from exc
        async with state.sessionmaker() as db:
            ctx = Ctx(db=db, settings=state.settings)
            try:
                device = await authenticate(
                    db,
                    token if isinstance(token, str) else None,
                    admin_token=None,
                    cache=state.tokens,
                )
                if device.role != Role.DEVICE or device.device_kind not in (
                    DeviceKind.OCCUPANCY_SENSOR,
                    DeviceKind.GNSS_RECEIVER,
                ):
                    raise Rejected("token is not an occupancy device's")
                if str(device.lot_id) != lot_id:
                    raise Rejected("device is not bound to the topic's lot")
                assert device.lot_id is not None
                await events.ingest_occupancy(ctx, device.lot_id, device.id, event)
                await identity.seen(ctx, device.id)
                await db.commit()
            except DomainError as exc:
                raise Rejected(exc.detail) from exc
            if ctx.changed_lots:
                await state.live.refresh(db, sorted(ctx.changed_lots), ctx.now)
                await db.commit()

    return handle


def start(state: AppState, tasks: list[asyncio.Task[None]]) -> None:
    settings = state.settings
    tasks.append(
        asyncio.create_task(_every(settings.housekeeping_interval_s, "housekeeping", housekeeping(state)))
    )
    tasks.append(
        asyncio.create_task(_every(settings.live_probe_interval_s, "live_monitor", live_monitor(state)))
    )
    tasks.append(asyncio.create_task(_every(settings.purge_interval_s, "retention", retention(state))))
