"""The ``beidou`` command: serve, migrate, load the demo district, simulate, purge."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from api.cli_gnss import gnss_app
from api.cli_maas import maas_app
from api.cli_ntrip import ntrip_app, run_loop
from api.cli_rtk import rtk_app
from api.district import DEMO_CREDENTIALS, District, DistrictConfig, run_district
from core import migrate
from core.db import make_engine, make_sessionmaker
from core.logging import configure_logging
from core.settings import Settings
from parking import demo
from parking.privacy import service as privacy
from parking.unit import Ctx, transaction

app = typer.Typer(help="BeiDou mobility platform backend", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
demo_app = typer.Typer(help="Demo district", no_args_is_help=True)
privacy_app = typer.Typer(help="Personal-data retention", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(privacy_app, name="privacy")
app.add_typer(gnss_app, name="gnss")
app.add_typer(ntrip_app, name="ntrip")
app.add_typer(maas_app, name="maas")
app.add_typer(rtk_app, name="rtk")  # compare, plot; the engine's solve is added in api/cli_rtk.py
console = Console(stderr=True)


@app.callback()
def _configuration() -> None:
    """Refuse to run on a configuration that cannot be right (a production start with a default
    secret, a malformed variable) with one clear line instead of a traceback."""
    try:
        Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())) or "configuration"
            console.print(f"[red]configuration error[/red] ({where}): {error.get('msg')}")
        raise typer.Exit(2) from None


ADMIN_TOKEN_FILE = Path("var") / "admin-token"


WORKER_HEALTHCHECK_S = 120


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the API")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes (not with --district)")] = 1,
    simulate: Annotated[bool, typer.Option(help="also run the demo district's devices against it")] = False,
    district: Annotated[
        bool,
        typer.Option(
            help="the whole district in this process: API, NTRIP caster, receiver listener with "
            "cloud RTK, MQTT ingestion (with --simulate, every demo device)"
        ),
    ] = False,
    caster_port: Annotated[int, typer.Option(help="--district: the NTRIP caster's port")] = 2101,
    listener_port: Annotated[int, typer.Option(help="--district: the receiver listener's port")] = 2102,
    rtk_workers: Annotated[
        int | None, typer.Option(min=1, help="--district: cloud RTK processes (default BEIDOU_RTK_WORKERS)")
    ] = None,
    mqtt: Annotated[
        str,
        typer.Option(help="--district: MQTT broker, auto (127.0.0.1:1883 if it answers), off, or a URL"),
    ] = "auto",
    sim_speed: Annotated[float, typer.Option(min=0.01, help="--simulate: pace of the devices")] = 1.0,
) -> None:
    """Serve the API (uvicorn) and the OCPP central system (BEIDOU_OCPP_PORT, 9000); with
    --district, everything the district runs, in one process."""
    os.environ.setdefault("BEIDOU_OCPP_HOST", host)  # chargers reach the host the API is on
    settings = Settings()
    if district:
        if workers != 1:
            raise typer.BadParameter("--district runs one process; scale out as docker-compose does")
        _serve_district(
            settings,
            DistrictConfig(
                host=host,
                api_port=port,
                caster_port=caster_port,
                listener_port=listener_port,
                rtk_workers=rtk_workers or settings.rtk_workers,
                simulate=simulate,
                mqtt=mqtt,
                sim_speed=sim_speed,
            ),
        )
        return
    if workers > 1 and settings.redis_url is None:
        console.print("[yellow]several workers without BEIDOU_REDIS_URL: each keeps its own live store")
    sim = _start_simulator(host, port) if simulate else None
    try:
        uvicorn.run(
            "api.main:create",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            # uvicorn kills a worker that has not answered its supervisor's ping within this many
            # seconds, and starts another: at its default (5 s) a worker still importing on a busy
            # 2-core machine is killed again and again, and the API never comes up
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
    finally:
        if sim is not None:
            sim.send_signal(signal.SIGTERM)
            sim.wait(timeout=10)


def _serve_district(settings: Settings, config: DistrictConfig) -> None:
    configure_logging(settings.log_level, json=settings.log_json)

    def banner(d: District) -> None:
        console.print(f"[green]district up[/green]: API {d.api_url} (docs {d.api_url}/docs)")
        console.print(f"  NTRIP caster  {config.host}:{config.caster_port}  (sourcetable: GET /)")
        console.print(f"  receivers     {config.host}:{config.listener_port}  (token line, or NTRIP upload)")
        rtk = "off (no BEIDOU_RTK_CASTER_URL, no demo account)"
        if d.rtk_source is not None:
            rtk = f"{config.rtk_workers} worker(s), bases from {d.rtk_source.mount}"
        console.print(f"  cloud RTK     {rtk}")
        console.print(f"  MQTT          {d.mqtt_url or 'off (no broker)'}")
        console.print(f"  live store    {settings.redis_url or 'in-process'}")
        console.print(f"  OCPP 1.6J     ws://{config.host}:{settings.ocpp_port}/ocpp/{{charge_point_id}}")
        if d.simulator is not None:
            console.print(
                f"  simulator     {len(d.simulator.jobs())} devices; credentials {config.credentials}"
            )
        console.print("Ctrl-C stops everything.")

    run_loop(run_district(settings, config, on_ready=banner))


def _start_simulator(host: str, port: int) -> subprocess.Popen[bytes] | None:
    if not DEMO_CREDENTIALS.exists():
        console.print("[yellow]no demo credentials; run `beidou demo load` first. Simulator not started.")
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "simulate", "--base-url", f"http://{host}:{port}"]
    )


@app.command()
def simulate(
    base_url: Annotated[str, typer.Option(help="API to drive")] = "http://127.0.0.1:8000",
    speed: Annotated[float, typer.Option(min=0.01, help="events per second / 2")] = 1.0,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
    credentials: Annotated[Path, typer.Option(help="file written by `demo load`")] = DEMO_CREDENTIALS,
) -> None:
    """Post plate reads and sensor events for the demo district through the real endpoints."""
    from hardware.simulator import Simulator

    configure_logging("INFO", json=True)
    creds = json.loads(credentials.read_text())
    _wait_for(base_url)
    sim = Simulator(base_url, creds, speed=speed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(sim.run(duration_s=duration))
    console.print(f"simulator: {sim.sent} events accepted, {sim.failed} failed")


def _wait_for(base_url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations to BEIDOU_DATABASE_URL."""
    settings = Settings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"[green]database at {revision}[/green]")


async def _in_transaction(fn: Any) -> Any:
    settings = Settings()
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine), settings) as ctx:
            return await fn(ctx)
    finally:
        await engine.dispose()


@demo_app.command("load")
def demo_load() -> None:
    """Load the Yangpu demo district (idempotent); device tokens go to var/demo-credentials.json."""

    async def run(ctx: Ctx) -> dict[str, Any] | None:
        if await demo.is_loaded(ctx):
            return None
        return await demo.load(ctx)

    with console.status("loading the demo district"):
        creds = asyncio.run(_in_transaction(run))
    if creds is None:
        console.print("demo district already loaded")
        return
    DEMO_CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
    DEMO_CREDENTIALS.write_text(json.dumps(creds, indent=2, ensure_ascii=False))
    os.chmod(DEMO_CREDENTIALS, 0o600)
    console.print(f"[green]loaded {len(creds['lots'])} lots[/green]; credentials in {DEMO_CREDENTIALS}")


@app.command("admin-token")
def admin_token() -> None:
    """Print BEIDOU_ADMIN_TOKEN, or a generated one kept in var/admin-token (for `make run`)."""
    token = Settings().admin_token
    if token is None:
        if ADMIN_TOKEN_FILE.exists():
            token = ADMIN_TOKEN_FILE.read_text().strip()
        else:
            token = "adm_" + secrets.token_urlsafe(32)
            ADMIN_TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
            ADMIN_TOKEN_FILE.write_text(token + "\n")
            os.chmod(ADMIN_TOKEN_FILE, 0o600)
    print(token)


@privacy_app.command("purge")
def privacy_purge(
    retention_days: Annotated[int | None, typer.Option(min=0, help="default: BEIDOU_RETENTION_DAYS")] = None,
) -> None:
    """Replace plates older than the retention period by their keyed hash."""
    report = asyncio.run(_in_transaction(lambda ctx: privacy.purge(ctx, retention_days)))
    console.print(
        f"purged plates from {report.sessions} sessions, {report.anpr_events} reads, "
        f"{report.bookings} bookings"
    )


if __name__ == "__main__":
    app()
