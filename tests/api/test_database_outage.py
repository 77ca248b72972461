"""PostgreSQL going away: requests get 503 problem+json (never a hang or a 500) and succeed again
once it is back; nothing answered 2xx is lost. The outage is made by cutting a TCP proxy between
the service and the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.app import create_app
from core import migrate
from tests.support import ADMIN_TOKEN, IN_CI, PG_URL, Actor, Client, now_utc


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, upstream_port: int = 5432) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()


@pytest.fixture
def postgres_ready() -> None:
    """The real PostgreSQL, migrated and emptied (sync: Alembic runs its own event loop)."""
    try:
        migrate.upgrade(PG_URL)
        engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE operators, drivers CASCADE"))
        engine.dispose()
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI must reach PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")


@pytest.fixture
async def proxied_client(postgres_ready: None) -> AsyncIterator[tuple[Client, CuttableProxy]]:
    proxy = CuttableProxy()
    await proxy.start()
    from core.settings import Settings

    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    app = create_app(
        Settings(database_url=url, redis_url=None, admin_token=ADMIN_TOKEN, log_level="ERROR"),
        background_tasks=False,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=30) as http,
    ):
        yield Client(http, app), proxy
    with contextlib.suppress(Exception):
        await proxy.cut()


async def test_database_outage_gives_503_then_recovers(proxied_client: tuple[Client, CuttableProxy]) -> None:
    client, proxy = proxied_client
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=10)
    cam: Actor = await client.device(op, lot["id"])
    accepted = []
    r = await client.anpr(cam, "沪A00001", "in", now_utc() - timedelta(minutes=5), "before")
    assert r.status_code == 201
    accepted.append("before")

    await proxy.cut()
    attempts: list[httpx.Response] = []
    for i in range(3):
        attempts.append(await client.anpr(cam, f"沪A0000{i + 2}", "in", now_utc(), f"during-{i}"))
    attempts.append(await client.http.get(f"/v1/operator/lots/{lot['id']}", headers=op.h))
    for response in attempts:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] == "1"
    ready = await client.http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"] == "unavailable"

    await proxy.restore()
    for i in range(3):  # the devices retry what got 503; now it lands
        r = await client.anpr(cam, f"沪A0000{i + 2}", "in", now_utc(), f"during-{i}")
        assert r.status_code == 201, r.text
        accepted.append(f"during-{i}")
    sessions = (await client.http.get("/v1/operator/sessions", headers=op.h)).json()
    assert len(sessions) == len(accepted) == 4
    assert (await client.http.get("/readyz")).status_code == 200


async def test_bookings_get_503_during_an_outage_then_land(
    proxied_client: tuple[Client, CuttableProxy],
) -> None:
    """The one-statement booking (its own connections to PostgreSQL, through the proxy too): 503
    problem+json while the database is away, the retry with the same Idempotency-Key lands once
    it is back, and every booking answered 2xx is in the database."""
    client, proxy = proxied_client
    op = await client.operator()
    lot = await client.lot(op, spaces=2)
    drv = await client.driver("沪A00001")
    assert (await client.http.get("/v1/me", headers=drv.h)).status_code == 200  # a cached token
    start = now_utc() + timedelta(days=2)

    async def book(key: str, hours: int) -> httpx.Response:
        body = {
            "lot_id": lot["id"],
            "plate": "沪A00001",
            "start": (start + timedelta(hours=hours)).isoformat(),
            "end": (start + timedelta(hours=hours + 1)).isoformat(),
        }
        return await client.http.post("/v1/bookings", json=body, headers={**drv.h, "Idempotency-Key": key})

    before = await book("before", 0)
    assert before.status_code == 201, before.text
    autocommit = client.app.state.beidou.autocommit
    assert autocommit is not None and autocommit.statements >= 1  # the one-statement path served it

    await proxy.cut()
    for _ in range(3):
        during = await book("during", 1)
        assert during.status_code == 503, during.text
        assert during.headers["content-type"].startswith("application/problem+json")
        assert during.headers["retry-after"] == "1"
        assert during.json()["code"] == "unavailable"

    await proxy.restore()
    landed = await book("during", 1)
    assert landed.status_code == 201, landed.text
    replay = await book("during", 1)  # the client's retry after a lost answer: the same booking
    assert replay.status_code == 200 and replay.json()["id"] == landed.json()["id"]
    mine = (await client.http.get("/v1/me/bookings", headers=drv.h)).json()
    assert sorted(b["id"] for b in mine) == sorted([before.json()["id"], landed.json()["id"]])
