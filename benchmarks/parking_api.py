"""Benchmark of the parking API's hot paths against the ceiling of the stack it runs on.

What it measures, in one run on this machine:
- ceiling: GET /const on a bare FastAPI app (benchmarks/ceiling_app.py), uvicorn, 2 workers;
- lot search: GET /v1/lots near Wujiaochang on the real service (PostgreSQL + Redis, 2 workers);
- bookings: POST /v1/bookings on the real service, random lots and hour-long windows, then a
  database check that no two live bookings overlap on a space, and a contention round where
  200 requests race for one space and window (exactly one may win). Beside the rate, the CPU
  a booking request costs the API workers and the PostgreSQL backends (from /proc), which the
  load of the shared machine moves far less than the rate.

The load comes from a separate process (a minimal asyncio HTTP/1.1 keep-alive client, so the
generator costs little CPU) over loopback. The three scenarios run in interleaved rounds
(ceiling, search, bookings, ceiling, ...); each figure is the median of its rounds with their
range, the search/ceiling ratio the median of the per-round ratios. The product owner's goals are
printed beside the figures with a verdict (met only when the whole range is on the goal's side),
not asserted: search >= 40 % of the ceiling's rate; bookings >= 1,000/s, no double booking. Every
round goes to var/bench/parking_api.json.

Run: .venv/bin/python benchmarks/parking_api.py [--seconds 8] [--warmup 2] [--rounds 3] [--concurrency 32]
     [--db-name beidou_bench] [--redis-db 14]   (both emptied by the run: give each runner its own)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from rich.console import Console
from rich.table import Table

from benchmarks._harness import Record, Spread, ratios
from parking.demo import CENTRE_TARIFF

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "beidou_bench"  # --db-name: emptied and migrated by every run
REDIS_DB = 14  # --redis-db: flushed by every run
CENTRE = (31.3003, 121.5136)
TARIFF = CENTRE_TARIFF  # the demo's tariff: one definition for demo, tests and benchmarks
console = Console()
BOOKINGS_GOAL = 1_000  # confirmed bookings per second, 2 API workers on this 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def db_url(name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def prepare_database(name: str, redis_url: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(db_url(name), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    env = {**os.environ, "BEIDOU_DATABASE_URL": db_url(name)}
    subprocess.run([str(BIN / "beidou"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    redis.Redis.from_url(redis_url).flushdb()


@contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # 2 workers importing on a loaded 2-core machine
        while True:
            try:
                if httpx.get(base + probe, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {' '.join(cmd)}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def seed(base: str, admin_token: str, lots: int, spaces: int, drivers: int) -> dict[str, Any]:
    rng = random.Random(7)
    with httpx.Client(base_url=base, timeout=30) as http:
        op = http.post(
            "/v1/admin/operators", json={"name": "bench"}, headers={"Authorization": f"Bearer {admin_token}"}
        ).json()
        oph = {"Authorization": f"Bearer {op['token']}"}
        lot_ids = []
        for i in range(lots):
            lat = CENTRE[0] + rng.uniform(-0.012, 0.012)
            lon = CENTRE[1] + rng.uniform(-0.012, 0.012)
            lot = http.post(
                "/v1/operator/lots",
                headers=oph,
                json={
                    "name": f"bench lot {i}",
                    "lat": lat,
                    "lon": lon,
                    "kind": "surface",
                    "capacity": spaces,
                    "tariff": TARIFF,
                },
            ).json()
            body = [{"code": f"B{j:03d}", "lat": lat + j * 1e-5, "lon": lon} for j in range(spaces)]
            http.post(f"/v1/operator/lots/{lot['id']}/spaces", headers=oph, json=body).raise_for_status()
            lot_ids.append(lot["id"])
        people = []
        for i in range(drivers):
            d = http.post("/v1/drivers", json={"name": f"d{i}", "phone": "+86 138 0000 0000"}).json()
            plate = f"沪A{i:05d}"
            http.post(
                "/v1/me/plates", json={"plate": plate}, headers={"Authorization": f"Bearer {d['token']}"}
            ).raise_for_status()
            people.append((d["token"], plate))
        first_space = http.get(f"/v1/operator/lots/{lot_ids[0]}/spaces", headers=oph).json()[0]["id"]
    return {"lots": lot_ids, "drivers": people, "space": first_space}


# --- the load generator (runs in its own process) -----------------------------------------------


def _request(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    port: int,
    make: Callable[[random.Random], bytes],
    start: float,
    stop: float,
    seed_: int,
    out: dict[str, Any],
) -> None:
    rng = random.Random(seed_)
    while time.perf_counter() < stop:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (now := time.perf_counter()) < stop:
                writer.write(make(rng))
                t0 = time.perf_counter()
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                out["completed"] += 1
                if now >= start:
                    out["latencies"].append(time.perf_counter() - t0)
                    out["statuses"][status] += 1
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            out["statuses"]["connection_error"] += 1  # counted, then reconnect
        finally:
            writer.close()


def _load(
    port: int,
    scenario: str,
    data: dict[str, Any],
    seconds: float,
    warmup: float,
    concurrency: int,
    queue: Any,
) -> None:
    host = f"127.0.0.1:{port}"
    make = _maker(scenario, host, data)
    out: dict[str, Any] = {"latencies": [], "statuses": Counter(), "completed": 0}

    async def main() -> None:
        t = time.perf_counter()
        start, stop = t + warmup, t + warmup + seconds
        await asyncio.gather(*(_connection(port, make, start, stop, i, out) for i in range(concurrency)))

    asyncio.run(main())
    queue.put(
        {"latencies": out["latencies"], "statuses": dict(out["statuses"]), "completed": out["completed"]}
    )


def _maker(scenario: str, host: str, data: dict[str, Any]) -> Callable[[random.Random], bytes]:
    if scenario == "ceiling":
        req = _request("GET", "/const", host, {})
        return lambda rng: req
    if scenario == "search":
        token = data["drivers"][0][0]

        def search(rng: random.Random) -> bytes:
            lat = CENTRE[0] + rng.uniform(-0.005, 0.005)
            lon = CENTRE[1] + rng.uniform(-0.005, 0.005)
            return _request(
                "GET",
                f"/v1/lots?lat={lat:.6f}&lon={lon:.6f}&radius_m=2000",
                host,
                {"Authorization": f"Bearer {token}"},
            )

        return search
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)

    def book(rng: random.Random) -> bytes:
        token, plate = rng.choice(data["drivers"])
        start = base + timedelta(hours=rng.randrange(24 * 60))
        body = json.dumps(
            {
                "lot_id": rng.choice(data["lots"]),
                "plate": plate,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            }
        )
        return _request("POST", "/v1/bookings", host, {"Authorization": f"Bearer {token}"}, body.encode())

    return book


def run_load(
    port: int, scenario: str, data: dict[str, Any], args: argparse.Namespace, cpu: CpuMeter | None = None
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_load, args=(port, scenario, data, args.seconds, args.warmup, args.concurrency, queue)
    )
    before = cpu.read() if cpu else None
    proc.start()
    result = queue.get(timeout=args.seconds + args.warmup + 120)
    proc.join()
    lat = sorted(result["latencies"])
    n = len(lat)
    out = {
        "scenario": scenario,
        "requests": n,
        "rate": n / args.seconds,
        "p50_ms": lat[n // 2] * 1000 if n else float("nan"),
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "statuses": result["statuses"],
    }
    if cpu is not None and before is not None and result["completed"]:
        after = cpu.read()
        for side in ("api", "postgres"):
            out[f"{side}_cpu_us_per_request"] = (after[side] - before[side]) / result["completed"] * 1e6
    return out


class CpuMeter:
    """CPU seconds (user + system) spent by the API's processes (the server and its workers) and
    by the PostgreSQL backends connected to the benchmark's database: what a request costs,
    whatever else the shared machine is doing at the time."""

    def __init__(self, server_pid: int, database_url: str, db_name: str) -> None:
        self.server_pid = server_pid
        self.database_url = database_url
        self.db_name = db_name
        self.tick = os.sysconf("SC_CLK_TCK")

    def _stat(self, pid: int) -> tuple[int, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / self.tick  # ppid, utime+stime

    def _tree(self, root: int) -> list[int]:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := self._stat(int(entry.name))) is not None:
                parents[int(entry.name)] = stat[0]
        tree, frontier = [root], [root]
        while frontier:
            frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
            tree += frontier
        return tree

    def read(self) -> dict[str, float]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            backends = [
                row[0]
                for row in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.db_name,),
                ).fetchall()
            ]
        total = {"api": 0.0, "postgres": 0.0}
        for side, pids in (("api", self._tree(self.server_pid)), ("postgres", backends)):
            for pid in pids:
                if (stat := self._stat(pid)) is not None:
                    total[side] += stat[1]
        return total


async def contention(base: str, data: dict[str, Any], racers: int = 200) -> Counter[int]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=90)
    body = {
        "lot_id": data["lots"][0],
        "space_id": data["space"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=2)).isoformat(),
    }
    limits = httpx.Limits(max_connections=racers)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        drivers = data["drivers"]
        responses = await asyncio.gather(
            *(
                http.post(
                    "/v1/bookings",
                    json={**body, "plate": drivers[i % len(drivers)][1]},
                    headers={"Authorization": f"Bearer {drivers[i % len(drivers)][0]}"},
                )
                for i in range(racers)
            )
        )
    return Counter(r.status_code for r in responses)


DOUBLE_BOOKINGS = """
SELECT count(*) FROM bookings a JOIN bookings b
  ON a.space_id = b.space_id AND a.id < b.id
 AND a.status IN ('confirmed', 'checked_in') AND b.status IN ('confirmed', 'checked_in')
 AND tstzrange(a.start_ts, a.end_ts) && tstzrange(b.start_ts, b.end_ts)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="ceiling, search, bookings per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lots", type=int, default=20)
    parser.add_argument("--spaces", type=int, default=50)
    parser.add_argument("--drivers", type=int, default=200)
    parser.add_argument("--db-name", default=DB_NAME, help="PostgreSQL database, emptied by the run")
    parser.add_argument("--redis-db", type=int, default=REDIS_DB, help="Redis database, flushed by the run")
    args = parser.parse_args()
    database_url = db_url(args.db_name)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"

    command = " ".join([Path(sys.executable).name, *sys.argv])
    console.print(
        f"[bold]parking API benchmark[/bold]  cores={os.cpu_count()}  python={platform.python_version()}"
    )
    console.print(f"command: {command}")
    record = Record(
        "parking_api",
        command,
        params=vars(args),
        peers={"ceiling": "benchmarks/ceiling_app.py: bare FastAPI returning a constant, uvicorn, 2 workers"},
    )
    with console.status(f"preparing PostgreSQL database {args.db_name} and Redis db {args.redis_db}"):
        prepare_database(args.db_name, redis_url)
    admin = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "BEIDOU_DATABASE_URL": database_url,
        "BEIDOU_REDIS_URL": redis_url,
        "BEIDOU_ADMIN_TOKEN": admin,
        "BEIDOU_LOG_LEVEL": "WARNING",
    }
    app_port, ceil_port = free_port(), free_port()
    rounds: dict[str, list[dict[str, Any]]] = {"ceiling": [], "search": [], "bookings": []}
    with (
        server(
            [str(BIN / "beidou"), "serve", "--port", str(app_port), "--workers", "2"],
            env,
            app_port,
            "/healthz",
        ) as (base, app_pid),
        server(
            [
                str(BIN / "uvicorn"),
                "benchmarks.ceiling_app:app",
                "--port",
                str(ceil_port),
                "--workers",
                "2",
                "--log-level",
                "warning",
                "--no-access-log",
                "--timeout-worker-healthcheck",  # as beidou serve: workers importing on a busy machine
                "120",
            ],
            env,
            ceil_port,
            "/const",
        ),
    ):
        with console.status(f"seeding {args.lots} lots x {args.spaces} spaces, {args.drivers} drivers"):
            data = seed(base, admin, args.lots, args.spaces, args.drivers)
        cpu = CpuMeter(app_pid, database_url, args.db_name)
        # interleaved: every round runs the three scenarios one after the other, so a disturbance
        # of the machine lands on all of them rather than on one
        for k in range(args.rounds):
            for scenario, port in (("ceiling", ceil_port), ("search", app_port), ("bookings", app_port)):
                with console.status(
                    f"round {k + 1}/{args.rounds} {scenario}: {args.warmup:.0f}+{args.seconds:.0f} s"
                ):
                    meter = cpu if scenario == "bookings" else None
                    rounds[scenario].append(run_load(port, scenario, data, args, meter))
        with console.status("contention: 200 requests for one space and window"):
            race = asyncio.run(contention(base, data))
        with psycopg.connect(database_url) as conn:
            doubles = conn.execute(DOUBLE_BOOKINGS).fetchone()[0]  # type: ignore[index]
            live = conn.execute("SELECT count(*) FROM bookings WHERE status = 'confirmed'").fetchone()[0]  # type: ignore[index]

    rate = {s: Spread.of([r["rate"] for r in rs]) for s, rs in rounds.items()}
    p50 = {s: Spread.of([r["p50_ms"] for r in rs]) for s, rs in rounds.items()}
    p99 = {s: Spread.of([r["p99_ms"] for r in rs]) for s, rs in rounds.items()}
    booked = Spread.of([r["statuses"].get(201, 0) / args.seconds for r in rounds["bookings"]])
    ratio = ratios([r["rate"] for r in rounds["search"]], [r["rate"] for r in rounds["ceiling"]])
    booked_ratio = ratios(
        [r["statuses"].get(201, 0) / args.seconds for r in rounds["bookings"]],
        [r["rate"] for r in rounds["ceiling"]],
    )
    cpu_us = {
        side: Spread.of([r[f"{side}_cpu_us_per_request"] for r in rounds["bookings"]])
        for side in ("api", "postgres")
        if all(f"{side}_cpu_us_per_request" in r for r in rounds["bookings"])
    }
    errors: Counter[int] = Counter()
    for r in rounds["bookings"]:
        errors.update({k: v for k, v in r["statuses"].items() if k not in (201, 409)})

    table = Table(
        title=f"loopback, {args.concurrency} keep-alive connections, {args.rounds} interleaved rounds of "
        f"{args.seconds:.0f} s per scenario: median (min-max)"
    )
    for col in ("scenario", "req/s", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right" if col != "scenario" else "left")
    for s in rounds:
        table.add_row(s, rate[s].fmt(0), p50[s].fmt(1), p99[s].fmt(1))
    console.print(table)
    console.print(f"search / ceiling = {ratio.fmt(3)}   goal >= 0.40: {ratio.verdict(0.40)}")
    console.print(
        f"bookings confirmed/s = {booked.fmt(0)}, other statuses {dict(errors) or 'none'}   "
        f"goal >= {BOOKINGS_GOAL:,}/s: {booked.verdict(BOOKINGS_GOAL)}"
    )
    console.print(
        f"bookings confirmed / ceiling = {booked_ratio.fmt(3)} (the figure the machine's load moves least)"
    )
    if len(cpu_us) == 2:
        console.print(
            f"CPU per booking request: API workers {cpu_us['api'].fmt(0)} us, "
            f"PostgreSQL backends {cpu_us['postgres'].fmt(0)} us"
        )
    console.print(f"double bookings in the database = {doubles} (of {live} live bookings)   (goal 0)")
    console.print(f"contention, 200 racers for one space: {dict(race)}   (goal exactly one 201)")
    record.rounds = rounds
    record.summary = {
        "rate": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "search_over_ceiling": ratio,
        "bookings_per_s": booked,
        "bookings_over_ceiling": booked_ratio,
        "cpu_us_per_booking_request": cpu_us,
        "double_bookings": doubles,
        "live_bookings": live,
        "contention": dict(race),
    }
    console.print(f"every round: {record.save()}")


if __name__ == "__main__":
    main()
