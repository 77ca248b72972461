"""``beidou gnss ...``: inspect captures, listen for receivers over TCP, forward and replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.db import make_engine, make_sessionmaker
from core.live import make_live_store
from core.logging import configure_logging
from core.settings import Settings
from gnss.inspect import inspect_file
from gnss.ntrip.upstream import NtripUrl, parse_ntrip_url
from gnss.rtk.options import RtkOptions
from gnss.rtk.pool import SessionSpec
from hardware.cloud_rtk import CloudRtk
from hardware.gnss_agent import forward, serial_source, tcp_source
from hardware.gnss_listener import ReceiverListener
from hardware.gnss_replay import paced_chunks
from hardware.rtk_stream_pool import make_pool

gnss_app = typer.Typer(help="GNSS receivers: captures, TCP listener, agent, replay", no_args_is_help=True)
out = Console()


@gnss_app.command("inspect")
def inspect(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="a capture of NMEA/RTCM/UBX bytes")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print the counts as JSON")] = False,
) -> None:
    """Counts per NMEA sentence and RTCM message type, bytes skipped, CRC failures, fix qualities."""
    report = inspect_file(str(file))
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_report(file.name, report)


def _print_report(name: str, report: dict[str, Any]) -> None:
    table = Table(title=name)
    table.add_column("kind")
    table.add_column("type")
    table.add_column("count", justify="right")
    for key, n in report["nmea"].items():
        table.add_row("NMEA", key, str(n))
    for key, n in report["nmea_unparsed"].items():
        table.add_row("NMEA (unreadable)", key, str(n))
    for key, n in report["rtcm"].items():
        table.add_row("RTCM 3", key, str(n))
    if report["ubx_frames"]:
        table.add_row("UBX", "frames", str(report["ubx_frames"]))
    out.print(table)
    quality = ", ".join(f"{q}: {n}" for q, n in report["fix_quality"].items()) or "none"
    out.print(
        f"bytes {report['bytes']}, skipped {report['bytes_skipped']}, CRC errors {report['crc_errors']}, "
        f"checksum errors {report['checksum_errors']}"
    )
    out.print(f"fix quality (GGA): {quality}; fixes {report['fixes']}; time span {report['time_span']}")


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("expected host:port")
    return host, int(port)


@gnss_app.command("listen")
def listen(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port for receivers")] = 2102,
    rtk_caster: Annotated[
        str | None,
        typer.Option(
            help="cloud RTK: solve rovers' raw RTCM against this caster mount, "
            "ntrip://user:pass@host:port/NEAREST (default: BEIDOU_RTK_CASTER_URL)",
        ),
    ] = None,
    rtk_workers: Annotated[
        int | None, typer.Option(min=1, help="RTK processes (default: BEIDOU_RTK_WORKERS)")
    ] = None,
    rtk_mode: Annotated[str, typer.Option(help="kinematic | static | dgnss | single")] = "kinematic",
    rtk_systems: Annotated[str, typer.Option(help="systems solved, e.g. C,G,E,J")] = "C,G,E,J",
    rtk_freqs: Annotated[int, typer.Option(min=1, max=3, help="frequencies per system")] = 2,
    rtk_dynamics: Annotated[
        bool, typer.Option(help="velocity states in the filter (vehicles): a constant-velocity model")
    ] = False,
) -> None:
    """Take raw NMEA/RTCM from receivers over TCP or NTRIP upload (the device token logs in).
    With --rtk-caster, rovers streaming RTCM MSM are solved by the platform (cloud RTK)."""
    settings = Settings()
    rtk_caster = rtk_caster or settings.rtk_caster_url
    cloud = None
    if rtk_caster is not None:
        try:
            source = parse_ntrip_url(rtk_caster)
            systems = rtk_systems.replace(",", "").upper()
            if "R" in systems:
                raise ValueError(
                    "cloud RTK reads no GLONASS (its FDMA phase does not enter our double differences)"
                )
            options = RtkOptions(mode=rtk_mode, systems=systems, freqs=rtk_freqs, dynamics=rtk_dynamics)  # type: ignore[arg-type]
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        cloud = (source, SessionSpec(options), rtk_workers or settings.rtk_workers)
    asyncio.run(_listen(host, port, cloud))


async def _listen(host: str, port: int, cloud: tuple[NtripUrl, SessionSpec, int] | None) -> None:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    engine = make_engine(settings.database_url)
    store = make_live_store(settings.redis_url)
    pool = None
    rtk = None
    if cloud is not None:
        source, spec, workers = cloud
        pool = make_pool(settings.rtk_transport, workers, settings.rtk_redis_url or settings.redis_url)
        pool.start()
        rtk = CloudRtk(pool, source, spec)
        out.print(f"cloud RTK: {workers} worker(s), bases from {source.host}:{source.port}/{source.mount}")
    listener = ReceiverListener(make_sessionmaker(engine), settings, store, rtk=rtk)
    server = await listener.serve(host, port)
    out.print(f"receiver listener on {host}:{port}")
    try:
        async with server:
            await server.serve_forever()
    finally:
        await listener.close()  # connections end (their last fixes committed) before the pool goes
        if pool is not None:
            await pool.close()
        await store.close()
        await engine.dispose()


@gnss_app.command("agent")
def agent(
    server: Annotated[str, typer.Option(help="the receiver listener, host:port")],
    token: Annotated[str, typer.Option(envvar="BEIDOU_DEVICE_TOKEN", help="gnss_receiver device token")],
    serial: Annotated[
        str | None, typer.Option(help="serial device of the receiver, e.g. /dev/ttyUSB0")
    ] = None,
    baud: Annotated[int, typer.Option(help="serial speed")] = 115200,
    tcp: Annotated[str | None, typer.Option(help="a receiver serving its output on host:port")] = None,
) -> None:
    """Forward a receiver's output (serial or TCP) to the platform, reconnecting on both sides."""
    if (serial is None) == (tcp is None):
        raise typer.BadParameter("give exactly one of --serial or --tcp")
    source = serial_source(serial, baud) if serial else tcp_source(*_hostport(tcp or ""))
    asyncio.run(forward(source, *_hostport(server), token))


@gnss_app.command("replay")
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a receiver capture")],
    server: Annotated[str, typer.Option(help="the receiver listener, host:port")],
    token: Annotated[str, typer.Option(envvar="BEIDOU_DEVICE_TOKEN", help="gnss_receiver device token")],
    speed: Annotated[float, typer.Option(min=0.01, help="1 = recorded pace, 10 = ten times faster")] = 1.0,
) -> None:
    """Play a capture to the platform at its recorded pace, as the receiver sent it."""
    stats = asyncio.run(forward(paced_chunks(file.read_bytes(), speed=speed), *_hostport(server), token))
    out.print(f"sent {stats.bytes_sent} bytes ({stats.bytes_dropped} dropped)")
