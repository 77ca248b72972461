"""Many chargers on one core: the OCPP 1.6J central system under a fleet that heartbeats and
sends meter values every 10 s, as the issue's goal states (5,000 chargers, p99 answer < 100 ms,
no message lost).

Set-up (not timed): a fresh database (SQLite file by default, ``--database-url`` for PostgreSQL)
migrated, with one operator, lots of 100 EV spaces each, ``--chargers`` registered charge points
(one connector each, passwords as the API hands them out) and, per charger, a car whose plate has
an open parking session at the charger's lot (so its id tag is accepted).

The server is ``beidou serve`` (the API and the central system in one process) pinned to one
CPU with ``taskset``; this script (the fleet) runs on the other CPU. Every charger connects with
HTTP Basic auth (ramped up in batches), boots, reports Available, starts a transaction, then
every 10 s (each at its own phase) sends a Heartbeat and a MeterValues with its energy register.
Each message's answer time is measured from the send to the CallResult with the same unique id.

A round is a measurement window of ``--window`` seconds on the connected fleet; figures are the
median of the rounds with their min-max. "Lost" counts messages with no answer 20 s after the window,
CallErrors and connections dropped. Server CPU is its user+system time over the window; the
fleet's (this process's) CPU is shown beside it: when it nears 1.0 the figures measure the fleet.

    python benchmarks/ocpp_chargers.py [--chargers 5000] [--rounds 3] [--window 30]
        [--database-url postgresql://...]

The JSON record (every round, the machine before/after) goes to var/bench/ocpp_chargers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402
import websockets  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks._harness import Record, Spread  # noqa: E402

PERIOD_S = 10.0
ADMIN = "bench-admin-token"
console = Console()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _setup(database_url: str, chargers: int) -> list[tuple[str, str, str]]:
    """Register the fleet through the domain services (as the API would); (id, password, plate)."""
    from core import migrate
    from core.db import make_engine, make_sessionmaker
    from core.settings import Settings
    from parking.charging import service as charging
    from parking.charging.schemas import ChargePointIn, ConnectorIn, ConnectorType
    from parking.demo import CHARGING_CENTRE_TARIFF
    from parking.identity import service as identity
    from parking.identity.access import ADMIN as ADMIN_PRINCIPAL
    from parking.identity.access import Principal
    from parking.identity.plates import plate_hash
    from parking.identity.schemas import Role
    from parking.lots import service as lots
    from parking.lots.schemas import LotIn, LotKind, SpaceIn, SpaceKind
    from parking.sessions import service as sessions
    from parking.unit import transaction

    await asyncio.to_thread(migrate.upgrade, database_url)  # Alembic runs its own event loop
    settings = Settings(database_url=database_url, admin_token=ADMIN)
    engine = make_engine(database_url)
    fleet: list[tuple[str, str, str]] = []
    try:
        async with transaction(make_sessionmaker(engine), settings) as ctx:
            op_id = (await identity.create_operator(ctx, ADMIN_PRINCIPAL, "Bench operator")).id
            op = Principal(Role.OPERATOR, op_id)
            for lot_no in range(-(-chargers // 100)):
                lot = await lots.create_lot(
                    ctx,
                    op,
                    LotIn(
                        name=f"Bench lot {lot_no}",
                        lat=31.30 + lot_no * 1e-3,
                        lon=121.51,
                        kind=LotKind.SURFACE,
                        capacity=100,
                        tariff=CHARGING_CENTRE_TARIFF,
                    ),
                )
                count = min(100, chargers - lot_no * 100)
                await lots.add_spaces(
                    ctx,
                    op,
                    lot.id,
                    [
                        SpaceIn(code=f"E{i:03d}", lat=31.3, lon=121.51, kind=SpaceKind.EV)
                        for i in range(count)
                    ],
                )
                for i in range(count):
                    n = lot_no * 100 + i
                    cp_id, plate = f"BENCH-{n:05d}", f"沪AD{n:05d}"
                    created = await charging.register(
                        ctx,
                        op,
                        ChargePointIn(
                            lot_id=lot.id,
                            space_code=f"E{i:03d}",
                            charge_point_id=cp_id,
                            connectors=[ConnectorIn(connector_id=1, type=ConnectorType.GBT_AC, max_kw=7)],
                        ),
                    )
                    await sessions.enter(ctx, lot.id, plate, plate_hash(plate, ctx.plate_key), ctx.now, [])
                    fleet.append((cp_id, created.password, plate))
    finally:
        await engine.dispose()
    return fleet


@dataclass
class Counters:
    latencies_ms: list[float] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    sent: int = 0
    answered: int = 0
    errors: int = 0
    dropped: int = 0
    reconnects: int = 0  # handshakes retried during the ramp-up
    measuring: bool = False


class FleetCharger:
    """One charger as raw OCPP-J frames over a websocket (light enough for thousands per core)."""

    def __init__(self, url: str, cp_id: str, password: str, plate: str, counters: Counters) -> None:
        self.url, self.cp_id, self.password, self.plate = url, cp_id, password, plate
        self.counters = counters
        self.pending: dict[str, tuple[float, str | None, asyncio.Future[Any]]] = {}
        self.seq = 0
        self.register_wh = random.randint(100_000, 900_000)
        self.ws: Any = None

    async def connect(self) -> None:
        """Connect (retrying a refused or timed-out handshake, as a real charger would)."""
        token = base64.b64encode(f"{self.cp_id}:{self.password}".encode()).decode()
        for attempt in range(6):
            try:
                self.ws = await websockets.connect(
                    f"{self.url}/ocpp/{self.cp_id}",
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    additional_headers={"Authorization": f"Basic {token}"},
                    ping_interval=None,
                    open_timeout=90,
                )
                break
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                self.counters.reconnects += 1
                await asyncio.sleep(2**attempt)
        else:
            raise RuntimeError(f"{self.cp_id} could not connect")
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = orjson.loads(raw)
                entry = self.pending.pop(msg[1], None)
                if entry is None:
                    continue
                sent_at, measured, future = entry
                if msg[0] == 3:
                    if measured:
                        self.counters.answered += 1
                        took = (time.perf_counter() - sent_at) * 1000
                        self.counters.latencies_ms.append(took)
                        self.counters.by_action.setdefault(measured, []).append(took)
                    future.set_result(msg[2])
                else:
                    if measured:
                        self.counters.errors += 1
                    future.set_result(None)
        except websockets.ConnectionClosed:
            self.counters.dropped += 1

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        self.seq += 1
        uid = f"{self.seq}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        measured = action if self.counters.measuring else None
        self.pending[uid] = (time.perf_counter(), measured, future)
        if measured:
            self.counters.sent += 1
        await self.ws.send(orjson.dumps([2, uid, action, payload]).decode())  # a text frame
        # no timer per message (it would cost the fleet more than the message): what is still
        # unanswered 20 s after a window is counted lost; the ramp-up's calls are awaited plainly
        return await future

    async def start(self) -> int:
        await self.call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "AC7"})
        await self.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        )
        answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": self.plate, "meterStart": self.register_wh, "timestamp": _now()},
        )
        return int(answer["transactionId"]) if answer else 0

    async def cycle(self, tx: int) -> None:
        """Every 10 s from a random phase: a heartbeat and the energy register."""
        await asyncio.sleep(random.uniform(0, PERIOD_S))
        while True:
            began = time.monotonic()
            self.register_wh += 19  # 7 kW for 10 s
            await asyncio.gather(
                self.call("Heartbeat", {}),
                self.call(
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "transactionId": tx,
                        "meterValue": [
                            {"timestamp": _now(), "sampledValue": [{"value": str(self.register_wh)}]}
                        ],
                    },
                ),
            )
            await asyncio.sleep(max(0.0, PERIOD_S - (time.monotonic() - began)))


def _start_server(cpu: int, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``beidou serve`` (API + central system, one process) pinned to one CPU."""
    beidou = str(Path(sys.executable).parent / "beidou")
    return subprocess.Popen(
        ["taskset", "-c", str(cpu), beidou, "serve", "--port", str(port)], env=env, cwd=cwd
    )


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="ocpp-bench-"))
    database_url = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    console.print(f"setting up {args.chargers} chargers in {database_url} ...")
    fleet = await _setup(database_url, args.chargers)
    api, ocpp = _port(), _port()
    env = {
        **os.environ,
        "BEIDOU_DATABASE_URL": database_url,
        "BEIDOU_OCPP_PORT": str(ocpp),
        "BEIDOU_ADMIN_TOKEN": ADMIN,
        "BEIDOU_LOG_LEVEL": "WARNING",
    }
    env.pop("BEIDOU_REDIS_URL", None)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = cpus[-1], cpus[0]
    server = _start_server(server_cpu, api, env, work)
    os.sched_setaffinity(0, {client_cpu})
    record = Record(
        "ocpp_chargers",
        " ".join(["python", "benchmarks/ocpp_chargers.py", *sys.argv[1:]]),
        params={**vars(args), "period_s": PERIOD_S, "server_cpu": server_cpu, "client_cpu": client_cpu},
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    if (await http.get(f"http://127.0.0.1:{api}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        counters = Counters()
        chargers = [
            FleetCharger(f"ws://127.0.0.1:{ocpp}", cp, pw, plate, counters) for cp, pw, plate in fleet
        ]
        ramp_began = time.monotonic()
        for i in range(0, len(chargers), args.batch):
            batch = chargers[i : i + args.batch]
            await asyncio.gather(*(c.connect() for c in batch))
            txs = await asyncio.gather(*(c.start() for c in batch))
            for charger, tx in zip(batch, txs, strict=True):
                asyncio.get_running_loop().create_task(charger.cycle(tx))
        ramp_s = time.monotonic() - ramp_began
        console.print(f"{len(chargers)} chargers connected and charging in {ramp_s:.0f} s")
        record.params.update(ramp_s=round(ramp_s, 1), handshake_retries=counters.reconnects)
        await asyncio.sleep(PERIOD_S)  # every charger's phase has come round once
        rounds: list[dict[str, Any]] = []
        for r in range(args.rounds):
            counters.latencies_ms.clear()
            counters.by_action.clear()
            counters.sent = counters.answered = counters.errors = 0
            dropped0, cpu0, t0 = counters.dropped, _cpu_s(server.pid), time.monotonic()
            fleet_cpu0 = time.process_time()
            counters.measuring = True
            await asyncio.sleep(args.window)
            counters.measuring = False
            elapsed = time.monotonic() - t0
            cpu = (_cpu_s(server.pid) - cpu0) / elapsed
            fleet_cpu = (time.process_time() - fleet_cpu0) / elapsed
            await asyncio.sleep(min(30.0, PERIOD_S * 2))  # the window's last answers arrive (or time out)
            lost = counters.sent - counters.answered + (counters.dropped - dropped0)
            row = {
                "round": r + 1,
                "messages": counters.sent,
                "msg_per_s": counters.sent / elapsed,
                "p50_ms": _pct(counters.latencies_ms, 0.50),
                "p99_ms": _pct(counters.latencies_ms, 0.99),
                "p99_heartbeat_ms": _pct(counters.by_action.get("Heartbeat", []), 0.99),
                "p99_meter_values_ms": _pct(counters.by_action.get("MeterValues", []), 0.99),
                "max_ms": max(counters.latencies_ms, default=float("nan")),
                "lost": lost,
                "call_errors": counters.errors,
                "server_cpu": cpu,
                "fleet_cpu": fleet_cpu,
            }
            rounds.append(row)
            console.print(row)
        record.rounds = {"windows": rounds}
        summary = {
            key: Spread.of([row[key] for row in rounds])
            for key in (
                "msg_per_s",
                "p50_ms",
                "p99_ms",
                "p99_heartbeat_ms",
                "p99_meter_values_ms",
                "max_ms",
                "server_cpu",
                "fleet_cpu",
            )
        }
        total_lost = sum(row["lost"] for row in rounds)
        record.summary = {**summary, "lost": total_lost, "chargers": len(chargers)}
        table = Table(
            title=f"OCPP central system, {len(chargers)} chargers on one core ({database_url.split(':')[0]})"
        )
        for column in ("figure", "median (min-max)", "goal"):
            table.add_column(column)
        table.add_row("messages/s answered", summary["msg_per_s"].fmt(0), "")
        table.add_row("p50 answer", summary["p50_ms"].fmt(1, " ms"), "")
        table.add_row(
            "p99 answer",
            summary["p99_ms"].fmt(1, " ms"),
            f"< 100 ms: {summary['p99_ms'].verdict(100, higher_is_better=False)}",
        )
        table.add_row("  p99 Heartbeat", summary["p99_heartbeat_ms"].fmt(1, " ms"), "")
        table.add_row("  p99 MeterValues (stored first)", summary["p99_meter_values_ms"].fmt(1, " ms"), "")
        table.add_row("max answer", summary["max_ms"].fmt(1, " ms"), "")
        table.add_row("server CPU (of one core)", summary["server_cpu"].fmt(2), "")
        table.add_row("fleet (load generator) CPU", summary["fleet_cpu"].fmt(2), "")
        table.add_row("messages lost", f"{total_lost}", "0: " + ("met" if total_lost == 0 else "not met"))
        console.print(table)
        console.print(f"saved {record.save()}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per measured round")
    parser.add_argument("--batch", type=int, default=50, help="chargers connecting at once")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
