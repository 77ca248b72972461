"""The schema Alembic builds is the schema the models describe, and every migration steps down
and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

import parking.bookings.models
import parking.charging.models
import parking.events.models
import parking.identity.models
import parking.lots.models
import parking.ntrip.models
import parking.sessions.models
import parking.tracks.models  # noqa: F401  (the rooms' tables, as migrations/env.py sees them)
from core import migrate
from core.db import Base
from tests.conftest import _reset_postgres
from tests.support import PG_URL


def _sync_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _drift(url: str) -> list[object]:
    engine = create_engine(_sync_url(url))
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    return list(diffs)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.sqlite3'}"
    base, _, name = PG_URL.rpartition("/")
    scratch = f"{name}_migrations"  # beside the suite's database, so parallel checkouts differ
    url = f"{base}/{scratch}"
    admin = create_engine(_sync_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": scratch}):
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    admin.dispose()
    _reset_postgres(url)
    return url


def test_migrations_build_the_models_schema_and_step_down_and_up(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert _drift(empty_database) == []
    migrate.downgrade(empty_database, "0003")  # the last step down and up again keeps the data model
    migrate.upgrade(empty_database)
    assert _drift(empty_database) == []
    migrate.downgrade(empty_database, "base")
    engine = create_engine(_sync_url(empty_database))
    with engine.connect() as conn:
        tables = MigrationContext.configure(conn).impl.dialect.get_table_names(conn)
    engine.dispose()
    assert set(tables) <= {"alembic_version"}
