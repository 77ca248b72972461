"""Periodic work each API process runs beside its requests.

Each loop survives failures of what it touches (a database or Redis outage is logged, then
retried next tick), so an outage never silently stops the housekeeping.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pydantic import ValidationError

from api.state import AppState
from core.db import utcnow
from core.errors import DomainError
from hardware.device_mqtt import Rejected
from parking.bookings import service as bookings
from parking.events import service as events
from parking.events.schemas import AnprEventIn, OccupancyEventIn
from parking.identity import service as identity
from parking.identity.access import Principal, authenticate
from parking.identity.schemas import DeviceKind, Role
from parking.privacy import service as privacy
from parking.sessions import refunds
from parking.sessions.schemas import SessionOut
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
        await send_refunds(state)  # those just decided, and any a provider refused before
        async with state.sessionmaker() as db:
            if not state.live.degraded:
                await state.live.rebuild(db, ctx.now)

    return job


async def send_refunds(state: AppState) -> int:
    """Send the pending refunds (the outbox) to their providers; how many they accepted."""
    async with state.sessionmaker() as db:
        accepted = await refunds.send_pending(Ctx(db=db, settings=state.settings), state.providers)
        await db.commit()
    return accepted


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


MqttHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _bus_device(
    state: AppState, db: Any, token: object, lot_id: str, kinds: tuple[DeviceKind, ...]
) -> Principal:
    """The device a message's token names, if it is of the right kind and bound to the topic's lot."""
    device = await authenticate(
        db, token if isinstance(token, str) else None, admin_token=None, cache=state.tokens
    )
    if device.role != Role.DEVICE or device.device_kind not in kinds:
        raise Rejected(f"token is not a {' or '.join(kinds)} device's")
    if str(device.lot_id) != lot_id:
        raise Rejected("device is not bound to the topic's lot")
    return device


def mqtt_handlers(state: AppState) -> dict[str, MqttHandler]:
    """The device messages the MQTT bus takes, through the same services as the HTTP endpoints:
    occupancy readings, and plate reads whose gate decision is published back."""

    async def occupancy(lot_id: str, payload: dict[str, Any]) -> None:
        token = payload.pop("token", None)
        try:
            event = OccupancyEventIn.model_validate(payload)
        except ValidationError as exc:
            raise Rejected(f"invalid occupancy payload: {exc.error_count()} errors") from exc
        async with state.sessionmaker() as db:
            ctx = Ctx(db=db, settings=state.settings)
            try:
                kinds = (DeviceKind.OCCUPANCY_SENSOR, DeviceKind.GNSS_RECEIVER)
                device = await _bus_device(state, db, token, lot_id, kinds)
                assert device.lot_id is not None
                outcome = await events.ingest_occupancy(ctx, device.lot_id, device.id, event)
                if outcome.refused is None:
                    await identity.seen(ctx, device.id)
                await db.commit()  # a refusal's count too
            except DomainError as exc:
                raise Rejected(exc.detail) from exc
            if outcome.refused is not None:
                raise Rejected(outcome.refused)
            if ctx.changed_lots:
                await state.live.refresh(db, sorted(ctx.changed_lots), ctx.now)
                await db.commit()

    async def anpr(lot_id: str, payload: dict[str, Any]) -> None:
        token = payload.pop("token", None)
        try:
            event = AnprEventIn.model_validate(payload)
        except ValidationError as exc:
            raise Rejected(f"invalid plate read: {exc.error_count()} errors") from exc
        async with state.sessionmaker() as db:
            ctx = Ctx(db=db, settings=state.settings)
            try:
                device = await _bus_device(state, db, token, lot_id, (DeviceKind.ANPR_CAMERA,))
                assert device.lot_id is not None
                assert device.id is not None
                outcome = await events.ingest_anpr(ctx, device.lot_id, device.id, event)
                if outcome.refused is None:
                    await identity.seen(ctx, device.id)
                await db.commit()
                if ctx.refunds_queued:
                    await send_refunds(state)
            except DomainError as exc:
                raise Rejected(exc.detail) from exc
            if outcome.refused is not None:
                raise Rejected(outcome.refused)
            if ctx.changed_lots:
                await state.live.refresh(db, sorted(ctx.changed_lots), ctx.now)
                await db.commit()
        await announce_gate(state, device.lot_id, device.id, event.event_id, outcome)

    settings = state.settings
    return {settings.mqtt_topic_prefix: occupancy, settings.mqtt_anpr_prefix: anpr}


async def announce_gate(
    state: AppState, lot_id: uuid.UUID, device_id: uuid.UUID, event_id: str, outcome: events.Outcome
) -> None:
    """Tell the lot's barrier controllers (``beidou/gates/<lot_id>``) what the gate does."""
    if state.device_bus is None or outcome.decision is None:
        return
    message = {
        "event_id": event_id,
        "device_id": str(device_id),
        "session_id": None if outcome.session_id is None else str(outcome.session_id),
        "gate": outcome.decision.gate,
        "reason": outcome.decision.reason,
        "amount_due_fen": outcome.decision.amount_due_fen,
    }
    topic = f"{state.settings.mqtt_gates_prefix.rstrip('/')}/{lot_id}"
    if not await state.device_bus.publish(topic, message):
        log.warning("gate_decision_not_published", lot_id=str(lot_id), event_id=event_id)


def start(state: AppState, tasks: list[asyncio.Task[None]]) -> None:
    settings = state.settings
    tasks.append(
        asyncio.create_task(_every(settings.housekeeping_interval_s, "housekeeping", housekeeping(state)))
    )
    tasks.append(
        asyncio.create_task(_every(settings.live_probe_interval_s, "live_monitor", live_monitor(state)))
    )
    tasks.append(asyncio.create_task(_every(settings.purge_interval_s, "retention", retention(state))))


async def announce_release(state: AppState, session: SessionOut) -> None:
    """The operator opened a gate by hand: the lot's barrier controllers hear it."""
    if state.device_bus is None:
        return
    topic = f"{state.settings.mqtt_gates_prefix.rstrip('/')}/{session.lot_id}"
    message = {"session_id": str(session.id), "gate": "open", "reason": "released", "amount_due_fen": None}
    if not await state.device_bus.publish(topic, message):
        log.warning("gate_release_not_published", session=str(session.id))
