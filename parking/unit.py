"""One unit of work: a session, one clock reading, commit before anyone is told it worked.

Shared by every entry point (HTTP requests, the receivers' TCP listener, MQTT, the CLI) and by
every room of the parking domain and the trip planner: the data is committed before the caller
hears success, then the live availability of the lots the work touched is refreshed and the
other follow-ups run.

One clock reading per unit keeps its decisions consistent (a booking checked and priced at the
same instant).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import Autocommit, is_connection_error, utcnow
from core.errors import Unavailable
from core.settings import Settings


@dataclass
class Ctx:
    db: AsyncSession
    settings: Settings
    now: datetime = field(default_factory=utcnow)
    # lots whose live availability must be refreshed once the transaction has committed
    changed_lots: set[uuid.UUID] = field(default_factory=set)
    lots_changed: bool = False  # lot metadata (name, place, tariff...) changed: search caches reload
    # work that must only follow a successful commit (counters of what was stored)
    after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    refunds_queued: bool = False  # refunds were decided: send them to the providers after the commit
    # single statements committed on their own (PostgreSQL; None on SQLite and outside requests):
    # a room may use it for a write that is the unit's only one (see ``one_statement_ok``)
    autocommit: Autocommit | None = None

    @property
    def plate_key(self) -> bytes:
        return self.settings.plate_hash_key.encode()

    def one_statement_ok(self) -> Autocommit | None:
        """The autocommit executor, if a write may go through it: only while the unit's session
        holds no transaction (nothing uncommitted that the statement would have to see or be
        atomic with)."""
        if self.autocommit is None or self.db.in_transaction():
            return None
        return self.autocommit

    async def flush(self) -> None:
        """Send pending changes (constraints are checked now); the commit stays the unit's."""
        await self.db.flush()


class LotRefresher(Protocol):
    """Who keeps the live availability in step (the availability room's ``LiveAvailability``)."""

    async def refresh(self, db: AsyncSession, lot_ids: Sequence[uuid.UUID], now: datetime) -> None: ...
    async def bump_directory(self) -> None: ...


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    live: LotRefresher,
    autocommit: Autocommit | None = None,
) -> AsyncIterator[Ctx]:
    db = sessionmaker()
    try:
        ctx = Ctx(db=db, settings=settings, autocommit=autocommit)
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


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[Ctx]:
    """A unit of work outside requests (CLI, demo load, background jobs): commit on success,
    roll back on error; no live refresh (the serving process rebuilds it)."""
    async with sessionmaker() as db:
        ctx = Ctx(db=db, settings=settings)
        try:
            yield ctx
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
