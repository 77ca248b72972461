"""Every query of the bookings room (free spaces for a window join the lots room's spaces)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Autocommit, insert_unless_conflict
from parking.bookings.models import Booking
from parking.bookings.schemas import LIVE_BOOKING, BookingStatus
from parking.lots.models import Space


async def insert_booking(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when the database refused it: the exclusion constraint (a concurrent booking of the
    space won) or the driver's idempotency key."""
    return await insert_unless_conflict(session, Booking, values)


BOOK_IN_ONE_STATEMENT = "SELECT * FROM beidou_book({})".format(", ".join(f"${i}" for i in range(1, 19)))


async def book_in_one_statement(
    db: Autocommit,
    values: dict[str, Any],
    *,
    space_kind: str | None,
    window_problem: str | None,
    starts_now: bool,
    fallback_kinds: Sequence[str],
    tariff_md5: str | None,
    rounds: int,
    candidates: int,
) -> Mapping[str, Any]:
    """``beidou_book`` (migration 0007_booking_fastpath): the whole booking in one round trip,
    committed when it answers. ``values`` are the row's, ``space_id`` the one asked for (or
    None); the answer's ``o_outcome`` says what happened (the migration lists them)."""
    row = await db.fetchrow(
        BOOK_IN_ONE_STATEMENT,
        values["id"],
        values["driver_id"],
        values["lot_id"],
        values["space_id"],
        space_kind,
        values["plate"],
        values["start_ts"],
        values["end_ts"],
        values["idempotency_key"],
        values["idempotency_fingerprint"],
        values["created_at"],
        window_problem,
        starts_now,
        list(fallback_kinds),
        tariff_md5,
        values["price_fen"],
        rounds,
        candidates,
    )
    assert row is not None  # a function with OUT parameters answers one row
    return row


async def get_booking(session: AsyncSession, booking_id: uuid.UUID) -> Booking | None:
    return await session.get(Booking, booking_id)


async def booking_by_key(session: AsyncSession, driver_id: uuid.UUID, key: str) -> Booking | None:
    return await session.scalar(
        select(Booking).where(Booking.driver_id == driver_id, Booking.idempotency_key == key)
    )


async def live_bookings_overlapping(
    session: AsyncSession, lot_id: uuid.UUID, start: datetime, end: datetime
) -> Sequence[Booking]:
    result = await session.scalars(
        select(Booking).where(
            Booking.lot_id == lot_id,
            Booking.status.in_(LIVE_BOOKING),
            Booking.start_ts < end,
            Booking.end_ts > start,
        )
    )
    return result.all()


async def bookings_of_driver(session: AsyncSession, driver_id: uuid.UUID, limit: int) -> Sequence[Booking]:
    result = await session.scalars(
        select(Booking).where(Booking.driver_id == driver_id).order_by(Booking.start_ts.desc()).limit(limit)
    )
    return result.all()


async def bookings_of_lots(
    session: AsyncSession,
    lot_ids: Sequence[uuid.UUID] | None,
    *,
    status: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> Sequence[Booking]:
    """Bookings at these lots (None: every lot) overlapping ``[start, end)`` when given, latest
    start first."""
    query = select(Booking)
    if lot_ids is not None:
        query = query.where(Booking.lot_id.in_(lot_ids))
    if status is not None:
        query = query.where(Booking.status == status)
    if start is not None and end is not None:
        query = query.where(Booking.start_ts < end, Booking.end_ts > start)
    result = await session.scalars(query.order_by(Booking.start_ts.desc(), Booking.id).limit(limit))
    return result.all()


async def free_spaces_for(
    session: AsyncSession,
    lot_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    kind: str | None,
    skip_occupied: bool,
    limit: int | None,
) -> Sequence[Space]:
    """Bookable spaces of a lot with no live booking overlapping ``[start, end)``, in code order."""
    overlapping = (
        select(Booking.id)
        .where(
            Booking.space_id == Space.id,
            Booking.status.in_(LIVE_BOOKING),
            Booking.start_ts < end,
            Booking.end_ts > start,
        )
        .exists()
    )
    query = select(Space).where(
        Space.lot_id == lot_id, Space.bookable.is_(True), Space.out_of_service.is_(False), ~overlapping
    )
    if kind is not None:
        query = query.where(Space.kind == kind)
    if skip_occupied:
        query = query.where(Space.occupied.is_(False))
    query = query.order_by(Space.code)
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def checkin_candidate(
    session: AsyncSession,
    lot_id: uuid.UUID,
    plate: str,
    earliest_start: datetime,
    latest_start: datetime,
    *,
    space_id: uuid.UUID | None = None,
) -> Booking | None:
    """A confirmed booking of this plate (at this lot, or on this space) whose start lies in
    ``[earliest_start, latest_start]``: the one an arrival checks in."""
    query = select(Booking).where(
        Booking.lot_id == lot_id,
        Booking.plate == plate,
        Booking.status == BookingStatus.CONFIRMED,
        Booking.start_ts >= earliest_start,
        Booking.start_ts <= latest_start,
    )
    if space_id is not None:
        query = query.where(Booking.space_id == space_id)
    return await session.scalar(query.order_by(Booking.start_ts).limit(1))


async def overdue_bookings(session: AsyncSession, start_before: datetime) -> Sequence[Booking]:
    result = await session.scalars(
        select(Booking)
        .where(Booking.status == BookingStatus.CONFIRMED, Booking.start_ts < start_before)
        .with_for_update(skip_locked=True)
    )
    return result.all()


async def bookings_ended_unused_between(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> Sequence[Booking]:
    """Bookings cancelled, or expired as no-shows, within the window (``cancelled_at``)."""
    result = await session.scalars(
        select(Booking).where(
            Booking.lot_id.in_(lot_ids),
            Booking.status.in_((BookingStatus.CANCELLED, BookingStatus.NO_SHOW)),
            Booking.cancelled_at >= start,
            Booking.cancelled_at < end,
        )
    )
    return result.all()


async def purgeable_bookings(session: AsyncSession, before: datetime) -> Sequence[Booking]:
    result = await session.scalars(
        select(Booking).where(
            Booking.plate.is_not(None),
            Booking.end_ts < before,
            Booking.status.not_in(LIVE_BOOKING),
        )
    )
    return result.all()


async def live_booking_of_plate(
    session: AsyncSession, lot_id: uuid.UUID, plate: str, earliest_start: datetime, at: datetime
) -> Booking | None:
    """The plate's live booking at the lot that has started by ``earliest_start`` (the check-in
    allowance before its start) and not ended at ``at``: the car a charger sees is booked."""
    return await session.scalar(
        select(Booking)
        .where(
            Booking.lot_id == lot_id,
            Booking.plate == plate,
            Booking.status.in_(LIVE_BOOKING),
            Booking.start_ts <= earliest_start,
            Booking.end_ts > at,
        )
        .order_by(Booking.start_ts)
        .limit(1)
    )
