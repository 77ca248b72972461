"""Every query of the tracks room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from parking.tracks.models import TrackPoint


async def add_track_points(session: AsyncSession, rows: list[dict[str, object]]) -> list[int]:
    """Insert thinned points; a second already stored for the receiver is kept as it was (one
    point per receiver and second, whoever sends it twice). Returns the qualities of the points
    actually stored."""
    if not rows:
        return []
    insert_ = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert_(TrackPoint).values(rows).on_conflict_do_nothing().returning(TrackPoint.quality)
    return [int(q) for q in (await session.scalars(stmt)).all()]


async def track_between(
    session: AsyncSession, receiver_id: uuid.UUID, start: datetime, end: datetime, limit: int
) -> Sequence[TrackPoint]:
    result = await session.scalars(
        select(TrackPoint)
        .where(TrackPoint.receiver_id == receiver_id, TrackPoint.ts >= start, TrackPoint.ts < end)
        .order_by(TrackPoint.ts)
        .limit(limit)
    )
    return result.all()


async def last_track_point(session: AsyncSession, receiver_id: uuid.UUID) -> TrackPoint | None:
    return await session.scalar(
        select(TrackPoint)
        .where(TrackPoint.receiver_id == receiver_id)
        .order_by(TrackPoint.ts.desc())
        .limit(1)
    )
