"""Every query of the sessions room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import try_insert
from parking.sessions.models import ParkingSession, Payment, Receivable, Refund
from parking.sessions.schemas import PaymentStatus, SessionStatus


async def insert(session: AsyncSession, row: ParkingSession | Payment | Receivable | Refund) -> bool:
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


async def purgeable_receivables(session: AsyncSession, before: datetime) -> Sequence[Receivable]:
    """Receivables older than the cut-off still naming a plate (the hash keeps them collectable)."""
    result = await session.scalars(
        select(Receivable).where(Receivable.plate.is_not(None), Receivable.created_at < before)
    )
    return result.all()


async def payment_by_key(
    session: AsyncSession,
    key: str,
    *,
    session_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
) -> Payment | None:
    """The payment an Idempotency-Key made for a stay, or for a booking."""
    query = select(Payment).where(Payment.idempotency_key == key)
    if session_id is not None:
        query = query.where(Payment.session_id == session_id)
    else:
        query = query.where(Payment.booking_id == booking_id)
    return await session.scalar(query)


async def payments_of_booking(session: AsyncSession, booking_id: uuid.UUID) -> Sequence[Payment]:
    result = await session.scalars(
        select(Payment).where(Payment.booking_id == booking_id).order_by(Payment.created_at)
    )
    return result.all()


async def refunds_of_booking(session: AsyncSession, booking_id: uuid.UUID) -> Sequence[Refund]:
    result = await session.scalars(select(Refund).where(Refund.booking_id == booking_id))
    return result.all()


async def refunds_of_payment(session: AsyncSession, payment_id: uuid.UUID) -> Sequence[Refund]:
    result = await session.scalars(select(Refund).where(Refund.payment_id == payment_id))
    return result.all()


async def pending_refunds(session: AsyncSession, limit: int) -> Sequence[Refund]:
    """Refunds decided but not yet accepted by their provider, oldest first, locked for one
    sender (another worker skips them rather than sending twice)."""
    query = (
        select(Refund)
        .where(Refund.status == "pending")
        .order_by(Refund.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def refunds_settled_between(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> Sequence[Refund]:
    result = await session.scalars(
        select(Refund).where(
            Refund.lot_id.in_(lot_ids),
            Refund.status == "succeeded",
            Refund.settled_at >= start,
            Refund.settled_at < end,
        )
    )
    return result.all()


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


async def receivable_of_session(session: AsyncSession, session_id: uuid.UUID) -> Receivable | None:
    return await session.scalar(select(Receivable).where(Receivable.session_id == session_id))


async def receivables(
    session: AsyncSession,
    *,
    lot_ids: Sequence[uuid.UUID] | None = None,
    plate_hashes: Sequence[str] | None = None,
    open_only: bool = False,
    limit: int = 1000,
) -> Sequence[Receivable]:
    query = select(Receivable)
    if lot_ids is not None:
        query = query.where(Receivable.lot_id.in_(lot_ids))
    if plate_hashes is not None:
        query = query.where(Receivable.plate_hash.in_(plate_hashes))
    if open_only:
        query = query.where(Receivable.settled_at.is_(None))
    return (await session.scalars(query.order_by(Receivable.created_at.desc()).limit(limit))).all()


async def receivables_between(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> Sequence[Receivable]:
    """Receivables that exist before the window's end and were not settled before its start:
    those created, settled or still outstanding within it (for reconciliation)."""
    result = await session.scalars(
        select(Receivable).where(
            Receivable.lot_id.in_(lot_ids),
            Receivable.created_at < end,
            or_(Receivable.settled_at.is_(None), Receivable.settled_at >= start),
        )
    )
    return result.all()


async def sessions_closed_between(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> Sequence[ParkingSession]:
    result = await session.scalars(
        select(ParkingSession).where(
            ParkingSession.lot_id.in_(lot_ids),
            ParkingSession.status == SessionStatus.CLOSED,
            ParkingSession.exit_ts >= start,
            ParkingSession.exit_ts < end,
        )
    )
    return result.all()
