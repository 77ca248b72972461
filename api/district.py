"""The whole district in one process: ``beidou serve --district`` (what ``make run`` starts).

One event loop runs the API (uvicorn), the NTRIP caster, the receiver listener with its cloud-RTK
worker processes, MQTT ingestion (inside the app, when a broker is configured) and, with
``simulate``, every device of the demo district. They share one live store, so the API shows the
caster's mounts and the fixes the listener stores with the embedded default (in-process store) as
well as with Redis. With Redis the same components can run as separate processes instead, which
is how docker-compose runs them; nothing here is needed for that.

Ctrl-C (SIGINT) or SIGTERM stops everything in order: the simulated devices, then new
connections, then the receivers' connections (each commits what it has), the RTK workers, the
API and the caster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import structlog
import uvicorn

from api.app import create_app
from core.db import make_engine, make_sessionmaker
from core.live import make_live_store
from core.settings import Settings
from gnss.ntrip.caster import Caster
from gnss.ntrip.nearest import NearestPolicy
from gnss.ntrip.upstream import NtripUrl, parse_ntrip_url
from gnss.rtk.options import RtkOptions
from gnss.rtk.pool import RtkPool, SessionSpec
from hardware.cloud_rtk import CloudRtk
from hardware.district_sim import DistrictSimulator, Endpoints
from hardware.gnss_listener import ReceiverListener
from hardware.rtk_stream_pool import RedisRtkPool, make_pool
from parking.ntrip.accounts import DatabaseAccounts
from parking.ntrip.live import publish_caster_state

log = structlog.get_logger(__name__)

DEMO_CREDENTIALS = Path("var") / "demo-credentials.json"
MQTT_DEFAULT = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class DistrictConfig:
    host: str = "127.0.0.1"
    api_port: int = 8000
    caster_port: int = 2101
    listener_port: int = 2102
    rtk_workers: int = 1
    simulate: bool = False
    credentials: Path = DEMO_CREDENTIALS
    sim_speed: float = 1.0
    # "auto": the local broker when one answers; "off"; or a URL. BEIDOU_MQTT_URL wins.
    mqtt: str = "auto"


@dataclass
class District:
    """What is running (for the caller's banner and for tests)."""

    config: DistrictConfig
    api_url: str
    mqtt_url: str | None
    rtk_source: NtripUrl | None
    caster: Caster
    listener: ReceiverListener
    simulator: DistrictSimulator | None = None
    tasks: dict[str, asyncio.Task[Any]] = field(default_factory=dict)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the district stops as a whole."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _broker_answers(url: str, timeout_s: float = 0.5) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 1883), timeout_s).close()
    except OSError:
        return False
    return True


def mqtt_url_for(settings: Settings, choice: str) -> str | None:
    if settings.mqtt_url:
        return settings.mqtt_url
    if choice == "off":
        return None
    if choice == "auto":
        return MQTT_DEFAULT if _broker_answers(MQTT_DEFAULT) else None
    return choice


def load_credentials(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def rtk_source_for(
    settings: Settings, config: DistrictConfig, creds: dict[str, Any] | None
) -> NtripUrl | None:
    """Cloud RTK's bases: BEIDOU_RTK_CASTER_URL, else this district's own caster with the demo's
    cloud-RTK account (``beidou demo load`` creates it)."""
    if settings.rtk_caster_url:
        return parse_ntrip_url(settings.rtk_caster_url)
    account = ((creds or {}).get("ntrip") or {}).get("cloud_rtk")
    if not account:
        return None
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    user, password = quote(account["name"], safe=""), quote(account["password"], safe="")
    return parse_ntrip_url(f"ntrip://{user}:{password}@{host}:{config.caster_port}/NEAREST")


async def run_district(
    settings: Settings,
    config: DistrictConfig,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[District], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM arrives), then shut down in order."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)

    mqtt_url = mqtt_url_for(settings, config.mqtt)
    if mqtt_url != settings.mqtt_url:
        settings = settings.model_copy(update={"mqtt_url": mqtt_url})
    creds = load_credentials(config.credentials)
    store = make_live_store(settings.redis_url)
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    host = config.host
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host

    caster = Caster(DatabaseAccounts(sessionmaker), nearest=NearestPolicy())
    caster_server = await caster.serve(host, config.caster_port)
    publisher = asyncio.create_task(publish_caster_state(store, caster.snapshot))

    rtk_source = rtk_source_for(settings, config, creds)
    pool: RtkPool | RedisRtkPool | None = None
    cloud: CloudRtk | None = None
    if rtk_source is not None:
        rtk_redis = settings.rtk_redis_url or settings.redis_url
        pool = make_pool(settings.rtk_transport, config.rtk_workers, rtk_redis)
        pool.start()
        options = RtkOptions(mode="kinematic", systems="CGEJ", freqs=2)
        cloud = CloudRtk(pool, rtk_source, SessionSpec(options))
    listener = ReceiverListener(sessionmaker, settings, store, rtk=cloud)
    listener_server = await listener.serve(host, config.listener_port)

    app = create_app(settings, live_store=store, ocpp=True)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=config.api_port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,  # SSE listeners would hold the shutdown otherwise
        )
    )
    district = District(config, f"http://{local}:{config.api_port}", mqtt_url, rtk_source, caster, listener)
    district.tasks["api"] = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if district.tasks["api"].done():  # it could not bind, or the app failed to start
                district.tasks["api"].result()
                raise RuntimeError("the API server stopped while starting")
            await asyncio.sleep(0.05)
        if config.simulate:
            if creds is None:
                log.warning(
                    "district_no_demo", hint=f"run `beidou demo load`: {config.credentials} is missing"
                )
            else:
                endpoints = Endpoints(
                    district.api_url,
                    (local, config.caster_port),
                    (local, config.listener_port),
                    mqtt_url,
                    ocpp_url=f"ws://{local}:{settings.ocpp_port}",
                )
                district.simulator = DistrictSimulator(endpoints, creds, speed=config.sim_speed)
                district.tasks["simulator"] = asyncio.create_task(district.simulator.run())
        log.info(
            "district_up",
            api=district.api_url,
            caster=config.caster_port,
            listener=config.listener_port,
            cloud_rtk=rtk_source is not None,
            rtk_workers=config.rtk_workers if pool else 0,
            mqtt=mqtt_url,
            live_store=store.name,
            simulate=config.simulate,
        )
        if on_ready is not None:
            on_ready(district)
        api_task = district.tasks["api"]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({api_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        await _shutdown(district, server, caster_server, listener_server, pool, publisher)
        await store.close()
        await engine.dispose()
        for sig in installed:
            loop.remove_signal_handler(sig)
        log.info("district_down")


async def _shutdown(
    district: District,
    server: uvicorn.Server,
    caster_server: asyncio.Server,
    listener_server: asyncio.Server,
    pool: RtkPool | RedisRtkPool | None,
    publisher: asyncio.Task[None],
) -> None:
    simulator = district.tasks.pop("simulator", None)
    if simulator is not None:
        simulator.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await simulator
    listener_server.close()
    caster_server.close()
    await district.listener.close()  # receivers' last fixes committed before the workers go
    if pool is not None:
        await pool.close()
    server.should_exit = True
    api = district.tasks.pop("api")
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await api
    await district.caster.close()
    publisher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await publisher
