"""Every query of the sessions room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import try_insert
from parking.sessions.models import ParkingSession, Payment
from parking.sessions.schemas import PaymentStatus, SessionStatus


async def insert(session: AsyncSession, row: ParkingSession | Payment) -> bool:
    """False when a constraint refused it: an open session of the plate, a payment of the key,
    opened or recorded by a concurrent request first."""
    return await try_insert(session, row)


async def add(session: AsyncSession, row: ParkingSession) -> None:
    session.add(row)
    await session.flush()


async def open_session(session: AsyncSession, lot_id: uuid.UUID, plate_hash: str) -> ParkingSession | None:
    return await session.scalar(
        select(ParkingSession).where(
            ParkingSession.lot_id == lot_id,
            ParkingSession.plate_hash == plate_hash,
            ParkingSession.status == SessionStatus.OPEN,
        )
    )


async def get_session(session: AsyncSession, session_id: uuid.UUID) -> ParkingSession | None:
    return await session.get(ParkingSession, session_id)


async def count_open_sessions(session: AsyncSession, lot_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ParkingSession)
        .where(ParkingSession.lot_id == lot_id, ParkingSession.status == SessionStatus.OPEN)
    )
    return int(count or 0)


async def sessions_of_plates(
    session: AsyncSession, plates: Sequence[str], limit: int
) -> Sequence[ParkingSession]:
    if not plates:
        return []
    result = await session.scalars(
        select(ParkingSession)
        .where(ParkingSession.plate.in_(plates))
        .order_by(ParkingSession.created_at.desc())
        .limit(limit)
    )
    return result.all()


async def sessions_of_lots(
    session: AsyncSession,
    lot_ids: Sequence[uuid.UUID],
    *,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> Sequence[ParkingSession]:
    query = select(ParkingSession).where(ParkingSession.lot_id.in_(lot_ids))
    if status is not None:
        query = query.where(ParkingSession.status == status)
    if since is not None:
        query = query.where(ParkingSession.created_at >= since)
    if until is not None:
        query = query.where(ParkingSession.created_at < until)
    result = await session.scalars(query.order_by(ParkingSession.created_at.desc()).limit(limit))
    return result.all()


async def sessions_overlapping(
    session: AsyncSession, lot_id: uuid.UUID, start: datetime, end: datetime
) -> Sequence[ParkingSession]:
    result = await session.scalars(
        select(ParkingSession).where(
            ParkingSession.lot_id == lot_id,
            ParkingSession.entry_ts.is_not(None),
            ParkingSession.entry_ts < end,
            or_(ParkingSession.exit_ts.is_(None), ParkingSession.exit_ts > start),
        )
    )
    return result.all()


async def purgeable_sessions(session: AsyncSession, before: datetime) -> Sequence[ParkingSession]:
    result = await session.scalars(
        select(ParkingSession).where(
            ParkingSession.status == SessionStatus.CLOSED,
            ParkingSession.plate.is_not(None),
            ParkingSession.exit_ts < before,
        )
    )
    return result.all()


async def payment_by_key(session: AsyncSession, session_id: uuid.UUID, key: str) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.session_id == session_id, Payment.idempotency_key == key)
    )


async def payment_by_ref(
    session: AsyncSession, provider: str, provider_ref: str, *, lock: bool = False
) -> Payment | None:
    query = select(Payment).where(Payment.provider == provider, Payment.provider_ref == provider_ref)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def payments_settled_between(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> Sequence[Payment]:
    result = await session.scalars(
        select(Payment).where(
            Payment.lot_id.in_(lot_ids),
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.settled_at >= start,
            Payment.settled_at < end,
        )
    )
    return result.all()
