"""Test fixtures: the same suite on PostgreSQL + Redis (the real servers) and on SQLite + the
in-process store. Schemas come from ``alembic upgrade head``; every test starts from empty tables.

Tests commit for real (no wrapping transaction): the booking race and the duplicate-event tests
are about what concurrent transactions do, which a rolled-back outer transaction would hide.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from sqlalchemy import MetaData, create_engine, text

from api.app import create_app
from core import migrate
from core.settings import Settings
from maas.network import import_network
from tests.support import ADMIN_TOKEN, IN_CI, PG_URL, REDIS_URL, Client


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgres"


def _unreachable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run the PostgreSQL + Redis backend: {why}", pytrace=False)
    pytest.skip(f"PostgreSQL/Redis not reachable: {why}")


def _reset_postgres(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "beidou.sqlite3"
        chosen = Backend("sqlite", f"sqlite:///{path}", None)
    else:
        try:
            _reset_postgres(PG_URL)
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except Exception as exc:  # connection refused, auth, ...
            _unreachable(f"{type(exc).__name__}: {exc}")
        chosen = Backend("postgres", PG_URL, REDIS_URL)
    migrate.upgrade(chosen.database_url)
    return chosen


def _tables(engine: Any) -> list[str]:
    """The schema's tables as the migrations made them, children first (Alembic's own excepted)."""
    meta = MetaData()
    meta.reflect(engine)
    return [t.name for t in reversed(meta.sorted_tables) if t.name != "alembic_version"]


def _wipe(backend: Backend) -> None:
    if backend.is_postgres:
        engine = create_engine(backend.database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(_tables(conn))} CASCADE"))
        engine.dispose()
        assert backend.redis_url is not None
        redis.Redis.from_url(backend.redis_url).flushdb()
    else:
        engine = create_engine(backend.database_url)
        with engine.begin() as conn:
            for table in _tables(conn):
                conn.execute(text(f"DELETE FROM {table}"))
        engine.dispose()


def settings_for(backend: Backend, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": backend.database_url,
        "redis_url": backend.redis_url,
        "admin_token": ADMIN_TOKEN,
        "log_level": "WARNING",
        "plate_hash_key": "test-plate-key",
        "payment_sandbox": True,
        "payment_sandbox_secret": "test-sandbox-secret",
    }
    values.update(overrides)
    return Settings(**values)


MOBILITY = Path(__file__).resolve().parent / "data" / "mobility"


@pytest.fixture(scope="session")
def maas_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Terre Haute network, imported once per run: every app of the suite serves it, so no
    test depends on what a developer imported into ./var."""
    where = tmp_path_factory.mktemp("maas")
    import_network(where, MOBILITY / "terre-haute-gtfs.zip", MOBILITY / "terre-haute.osm.pbf")
    return where


@pytest.fixture
async def make_client(backend: Backend, maas_dir: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start an app on the backend (with setting overrides) and give an httpx client to it."""
    _wipe(backend)
    stack: list[tuple[Any, httpx.AsyncClient]] = []

    async def start(
        *, fast_paths: bool = True, background_tasks: bool = False, ocpp: bool = False, **overrides: Any
    ) -> Client:
        overrides.setdefault("maas_dir", maas_dir)
        if ocpp:  # the OCPP central system on a port of its own (parallel runs never collide)
            overrides.setdefault("ocpp_port", _free_port())
        app = create_app(
            settings_for(backend, **overrides),
            background_tasks=background_tasks,
            fast_paths=fast_paths,
            ocpp=ocpp,
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        stack.append((lifespan, http))
        return Client(http, app)

    yield start
    for lifespan, http in reversed(stack):
        await http.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> Client:
    return await make_client()  # type: ignore[no-any-return]


@dataclass
class LiveServer:
    url: str
    app: Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(backend: Backend, maas_dir: Path) -> Iterator[LiveServer]:
    """A real uvicorn server on loopback in a thread of its own (for SSE and sync HTTP clients)."""
    _wipe(backend)
    app = create_app(settings_for(backend, maas_dir=maas_dir), background_tasks=False)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=20)
