"""One unit of work: a session, one clock reading, commit before anyone is told it worked.

Shared by every entry point (HTTP requests, the receivers' TCP listener, MQTT): the data is
committed before the caller hears success, then the live availability of the lots the work
touched is refreshed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import is_connection_error
from core.errors import Unavailable
from core.settings import Settings
from parking.availability import LiveAvailability
from parking.context import Ctx


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, live: LiveAvailability
) -> AsyncIterator[Ctx]:
    db = sessionmaker()
    try:
        ctx = Ctx(db=db, settings=settings)
        try:
            yield ctx
            if db.in_transaction():
                await db.commit()
        except BaseException:
            if db.in_transaction():
                await db.rollback()
            raise
        if ctx.changed_lots:
            await live.refresh(db, sorted(ctx.changed_lots), ctx.now)
            await db.commit()
        if ctx.lots_changed:
            await live.bump_directory()
        for follow_up in ctx.after_commit:
            await follow_up()
    except Exception as exc:
        if is_connection_error(exc):
            raise Unavailable("the database is unavailable; retry shortly") from exc
        raise
    finally:
        # A request served from memory and the live store never touched the database: skip the
        # (greenlet-hopping) close of a session that holds nothing.
        if db.in_transaction() or db.sync_session.identity_map:
            await db.close()
