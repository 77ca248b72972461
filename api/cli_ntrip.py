"""``beidou ntrip ...``: the caster, base-station pushes, and its accounts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from core.db import make_engine, make_sessionmaker
from core.errors import DomainError
from core.live import make_live_store
from core.logging import configure_logging
from core.settings import Settings
from gnss.ntrip.caster import Caster
from gnss.ntrip.nearest import NearestPolicy
from gnss.ntrip.upstream import MirrorSpec, Upstream, parse_mirror
from hardware.gnss_agent import serial_source, tcp_source
from hardware.gnss_replay import paced_chunks
from hardware.ntrip_source import push as push_to_caster
from parking.identity.access import ADMIN
from parking.ntrip import service as ntrip
from parking.ntrip.accounts import DatabaseAccounts
from parking.ntrip.live import publish_caster_state
from parking.ntrip.schemas import AccountKind
from parking.unit import Ctx, transaction

ntrip_app = typer.Typer(help="NTRIP caster: serve, push, mountpoints and users", no_args_is_help=True)
mount_app = typer.Typer(help="Mountpoints and their source passwords", no_args_is_help=True)
user_app = typer.Typer(help="Rover accounts", no_args_is_help=True)
ntrip_app.add_typer(mount_app, name="mount")
ntrip_app.add_typer(user_app, name="user")
out = Console()
T = TypeVar("T")


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("expected host:port")
    return host, int(port)


@ntrip_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 2101,
    source_timeout: Annotated[
        float, typer.Option(help="seconds of silence before a source is dropped")
    ] = 10.0,
    mirror: Annotated[
        list[str] | None,
        typer.Option(
            help="re-serve another caster's mount as LOCAL: LOCAL=ntrip://user:pass@host:port/MOUNT "
            "(ntrip1:// for NTRIP 1.0); repeatable"
        ),
    ] = None,
) -> None:
    """Run the caster; accounts come from the platform database (BEIDOU_DATABASE_URL). The virtual
    NEAREST mount serves each rover the nearest live base; --mirror pulls upstream mounts."""
    specs: list[MirrorSpec] = []
    for text in mirror or []:
        try:
            specs.append(parse_mirror(text))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--mirror") from exc
    run_loop(_serve(host, port, source_timeout, specs))


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop where installed (it comes with uvicorn[standard]): the fan-out is one transport
    write per client per epoch, and uvloop's writes cost a fraction of asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(main)
    else:
        uvloop.run(main)


async def _serve(host: str, port: int, source_timeout: float, mirrors: list[MirrorSpec]) -> None:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    engine = make_engine(settings.database_url)
    store = make_live_store(settings.redis_url)
    caster = Caster(
        DatabaseAccounts(make_sessionmaker(engine)),
        source_timeout_s=source_timeout,
        nearest=NearestPolicy(),
    )
    upstreams = [
        Upstream(caster, m.local_mount, m.host, m.port, m.remote_mount, m.user, m.password, version=m.version)
        for m in mirrors
    ]
    server = await caster.serve(host, port)
    for upstream in upstreams:
        upstream.start()
        out.print(
            f"mirroring {upstream.host}:{upstream.port}/{upstream.remote_mount} as /{upstream.local_mount}"
        )
    out.print(f"NTRIP caster on {host}:{port}")

    # the API's GET /v1/ntrip/mounts and /metrics read this
    publisher = asyncio.create_task(publish_caster_state(store, caster.snapshot))
    try:
        async with server:
            await server.serve_forever()
    finally:
        publisher.cancel()
        for upstream in upstreams:
            await upstream.stop()
        await store.close()
        await engine.dispose()


@ntrip_app.command("push")
def push(
    mount: Annotated[str, typer.Option(help="mountpoint to push to")],
    password: Annotated[
        str, typer.Option(envvar="BEIDOU_NTRIP_SOURCE_PASSWORD", help="the mount's source password")
    ],
    file: Annotated[
        Path | None, typer.Argument(exists=True, dir_okay=False, help="a capture to replay")
    ] = None,
    caster: Annotated[str, typer.Option(help="caster host:port")] = "127.0.0.1:2101",
    serial: Annotated[
        str | None, typer.Option(help="a base receiver's serial port instead of a file")
    ] = None,
    baud: Annotated[int, typer.Option(help="serial speed")] = 115200,
    tcp: Annotated[str | None, typer.Option(help="a base receiver serving RTCM on host:port")] = None,
    speed: Annotated[float, typer.Option(min=0.01, help="replay pace: 1 = as recorded")] = 1.0,
    ntrip_version: Annotated[int, typer.Option(min=1, max=2, help="1: SOURCE, 2: chunked POST")] = 1,
) -> None:
    """Push RTCM to a mount: replay a capture at its recorded pace (a base station simulator), or
    relay a real base receiver (serial or TCP)."""
    if sum(x is not None for x in (file, serial, tcp)) != 1:
        raise typer.BadParameter("give exactly one of FILE, --serial or --tcp")
    source: AsyncIterator[bytes]
    if file is not None:
        source = paced_chunks(file.read_bytes(), speed=speed)
    elif serial is not None:
        source = serial_source(serial, baud)
    else:
        source = tcp_source(*_hostport(tcp or ""))
    stats = asyncio.run(push_to_caster(source, *_hostport(caster), mount, password, version=ntrip_version))
    out.print(f"pushed {stats.bytes_sent} bytes to /{mount} ({stats.connects} connections)")


def _db(fn: Callable[[Ctx], Awaitable[T]]) -> T:
    """One transaction as the platform's admin (the CLI's user runs the platform)."""

    async def run() -> T:
        settings = Settings()
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine), settings) as ctx:
                return await fn(ctx)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise typer.BadParameter(exc.detail) from exc


@mount_app.command("add")
def mount_add(
    name: str,
    source_password: Annotated[str, typer.Option(help="the password the base station pushes with")],
    identifier: Annotated[str, typer.Option(help="sourcetable identifier (place name)")] = "",
) -> None:
    _db(lambda ctx: ntrip.create_mount(ctx, ADMIN, name, source_password, identifier))
    out.print(f"mountpoint {name} added")


@mount_app.command("remove")
def mount_remove(name: str) -> None:
    _db(lambda ctx: ntrip.delete(ctx, ADMIN, AccountKind.MOUNT, name))
    out.print(f"mountpoint {name} removed")


@mount_app.command("list")
def mount_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    rows = _db(lambda ctx: ntrip.mounts_of(ctx, ADMIN))
    _show(
        [{"name": r.name, "identifier": r.identifier, "created_at": r.created_at.isoformat()} for r in rows],
        as_json,
    )


@user_app.command("add")
def user_add(
    name: str,
    password: Annotated[str, typer.Option(help="the rover's password")],
    mounts: Annotated[str | None, typer.Option(help="comma-separated mountpoints (default: all)")] = None,
) -> None:
    allowed = [m.strip() for m in mounts.split(",") if m.strip()] if mounts else None
    _db(lambda ctx: ntrip.create_user(ctx, ADMIN, name, password, allowed))
    out.print(f"user {name} added")


@user_app.command("remove")
def user_remove(name: str) -> None:
    _db(lambda ctx: ntrip.delete(ctx, ADMIN, AccountKind.USER, name))
    out.print(f"user {name} removed")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    rows = _db(lambda ctx: ntrip.users_of(ctx, ADMIN))
    _show(
        [{"name": r.name, "mounts": r.mounts, "created_at": r.created_at.isoformat()} for r in rows], as_json
    )


def _show(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table()
    for col in rows[0] if rows else ["name"]:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    out.print(table)
