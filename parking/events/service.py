"""Device events: plate reads at the gates and in-space occupancy sensors.

Every accepted event is stored before we answer, and its ``event_id`` (unique per lot) makes a
retry or a duplicate delivery a no-op that returns the first outcome. Nothing is dropped: reads
that do not fit the story (an exit with no entry, a second entry, a weak read) are kept and
flagged for the operator.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from core.errors import NotFound
from parking.bookings import service as bookings
from parking.events import repository as repo
from parking.events.models import AnprEvent, Flag, OccupancyEvent
from parking.events.schemas import AnprEventIn, Direction, EvidenceSource, FlagOut, OccupancyEventIn
from parking.identity.access import Principal, operator_scope, require
from parking.identity.plates import mask_plate, normalize_plate, plate_hash
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots.service import own_lot
from parking.sessions import service as sessions
from parking.sessions.schemas import SessionFlag
from parking.unit import Ctx

log = structlog.get_logger(__name__)

FLAG_DETAIL = {
    SessionFlag.LOW_CONFIDENCE: "read confidence {confidence:.2f} below threshold",
    SessionFlag.DUPLICATE_ENTRY: "entry read while a session for this plate is already open",
    SessionFlag.EXIT_WITHOUT_ENTRY: "exit read with no open session for this plate",
    SessionFlag.EXIT_BEFORE_ENTRY: "exit timestamp precedes the session's entry",
}


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
    if not await repo.insert_event(ctx.db, row):
        # A concurrent delivery of the same event committed first: answer with its outcome.
        seen = await repo.anpr_event(ctx.db, lot_id, event.event_id)
        assert seen is not None
        return Outcome(created=False, session_id=seen.session_id, flagged=seen.flagged)

    flags: list[SessionFlag] = []
    if event.confidence < ctx.settings.anpr_min_confidence:
        flags.append(SessionFlag.LOW_CONFIDENCE)
    if event.direction == Direction.IN:
        parking, opened = await sessions.enter(ctx, lot_id, plate, digest, row.ts, flags)
        if opened and parking.entry_ts is not None:
            booking_id = await bookings.check_in_at_entry(ctx, lot_id, plate, parking.entry_ts, parking.id)
            if booking_id is not None:
                sessions.link_booking(parking, booking_id)
    else:
        lot = await lots_repo.get_lot(ctx.db, lot_id)
        assert lot is not None
        parking = await sessions.leave(ctx, lot, plate, digest, row.ts, flags)
        if parking.booking_id is not None:
            await bookings.complete(ctx, parking.booking_id)
    row.session_id = parking.id
    row.flagged = bool(flags)
    await repo.add_flags(
        ctx.db,
        [
            Flag(
                lot_id=lot_id,
                kind=kind,
                session_id=parking.id,
                anpr_event_id=row.id,
                detail=FLAG_DETAIL.get(kind, kind).format(confidence=event.confidence),
                created_at=ctx.now,
            )
            for kind in flags
        ],
    )
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


async def ingest_occupancy(
    ctx: Ctx,
    lot_id: uuid.UUID,
    device_id: uuid.UUID | None,
    event: OccupancyEventIn,
    *,
    source: EvidenceSource = EvidenceSource.SENSOR,
) -> Outcome:
    seen = await repo.occupancy_event(ctx.db, lot_id, event.event_id)
    if seen is not None:
        return Outcome(created=False, space_id=seen.space_id, applied=seen.applied)
    space = await lots_repo.space_by_code(ctx.db, lot_id, event.space_code)
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
    if not await repo.insert_event(ctx.db, row):
        seen = await repo.occupancy_event(ctx.db, lot_id, event.event_id)
        assert seen is not None
        return Outcome(created=False, space_id=seen.space_id, applied=seen.applied)
    # An event older than the space's current state is kept for history but never overwrites it.
    row.applied = await lots_repo.apply_space_state(ctx.db, space.id, event.occupied, event.ts, source)
    await ctx.flush()
    await lots_repo.refresh_space(ctx.db, space)
    ctx.changed_lots.add(lot_id)
    return Outcome(created=True, space_id=space.id, applied=row.applied)


# --- the review queue -------------------------------------------------------------------------


def flag_out(flag: Flag) -> FlagOut:
    return FlagOut(
        id=flag.id,
        lot_id=flag.lot_id,
        kind=flag.kind,
        session_id=flag.session_id,
        anpr_event_id=flag.anpr_event_id,
        detail=flag.detail,
        created_at=flag.created_at,
        resolved_at=flag.resolved_at,
        resolution=flag.resolution,
    )


async def flags(ctx: Ctx, principal: Principal, *, unresolved_only: bool, limit: int) -> list[FlagOut]:
    lots = await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))
    rows: Sequence[Flag] = await repo.flags_of_lots(
        ctx.db, [lot.id for lot in lots], unresolved_only=unresolved_only, limit=limit
    )
    return [flag_out(f) for f in rows]


async def resolve_flag(ctx: Ctx, principal: Principal, flag_id: uuid.UUID, resolution: str) -> FlagOut:
    require(principal, Role.OPERATOR, Role.ADMIN)
    flag = await repo.get_flag(ctx.db, flag_id)
    if flag is None:
        raise NotFound("flag not found")
    await own_lot(ctx, principal, flag.lot_id)
    if flag.resolved_at is None:
        flag.resolved_at = ctx.now
        flag.resolution = resolution
        await ctx.flush()
    return flag_out(flag)
