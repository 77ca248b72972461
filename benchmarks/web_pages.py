"""How fast the pages answer with a district of 500 lots and 20,000 spaces.

A district is seeded through the services (500 lots of 40 sensed spaces around Yangpu, every
tenth lot sharing its spaces off-peak, with 2,000 sensor readings so counts differ), into an
embedded SQLite file (default) or a PostgreSQL database (``--pg``, ``--redis``). Then the pages
are fetched through the app in this process (httpx's ASGI transport: no socket, so the figures
are the app's own time: services, rendering, serialisation), signed in as the district admin
where a page needs it:

- ``/`` the public map (every lot's card, tariff, shared windows, the map's JSON);
- ``/console`` the admin's district map (the same 500 lots);
- ``/console/lots/{id}`` one lot page (spaces grid, last events, today's bookings and stays);
- ``/console/flags``, ``/console/reports`` (14 days of revenue over 500 lots + one lot's hours);
- ``/console/admin/district`` (every lot's live counts, 14 days of revenue) and the hourly
  district occupancy it loads afterwards (24 buckets of every lot's history, ``/v1/admin/occupancy``).

(The live streams' first event is the same ``lot_cards`` call as ``/``; the ASGI transport
cannot read an endless stream, so it is not timed here.)

Rounds interleave the pages (A B C ... A B C ...); each figure is the median of the rounds'
medians with its range. Every round goes to var/bench/web_pages.json.

Run: .venv/bin/python benchmarks/web_pages.py [--lots 500] [--spaces 40] [--rounds 5] [--requests 10]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: our packages, not benchmarks/maas.py

from api.app import create_app  # noqa: E402
from benchmarks._harness import Record, Spread  # noqa: E402
from core import migrate  # noqa: E402
from core.db import make_engine, make_sessionmaker  # noqa: E402
from core.settings import Settings  # noqa: E402
from parking.demo import CENTRE_TARIFF, SHARED_WINDOWS, STREET_TARIFF  # noqa: E402
from parking.events import service as events  # noqa: E402
from parking.events.schemas import OccupancyEventIn  # noqa: E402
from parking.identity import service as identity  # noqa: E402
from parking.identity.access import ADMIN, Principal  # noqa: E402
from parking.identity.schemas import Role  # noqa: E402
from parking.lots import service as lots  # noqa: E402
from parking.lots.schemas import LotIn, LotKind, SpaceIn  # noqa: E402
from parking.unit import transaction  # noqa: E402

console = Console()
ADMIN_TOKEN = "bench-admin-token-0123456789"
CENTRE = (31.2900, 121.5150)


async def seed(settings: Settings, n_lots: int, n_spaces: int) -> list[str]:
    """The district through the services (as ``beidou demo load`` builds its own)."""
    engine = make_engine(settings.database_url)
    ids: list[str] = []
    try:
        maker = make_sessionmaker(engine)
        async with transaction(maker, settings) as ctx:
            op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Bench operator")).id)
        for i in range(n_lots):
            async with transaction(maker, settings) as ctx:
                row, col = divmod(i, 25)
                lat, lon = CENTRE[0] + (row - 10) * 0.003, CENTRE[1] + (col - 12) * 0.003
                lot = await lots.create_lot(
                    ctx,
                    op,
                    LotIn(
                        name=f"Lot {i:03d}",
                        lat=lat,
                        lon=lon,
                        kind=LotKind.SURFACE if i % 10 else LotKind.RESIDENTIAL_SHARED,
                        capacity=n_spaces,
                        tariff=CENTRE_TARIFF if i % 2 else STREET_TARIFF,
                        address=f"Bench street {i}",
                    ),
                )
                spaces = await lots.add_spaces(
                    ctx,
                    op,
                    lot.id,
                    [SpaceIn(code=f"S{k:03d}", lat=lat + k * 1e-5, lon=lon) for k in range(n_spaces)],
                )
                if i % 10 == 0:
                    for space in spaces:
                        await lots.set_shared_windows(ctx, op, space.id, SHARED_WINDOWS)
                for k in range(i % 5):  # 0-4 readings per lot: 2,000 over 500 lots
                    await events.ingest_occupancy(
                        ctx,
                        lot.id,
                        None,
                        OccupancyEventIn(
                            event_id=f"b{i}-{k}",
                            space_code=spaces[k].code,
                            occupied=True,
                            ts=ctx.now - timedelta(minutes=5),
                        ),
                    )
                ids.append(str(lot.id))
    finally:
        await engine.dispose()
    return ids


async def existing(settings: Settings) -> list[str]:
    engine = make_engine(settings.database_url)
    try:
        async with transaction(make_sessionmaker(engine), settings) as ctx:
            return [str(lot.id) for lot in await lots.all_lots(ctx)]
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="web-bench-"))
    sqlite = Path(args.sqlite) if args.sqlite else workdir / "bench.sqlite3"
    reuse = args.pg is None and sqlite.exists()  # a district seeded by an earlier run
    db_url = args.pg or f"sqlite:///{sqlite}"
    settings = Settings(
        database_url=db_url,
        redis_url=args.redis,
        admin_token=ADMIN_TOKEN,
        log_level="WARNING",
        payment_sandbox=True,
        maas_dir=workdir / "maas",
    )
    await asyncio.to_thread(migrate.upgrade, db_url)
    started = time.perf_counter()
    lot_ids = await existing(settings) if reuse else await seed(settings, args.lots, args.spaces)
    seeded_s = time.perf_counter() - started
    console.print(
        f"{'reused' if reuse else 'seeded'} {len(lot_ids)} lots x {args.spaces} spaces in {seeded_s:.1f} s ({db_url.split(':')[0]})"
    )

    app = create_app(settings, background_tasks=False)
    record = Record(
        "web_pages",
        "benchmarks/web_pages.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v),
        params={**vars(args), "database": db_url.split(":")[0], "seeded_s": round(seeded_s, 1)},
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            login = await http.get("/console/login")
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', login.text)
            assert csrf is not None
            r = await http.post("/console/login", data={"token": ADMIN_TOKEN, "csrf": csrf.group(1)})
            assert r.status_code == 303, r.text

            async def page(path: str) -> int:
                r = await http.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                return len(r.content)

            pages: dict[str, Callable[[], Awaitable[int]]] = {
                "/": lambda: page("/"),
                "/console": lambda: page("/console"),
                "/console/lots/{id}": lambda: page(f"/console/lots/{lot_ids[len(lot_ids) // 2]}"),
                "/console/flags": lambda: page("/console/flags"),
                "/console/reports": lambda: page("/console/reports"),
                "/console/admin/district": lambda: page("/console/admin/district"),
                "/console/admin/district/occupancy.json": lambda: page(
                    "/console/admin/district/occupancy.json"
                ),
            }
            sizes: dict[str, int] = {}
            for fetch in pages.values():  # warm-up: template compilation, caches
                await fetch()
            rounds: dict[str, list[float]] = {name: [] for name in pages}
            for _ in range(args.rounds):
                for name, fetch in pages.items():
                    times = []
                    for _ in range(args.requests):
                        t0 = time.perf_counter()
                        sizes[name] = await fetch()
                        times.append((time.perf_counter() - t0) * 1000)
                    rounds[name].append(statistics.median(times))
    table = Table(title=f"pages with {args.lots} lots / {args.lots * args.spaces:,} spaces (ms per request)")
    for column in ("page", "median ms (range of round medians)", "size KiB"):
        table.add_column(column, justify="right" if column != "page" else "left")
    for name, values in rounds.items():
        spread = Spread.of(values)
        record.summary[name] = {"ms": spread, "bytes": sizes[name]}
        table.add_row(name, spread.fmt(1), f"{sizes[name] / 1024:,.0f}")
    record.rounds = rounds
    console.print(table)
    console.print(f"record: {record.save()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lots", type=int, default=500)
    parser.add_argument("--spaces", type=int, default=40, help="spaces per lot")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10, help="requests per page per round")
    parser.add_argument("--sqlite", default=None, help="SQLite file: seeded if missing, reused if present")
    parser.add_argument("--pg", default=None, help="postgresql://... (default: an embedded SQLite file)")
    parser.add_argument("--redis", default=None, help="redis://... (default: the in-process live store)")
    args: Any = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
