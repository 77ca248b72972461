"""Every query of the parking domain. Services call these; nothing else writes SQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from parking.models import (
    AnprEvent,
    Booking,
    Device,
    Driver,
    Flag,
    Lot,
    OccupancyEvent,
    Operator,
    ParkingSession,
    Payment,
    Plate,
    Space,
    TrackPoint,
    VehicleReceiver,
)

LIVE_BOOKING = ("confirmed", "checked_in")

# --- principals -------------------------------------------------------------------------------


async def operator_by_token(session: AsyncSession, digest: str) -> Operator | None:
    return await session.scalar(select(Operator).where(Operator.token_hash == digest))


async def driver_by_token(session: AsyncSession, digest: str) -> Driver | None:
    return await session.scalar(select(Driver).where(Driver.token_hash == digest))


async def device_by_token(session: AsyncSession, digest: str) -> Device | None:
    return await session.scalar(select(Device).where(Device.token_hash == digest))


async def plates_of_driver(session: AsyncSession, driver_id: uuid.UUID) -> Sequence[Plate]:
    result = await session.scalars(
        select(Plate).where(Plate.driver_id == driver_id).order_by(Plate.created_at)
    )
    return result.all()


async def plate_row(session: AsyncSession, plate: str) -> Plate | None:
    return await session.scalar(select(Plate).where(Plate.plate == plate))


async def devices_of_operator(session: AsyncSession, operator_id: uuid.UUID) -> Sequence[Device]:
    result = await session.scalars(
        select(Device).where(Device.operator_id == operator_id).order_by(Device.created_at)
    )
    return result.all()


# --- lots and spaces --------------------------------------------------------------------------


async def get_lot(session: AsyncSession, lot_id: uuid.UUID) -> Lot | None:
    return await session.get(Lot, lot_id)


async def lock_lot(session: AsyncSession, lot_id: uuid.UUID) -> Lot | None:
    """The lot row under ``FOR UPDATE`` (a no-op on SQLite, whose writers are serialised)."""
    return await session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())


async def all_lot_ids(session: AsyncSession) -> Sequence[uuid.UUID]:
    return (await session.scalars(select(Lot.id))).all()


async def lots_of_operator(session: AsyncSession, operator_id: uuid.UUID | None) -> Sequence[Lot]:
    query = select(Lot).order_by(Lot.created_at)
    if operator_id is not None:
        query = query.where(Lot.operator_id == operator_id)
    return (await session.scalars(query)).all()


async def lots_in_box(
    session: AsyncSession, box: tuple[float, float, float, float], kind: str | None
) -> Sequence[Lot]:
    min_lat, max_lat, min_lon, max_lon = box
    query = select(Lot).where(Lot.lat.between(min_lat, max_lat), Lot.lon.between(min_lon, max_lon))
    if kind is not None:
        query = query.where(Lot.kind == kind)
    return (await session.scalars(query)).all()


async def spaces_of_lot(session: AsyncSession, lot_id: uuid.UUID) -> Sequence[Space]:
    result = await session.scalars(select(Space).where(Space.lot_id == lot_id).order_by(Space.code))
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


async def get_space(session: AsyncSession, space_id: uuid.UUID) -> Space | None:
    return await session.get(Space, space_id)


async def space_by_code(session: AsyncSession, lot_id: uuid.UUID, code: str) -> Space | None:
    return await session.scalar(select(Space).where(Space.lot_id == lot_id, Space.code == code))


async def apply_space_state(
    session: AsyncSession, space_id: uuid.UUID, occupied: bool, ts: datetime, source: str
) -> bool:
    """Set the sensed state unless a newer one is already there; one statement, so no lost update."""
    result = await session.execute(
        update(Space)
        .where(Space.id == space_id, or_(Space.state_ts.is_(None), Space.state_ts < ts))
        .values(occupied=occupied, state_ts=ts, state_source=source)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- sessions ---------------------------------------------------------------------------------


async def open_session(session: AsyncSession, lot_id: uuid.UUID, plate_hash: str) -> ParkingSession | None:
    return await session.scalar(
        select(ParkingSession).where(
            ParkingSession.lot_id == lot_id,
            ParkingSession.plate_hash == plate_hash,
            ParkingSession.status == "open",
        )
    )


async def get_session(session: AsyncSession, session_id: uuid.UUID) -> ParkingSession | None:
    return await session.get(ParkingSession, session_id)


async def count_open_sessions(session: AsyncSession, lot_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ParkingSession)
        .where(ParkingSession.lot_id == lot_id, ParkingSession.status == "open")
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
            ParkingSession.status == "closed",
            ParkingSession.plate.is_not(None),
            ParkingSession.exit_ts < before,
        )
    )
    return result.all()


# --- events -----------------------------------------------------------------------------------


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
        .where(AnprEvent.lot_id == lot_id, AnprEvent.direction == "in", AnprEvent.ts >= since)
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


# --- bookings ---------------------------------------------------------------------------------


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


async def checkin_candidate(
    session: AsyncSession,
    lot_id: uuid.UUID,
    plate: str,
    earliest_start: datetime,
    latest_start: datetime,
) -> Booking | None:
    """A confirmed booking of this plate whose check-in window contains the entry."""
    return await session.scalar(
        select(Booking)
        .where(
            Booking.lot_id == lot_id,
            Booking.plate == plate,
            Booking.status == "confirmed",
            Booking.start_ts >= earliest_start,
            Booking.start_ts <= latest_start,
        )
        .order_by(Booking.start_ts)
        .limit(1)
    )


async def overdue_bookings(session: AsyncSession, start_before: datetime) -> Sequence[Booking]:
    result = await session.scalars(
        select(Booking)
        .where(Booking.status == "confirmed", Booking.start_ts < start_before)
        .with_for_update(skip_locked=True)
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


# --- payments ---------------------------------------------------------------------------------


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
            Payment.status == "succeeded",
            Payment.settled_at >= start,
            Payment.settled_at < end,
        )
    )
    return result.all()


# --- flags ------------------------------------------------------------------------------------


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


# --- GNSS receivers and tracks ------------------------------------------------------------------


async def receiver_by_token(session: AsyncSession, digest: str) -> VehicleReceiver | None:
    return await session.scalar(select(VehicleReceiver).where(VehicleReceiver.token_hash == digest))


async def receivers_of_driver(session: AsyncSession, driver_id: uuid.UUID) -> Sequence[VehicleReceiver]:
    result = await session.scalars(
        select(VehicleReceiver)
        .where(VehicleReceiver.driver_id == driver_id)
        .order_by(VehicleReceiver.created_at)
    )
    return result.all()


async def get_receiver(session: AsyncSession, receiver_id: uuid.UUID) -> VehicleReceiver | None:
    return await session.get(VehicleReceiver, receiver_id)


async def get_device(session: AsyncSession, device_id: uuid.UUID) -> Device | None:
    return await session.get(Device, device_id)


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


async def spaces_in_box(session: AsyncSession, box: tuple[float, float, float, float]) -> Sequence[Space]:
    """Spaces with a polygon whose reference point is in the box (any lot): fix-to-space candidates."""
    min_lat, max_lat, min_lon, max_lon = box
    result = await session.scalars(
        select(Space).where(
            Space.lat.between(min_lat, max_lat),
            Space.lon.between(min_lon, max_lon),
            Space.polygon.is_not(None),
        )
    )
    return result.all()


async def booking_to_check_in(
    session: AsyncSession, space_id: uuid.UUID, plate: str, earliest: datetime, latest: datetime
) -> Booking | None:
    """A confirmed booking of this plate on this space whose start lies in [earliest, latest]."""
    return await session.scalar(
        select(Booking)
        .where(
            Booking.space_id == space_id,
            Booking.plate == plate,
            Booking.status == "confirmed",
            Booking.start_ts >= earliest,
            Booking.start_ts <= latest,
        )
        .order_by(Booking.start_ts)
        .limit(1)
    )
