"""The application factory: settings -> engine, live store, providers, routers, background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from api import background, errors
from api.fastpath import BookingFastPath, SearchFastPath
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.routers import (
    admin,
    apds,
    bookings,
    charging,
    devices,
    drivers,
    gnss,
    health,
    lots,
    ntrip,
    operator,
    sessions,
    trips,
)
from api.state import AppState
from api.web import docs, pages
from core.db import Autocommit, make_engine, make_sessionmaker, utcnow
from core.live import LiveStore, make_live_store
from core.logging import configure_logging
from core.settings import Settings, is_sqlite
from hardware.device_mqtt import MqttDeviceBus
from hardware.ocpp_central import CentralSystem
from maas.network import load_imported
from maas.service import ItinerarySigner
from parking.availability.service import LiveAvailability
from parking.identity.access import follow_revocations
from parking.search.service import LotDirectory
from parking.sessions.payments import PaymentProvider, SandboxProvider
from parking.unit import unit_of_work

log = structlog.get_logger(__name__)

DESCRIPTION = """
Backend of the district's BeiDou positioning, smart-parking and MaaS platform.

Authenticate with `Authorization: Bearer <token>`: the admin token (`BEIDOU_ADMIN_TOKEN`), or the
token returned when an operator, driver or device was created. Errors are RFC 9457
`application/problem+json`. Money is integer fen; timestamps carry a UTC offset.
"""


def _payment_providers(settings: Settings) -> dict[str, PaymentProvider]:
    """Only what the deployment configured: the sandbox signs anything, so it is opt-in."""
    if settings.payment_sandbox:
        return {"sandbox": SandboxProvider(settings.payment_sandbox_secret)}
    return {}


async def _start_central_system(state: AppState) -> None:
    """The OCPP 1.6J central system, one unit of work per charger message. A port already taken
    (another worker of this deployment has it) leaves the API serving without it."""
    settings = state.settings
    central = CentralSystem(
        lambda: unit_of_work(state.sessionmaker, settings, state.live),
        clock_skew_s=settings.device_clock_skew_s,
    )
    try:
        await central.serve(settings.ocpp_host, settings.ocpp_port)
    except OSError as exc:
        log.error("ocpp_not_started", port=settings.ocpp_port, error=str(exc))
        return
    state.ocpp = central
    log.info(
        "ocpp_central_system", host=settings.ocpp_host, port=central.port, path="/ocpp/{charge_point_id}"
    )


def mqtt_group(settings: Settings) -> str:
    """The shared-subscription group: the configured one, else one per database (a broker shared
    by two deployments must not hand one deployment's messages to the other's workers)."""
    if settings.mqtt_group:
        return settings.mqtt_group
    return "beidou-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]


def create_app(
    settings: Settings | None = None,
    *,
    background_tasks: bool = True,
    fast_paths: bool = True,
    live_store: LiveStore | None = None,
    ocpp: bool = False,
) -> FastAPI:
    """``live_store``: one shared with other components of the same process (the caster and the
    receiver listener of ``beidou serve --district``); the app then leaves closing it to them.
    ``ocpp``: also run the OCPP central system on ``BEIDOU_OCPP_PORT`` (what ``beidou serve``
    does; tests and tools that only need the HTTP API leave it off)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        store = live_store or make_live_store(settings.redis_url)
        directory = LotDirectory(ttl_s=settings.search_cache_ttl_s)
        state = AppState(
            settings=settings,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            live_store=store,
            live=LiveAvailability(store, listener=directory),
            directory=directory,
            providers=(
                {"sandbox": SandboxProvider(settings.payment_sandbox_secret)}
                if settings.payment_sandbox
                else {}
            ),
            signer=ItinerarySigner(settings.itinerary_key),
            autocommit=None if is_sqlite(settings.database_url) else Autocommit(settings.database_url),
        )
        app.state.beidou = state
        try:  # NumPy loading in a thread: about a second for a district
            state.network = await asyncio.to_thread(load_imported, settings.maas_dir)
            log.info("maas_network", loaded=state.network is not None, dir=str(settings.maas_dir))
        except Exception as exc:  # planning answers 503 until an import succeeds
            log.warning("maas_network_failed", error=f"{type(exc).__name__}: {exc}")
        try:
            async with state.sessionmaker() as db:
                lots = await state.live.rebuild(db, utcnow())
            log.info("live_store_ready", store=store.name, lots=lots, degraded=state.live.degraded)
        except Exception as exc:  # the service still starts; the monitor rebuilds later
            state.live.degraded = True
            log.warning("live_store_rebuild_failed", error=type(exc).__name__)
        # a suspension must reach this worker's token cache at once, background jobs or not
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(follow_revocations(store, state.tokens))]
        if background_tasks:
            background.start(state, tasks)
        if settings.mqtt_url:
            bus = MqttDeviceBus(
                settings.mqtt_url, background.mqtt_handlers(state), group=mqtt_group(settings)
            )
            state.device_bus = app.state.mqtt = bus
            tasks.append(asyncio.create_task(bus.run()))
        if ocpp:
            await _start_central_system(state)
        state.started = True
        try:
            yield
        finally:
            if state.ocpp is not None:
                await state.ocpp.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if live_store is None:
                await store.close()
            if state.autocommit is not None:
                await state.autocommit.close()
            await engine.dispose()

    app = FastAPI(
        title="beidou-mobility",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api.web.docs from vendored assets (offline)
        redoc_url=None,
    )
    errors.install(app)
    docs.install(app)
    pages.install(app)
    if fast_paths:  # inside the request context: ids, metrics and access logs still apply
        app.add_middleware(SearchFastPath)
        app.add_middleware(BookingFastPath)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    # hot paths first: routes are matched in order
    for module in (
        lots,
        devices,
        gnss,
        bookings,
        sessions,
        drivers,
        operator,
        charging,
        ntrip,
        trips,
        admin,
        health,
    ):
        app.include_router(module.router)
    app.include_router(apds.router)  # open data (APDS): read in bulk by other platforms, not hot
    return app
