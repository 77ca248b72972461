"""Alembic environment: the only place that imports every ORM model.

The URL comes from ``BEIDOU_DATABASE_URL`` (or ``-x url=...`` / the config's ``sqlalchemy.url``
set by ``core.migrate``), mapped to the async driver like the app does.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

# every room's tables on Base.metadata
import parking.bookings.models
import parking.charging.models
import parking.events.models
import parking.identity.models
import parking.lots.models
import parking.ntrip.models
import parking.sessions.models
import parking.tracks.models  # noqa: F401
from core.db import Base, make_engine
from core.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_url(), pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
