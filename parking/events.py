"""Device events: plate reads at the gates and in-space occupancy sensors.

Every accepted event is stored before we answer, and its ``event_id`` (unique per lot) makes a
retry or a duplicate delivery a no-op that returns the first outcome. Nothing is dropped: reads
that do not fit the story (an exit with no entry, a second entry, a weak read) are kept and
flagged for the operator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog

from core.db import try_insert
from core.errors import NotFound
from parking import repository as repo
from parking.availability import space_states
from parking.context import Ctx
from parking.models import AnprEvent, Flag, OccupancyEvent, ParkingSession
from parking.plates import mask_plate, normalize_plate, plate_hash
from parking.schemas import AnprEventIn, OccupancyEventIn
from parking.sessions import lot_tariff, owed_fen

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an ingestion did; ``created`` is False when the event_id had been seen before."""

    created: bool
    session_id: uuid.UUID | None = None
    flagged: bool = False
    space_id: uuid.UUID | None = None
    applied: bool = False


async def ingest_anpr(ctx: Ctx, lot_id: uuid.UUID, device_id: uuid.UUID, event: AnprEventIn) -> Outcome:
    seen = await repo.anpr_event(ctx.db, lot_id, event.event_id)
    if seen is not None:
        return Outcome(created=False, session_id=seen.session_id, flagged=seen.flagged)
    plate = normalize_plate(event.plate)
    digest = plate_hash(plate, ctx.plate_key)
    row = AnprEvent(
        lot_id=lot_id,
        device_id=device_id,
        event_id=event.event_id,
        plate=plate,
        plate_hash=digest,
        direction=event.direction,
        ts=event.ts,
        confidence=event.confidence,
        received_at=ctx.now,
    )
    if not await try_insert(ctx.db, row):
        # A concurrent delivery of the same event committed first: answer with its outcome.
        seen = await repo.anpr_event(ctx.db, lot_id, event.event_id)
        assert seen is not None
        return Outcome(created=False, session_id=seen.session_id, flagged=seen.flagged)

    flags: list[str] = []
    if event.confidence < ctx.settings.anpr_min_confidence:
        flags.append("low_confidence")
    if event.direction == "in":
        parking = await _enter(ctx, lot_id, plate, digest, row, flags)
    else:
        parking = await _exit(ctx, lot_id, plate, digest, row, flags)
    row.session_id = parking.id
    row.flagged = bool(flags)
    for kind in flags:
        ctx.db.add(
            Flag(
                lot_id=lot_id,
                kind=kind,
                session_id=parking.id,
                anpr_event_id=row.id,
                detail=_flag_detail(kind, event),
                created_at=ctx.now,
            )
        )
    await ctx.db.flush()
    ctx.changed_lots.add(lot_id)
    log.info(
        "anpr_event",
        lot_id=str(lot_id),
        direction=event.direction,
        plate=mask_plate(plate),
        session_id=str(parking.id),
        flags=flags,
    )
    return Outcome(created=True, session_id=parking.id, flagged=bool(flags))


def _flag_detail(kind: str, event: AnprEventIn) -> str:
    return {
        "low_confidence": f"read confidence {event.confidence:.2f} below threshold",
        "duplicate_entry": "entry read while a session for this plate is already open",
        "exit_without_entry": "exit read with no open session for this plate",
        "exit_before_entry": "exit timestamp precedes the session's entry",
    }.get(kind, kind)


async def _enter(
    ctx: Ctx, lot_id: uuid.UUID, plate: str, digest: str, row: AnprEvent, flags: list[str]
) -> ParkingSession:
    current = await repo.open_session(ctx.db, lot_id, digest)
    if current is not None:
        flags.append("duplicate_entry")
        current.flags = [*current.flags, "duplicate_entry"]
        return current
    parking = ParkingSession(
        lot_id=lot_id,
        plate=plate,
        plate_hash=digest,
        entry_ts=row.ts,
        status="open",
        flags=list(flags),
        created_at=ctx.now,
    )
    if not await try_insert(ctx.db, parking):
        # A concurrent entry read of the same plate opened the session first.
        current = await repo.open_session(ctx.db, lot_id, digest)
        assert current is not None
        flags.append("duplicate_entry")
        current.flags = [*current.flags, "duplicate_entry"]
        return current
    await _check_in(ctx, lot_id, plate, parking)
    return parking


async def _check_in(ctx: Ctx, lot_id: uuid.UUID, plate: str, parking: ParkingSession) -> None:
    """Link the entry to the plate's booking if it arrives within the check-in window."""
    assert parking.entry_ts is not None
    early = timedelta(minutes=ctx.settings.checkin_early_min)
    grace = timedelta(minutes=ctx.settings.checkin_grace_min)
    booking = await repo.checkin_candidate(
        ctx.db, lot_id, plate, parking.entry_ts - grace, parking.entry_ts + early
    )
    if booking is None:
        return
    booking.status = "checked_in"
    booking.session_id = parking.id
    parking.booking_id = booking.id


async def _exit(
    ctx: Ctx, lot_id: uuid.UUID, plate: str, digest: str, row: AnprEvent, flags: list[str]
) -> ParkingSession:
    parking = await repo.open_session(ctx.db, lot_id, digest)
    if parking is None:
        flags.append("exit_without_entry")
        orphan = ParkingSession(
            lot_id=lot_id,
            plate=plate,
            plate_hash=digest,
            entry_ts=None,
            exit_ts=row.ts,
            status="closed",
            fee_fen=0,
            flags=list(flags),
            created_at=ctx.now,
        )
        ctx.db.add(orphan)
        await ctx.db.flush()
        return orphan
    assert parking.entry_ts is not None
    if row.ts < parking.entry_ts:
        flags.append("exit_before_entry")
    lot = await repo.get_lot(ctx.db, lot_id)
    assert lot is not None
    grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
    parking.fee_fen = owed_fen(parking, lot_tariff(lot), max(row.ts, parking.entry_ts), grace)
    parking.exit_ts = row.ts
    parking.status = "closed"
    if flags:
        parking.flags = [*parking.flags, *(f for f in flags if f not in parking.flags)]
    if parking.booking_id is not None:
        booking = await repo.get_booking(ctx.db, parking.booking_id)
        if booking is not None and booking.status == "checked_in":
            booking.status = "completed"
    return parking


async def ingest_occupancy(
    ctx: Ctx,
    lot_id: uuid.UUID,
    device_id: uuid.UUID | None,
    event: OccupancyEventIn,
    *,
    source: str = "sensor",
) -> Outcome:
    seen = await repo.occupancy_event(ctx.db, lot_id, event.event_id)
    if seen is not None:
        return Outcome(created=False, space_id=seen.space_id, applied=seen.applied)
    space = await repo.space_by_code(ctx.db, lot_id, event.space_code)
    if space is None:
        raise NotFound(f"no space {event.space_code!r} in this device's lot", code="unknown_space")
    row = OccupancyEvent(
        lot_id=lot_id,
        device_id=device_id,
        event_id=event.event_id,
        space_id=space.id,
        occupied=event.occupied,
        ts=event.ts,
        source=source,
        applied=False,
        received_at=ctx.now,
    )
    if not await try_insert(ctx.db, row):
        seen = await repo.occupancy_event(ctx.db, lot_id, event.event_id)
        assert seen is not None
        return Outcome(created=False, space_id=seen.space_id, applied=seen.applied)
    # An event older than the space's current state is kept for history but never overwrites it.
    row.applied = await repo.apply_space_state(ctx.db, space.id, event.occupied, event.ts, source)
    await ctx.db.flush()
    await ctx.db.refresh(space)
    ctx.changed_lots.add(lot_id)
    return Outcome(created=True, space_id=space.id, applied=row.applied)


async def space_state_now(ctx: Ctx, space_id: uuid.UUID) -> str:
    space = await repo.get_space(ctx.db, space_id)
    assert space is not None
    bookings = await repo.live_bookings_overlapping(ctx.db, space.lot_id, ctx.now, ctx.now)
    return space_states([space], bookings, ctx.now, ctx.now)[space.id]
