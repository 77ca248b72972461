"""Every query of the events room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import try_insert
from parking.events.models import AnprEvent, Flag, OccupancyEvent
from parking.events.schemas import Direction


async def insert_event(session: AsyncSession, row: AnprEvent | OccupancyEvent) -> bool:
    """False when the event id was stored by a concurrent delivery first."""
    return await try_insert(session, row)


async def add_flags(session: AsyncSession, flags: Sequence[Flag]) -> None:
    session.add_all(flags)
    await session.flush()


async def anpr_event(session: AsyncSession, lot_id: uuid.UUID, event_id: str) -> AnprEvent | None:
    return await session.scalar(
        select(AnprEvent).where(AnprEvent.lot_id == lot_id, AnprEvent.event_id == event_id)
    )


async def occupancy_event(session: AsyncSession, lot_id: uuid.UUID, event_id: str) -> OccupancyEvent | None:
    return await session.scalar(
        select(OccupancyEvent).where(OccupancyEvent.lot_id == lot_id, OccupancyEvent.event_id == event_id)
    )


async def count_entries(session: AsyncSession, lot_id: uuid.UUID, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(AnprEvent)
        .where(AnprEvent.lot_id == lot_id, AnprEvent.direction == Direction.IN, AnprEvent.ts >= since)
    )
    return int(count or 0)


async def anpr_events_between(
    session: AsyncSession, lot_id: uuid.UUID, start: datetime, end: datetime
) -> Sequence[AnprEvent]:
    result = await session.scalars(
        select(AnprEvent).where(AnprEvent.lot_id == lot_id, AnprEvent.ts >= start, AnprEvent.ts < end)
    )
    return result.all()


async def occupancy_events_until(
    session: AsyncSession, lot_id: uuid.UUID, end: datetime
) -> Sequence[OccupancyEvent]:
    result = await session.scalars(
        select(OccupancyEvent)
        .where(OccupancyEvent.lot_id == lot_id, OccupancyEvent.ts < end)
        .order_by(OccupancyEvent.ts)
    )
    return result.all()


async def purgeable_anpr_events(session: AsyncSession, before: datetime) -> Sequence[AnprEvent]:
    result = await session.scalars(
        select(AnprEvent).where(AnprEvent.plate.is_not(None), AnprEvent.ts < before)
    )
    return result.all()


async def flags_of_lots(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], *, unresolved_only: bool, limit: int
) -> Sequence[Flag]:
    query = select(Flag).where(Flag.lot_id.in_(lot_ids))
    if unresolved_only:
        query = query.where(Flag.resolved_at.is_(None))
    result = await session.scalars(query.order_by(Flag.created_at.desc()).limit(limit))
    return result.all()


async def get_flag(session: AsyncSession, flag_id: uuid.UUID) -> Flag | None:
    return await session.get(Flag, flag_id)


async def anpr_events_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AnprEvent]:
    if not ids:
        return {}
    rows = await session.scalars(select(AnprEvent).where(AnprEvent.id.in_(ids)))
    return {row.id: row for row in rows}


async def recent_anpr_events(session: AsyncSession, lot_id: uuid.UUID, limit: int) -> Sequence[AnprEvent]:
    query = select(AnprEvent).where(AnprEvent.lot_id == lot_id).order_by(AnprEvent.ts.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def recent_occupancy_events(
    session: AsyncSession, lot_id: uuid.UUID, limit: int
) -> Sequence[OccupancyEvent]:
    query = (
        select(OccupancyEvent)
        .where(OccupancyEvent.lot_id == lot_id)
        .order_by(OccupancyEvent.ts.desc())
        .limit(limit)
    )
    return (await session.scalars(query)).all()
