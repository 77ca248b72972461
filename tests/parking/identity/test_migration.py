"""Migrations 0004 (gate and money) and 0005 (district admin) on a database that already holds
data, on both backends: the upgrade keeps every row (existing operators become active), the
downgrade drops only their columns and tables, and the upgrade runs again. On SQLite the downgrade must not copy ``operators`` (a copy drops the table
under enforced foreign keys: refused for devices and lots, cascaded to NTRIP accounts)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import migrate
from tests.support import IN_CI, PG_URL

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
OP, LOT, DEVICE, DRIVER, RECEIVER, MOUNT = (uuid.uuid4() for _ in range(6))
TABLES = ("operators", "lots", "devices", "drivers", "vehicle_receivers", "ntrip_mounts")


def _sync(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.sqlite3'}"
        return
    base, _, name = PG_URL.rpartition("/")
    scratch = f"{name}_migration_0004_0005"
    try:
        admin = sa.create_engine(f"{base}/postgres".replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{scratch}"'))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"CI must run the PostgreSQL backend: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield f"{base}/{scratch}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
    admin.dispose()


def _rows(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _columns(engine: sa.Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def _fill(engine: sa.Engine) -> None:
    def t(name: str, *cols: tuple[str, sa.types.TypeEngine[object]]) -> sa.TableClause:
        return sa.table(name, *(sa.column(c, ty) for c, ty in cols))

    u, s, d = sa.Uuid(), sa.String(), sa.DateTime(timezone=True)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t("operators", ("id", u), ("name", s), ("token_hash", s), ("created_at", d))),
            {"id": OP, "name": "Op", "token_hash": "a" * 64, "created_at": NOW},
        )
        lot = t(
            "lots",
            ("id", u),
            ("operator_id", u),
            ("name", s),
            ("kind", s),
            ("lat", sa.Float()),
            ("lon", sa.Float()),
            ("capacity", sa.Integer()),
            ("tariff", sa.JSON()),
            ("entrances", sa.Integer()),
            ("entrance_service_rate_per_min", sa.Float()),
            ("created_at", d),
        )
        conn.execute(
            sa.insert(lot),
            {
                "id": LOT,
                "operator_id": OP,
                "name": "L",
                "kind": "garage",
                "lat": 31.3,
                "lon": 121.5,
                "capacity": 5,
                "tariff": {},
                "entrances": 1,
                "entrance_service_rate_per_min": 6.0,
                "created_at": NOW,
            },
        )
        device = t(
            "devices",
            ("id", u),
            ("operator_id", u),
            ("lot_id", u),
            ("kind", s),
            ("name", s),
            ("token_hash", s),
            ("created_at", d),
        )
        conn.execute(
            sa.insert(device),
            {
                "id": DEVICE,
                "operator_id": OP,
                "lot_id": LOT,
                "kind": "anpr_camera",
                "name": "c",
                "token_hash": "b" * 64,
                "created_at": NOW,
            },
        )
        conn.execute(
            sa.insert(
                t("drivers", ("id", u), ("name", s), ("phone", s), ("token_hash", s), ("created_at", d))
            ),
            {"id": DRIVER, "name": "D", "phone": "+86 138", "token_hash": "c" * 64, "created_at": NOW},
        )
        receiver = t(
            "vehicle_receivers",
            ("id", u),
            ("driver_id", u),
            ("plate", s),
            ("name", s),
            ("token_hash", s),
            ("created_at", d),
        )
        conn.execute(
            sa.insert(receiver),
            {
                "id": RECEIVER,
                "driver_id": DRIVER,
                "plate": "沪A12345",
                "name": "car",
                "token_hash": "d" * 64,
                "created_at": NOW,
            },
        )
        mount = t(
            "ntrip_mounts",
            ("id", u),
            ("name", s),
            ("source_password_hash", s),
            ("operator_id", u),
            ("identifier", s),
            ("created_at", d),
        )
        conn.execute(
            sa.insert(mount),
            {
                "id": MOUNT,
                "name": "M",
                "source_password_hash": "x",
                "operator_id": OP,
                "identifier": "i",
                "created_at": NOW,
            },
        )


def test_0004_and_0005_upgrade_and_downgrade_a_populated_database(empty_database: str) -> None:
    url = empty_database
    migrate.upgrade(url, "0003")
    engine = _sync(url)
    try:
        _fill(engine)
        before = _rows(engine)
        assert set(before.values()) == {1}

        migrate.upgrade(url, "0005")
        assert _rows(engine) == before
        assert {"status", "suspended_at"} <= _columns(engine, "operators")
        assert {"rejected_future", "last_seen_at"} <= _columns(engine, "devices")
        with engine.connect() as conn:
            status, suspended_at = conn.execute(sa.text("SELECT status, suspended_at FROM operators")).one()
            assert (status, suspended_at) == ("active", None)  # operators already there are active
            for table in ("devices", "vehicle_receivers"):
                assert conn.execute(sa.text(f"SELECT last_seen_at FROM {table}")).scalar_one() is None

        migrate.downgrade(url, "0003")
        assert _rows(engine) == before  # nothing refused, nothing cascaded
        assert not {"status", "suspended_at"} & _columns(engine, "operators")
        assert "last_seen_at" not in _columns(engine, "devices") | _columns(engine, "vehicle_receivers")
        assert "rejected_future" not in _columns(engine, "devices")

        migrate.upgrade(url, "head")
        assert _rows(engine) == before
    finally:
        engine.dispose()
