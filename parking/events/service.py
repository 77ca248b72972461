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
from datetime import datetime, timedelta

import structlog

from core.errors import Conflict, NotFound
from parking.availability.service import compute
from parking.bookings import service as bookings
from parking.events import repository as repo
from parking.events.models import AnprEvent, Flag, OccupancyEvent
from parking.events.schemas import (
    AnprEventIn,
    Direction,
    EvidenceSource,
    FlagOut,
    Gate,
    GateReason,
    OccupancyEventIn,
)
from parking.identity import service as identity
from parking.identity.access import Principal, operator_scope, require
from parking.identity.plates import mask_plate, normalize_plate, plate_hash
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots.models import Lot
from parking.lots.service import own_lot
from parking.sessions import service as sessions
from parking.sessions.models import ParkingSession
from parking.sessions.schemas import ReceivableReason, SessionFlag, SessionOut, SessionStatus
from parking.unit import Ctx

log = structlog.get_logger(__name__)

FLAG_DETAIL = {
    SessionFlag.LOW_CONFIDENCE: "read confidence {confidence:.2f} below threshold",
    SessionFlag.DUPLICATE_ENTRY: "entry read while a session for this plate is already open",
    SessionFlag.EXIT_WITHOUT_ENTRY: "exit read with no open session for this plate",
    SessionFlag.EXIT_BEFORE_ENTRY: "exit timestamp precedes the session's entry",
    SessionFlag.OVERLONG_STAY: "stay longer than the configured maximum: held for review, not billed",
    SessionFlag.UNPAID_EXIT: "the car left with money due: a receivable",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the gate does with a read, and why."""

    gate: Gate
    reason: GateReason
    amount_due_fen: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an ingestion did; ``created`` is False when the event_id had been seen before.
    ``refused`` names why an event was refused (stored nothing but the device's count)."""

    created: bool
    session_id: uuid.UUID | None = None
    flagged: bool = False
    space_id: uuid.UUID | None = None
    applied: bool = False
    decision: Decision | None = None
    refused: str | None = None


def _replay(seen: AnprEvent) -> Outcome:
    decision = None
    if seen.gate is not None and seen.reason is not None:
        decision = Decision(Gate(seen.gate), GateReason(seen.reason), seen.amount_due_fen)
    return Outcome(created=False, session_id=seen.session_id, flagged=seen.flagged, decision=decision)


async def refuse_future(ctx: Ctx, device_id: uuid.UUID | None, ts: datetime) -> bool:
    """Device clocks are not trusted: an event dated more than ``device_clock_skew_s`` ahead of
    ours is refused (never applied: it would outrank every real event after it) and counted
    against the device, whose clock an operator should look at."""
    if ts <= ctx.now + timedelta(seconds=ctx.settings.device_clock_skew_s):
        return False
    if device_id is not None:
        await identity.count_future_event(ctx, device_id)
    log.warning("device_event_from_the_future", device=str(device_id), ts=ts.isoformat())
    return True


async def ingest_anpr(ctx: Ctx, lot_id: uuid.UUID, device_id: uuid.UUID, event: AnprEventIn) -> Outcome:
    """A plate read at a gate: the session it opens or closes, and what the barrier does."""
    seen = await repo.anpr_event(ctx.db, lot_id, event.event_id)
    if seen is not None:
        return _replay(seen)
    if await refuse_future(ctx, device_id, event.ts):
        return Outcome(created=False, refused="future_timestamp")
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
        passed=event.passed,
        received_at=ctx.now,
    )
    if not await repo.insert_event(ctx.db, row):
        # A concurrent delivery of the same event committed first: answer with its outcome.
        seen = await repo.anpr_event(ctx.db, lot_id, event.event_id)
        assert seen is not None
        return _replay(seen)

    lot = await lots_repo.get_lot(ctx.db, lot_id)
    assert lot is not None
    flags: list[SessionFlag] = []
    if event.confidence < ctx.settings.anpr_min_confidence:
        flags.append(SessionFlag.LOW_CONFIDENCE)
    if event.direction == Direction.IN:
        decision, parking = await _entry(ctx, lot, plate, digest, row.ts, flags)
    else:
        decision, parking = await _exit(ctx, lot, plate, digest, row.ts, flags, passed=event.passed)
    row.session_id = parking.id if parking is not None else None
    row.flagged = bool(flags)
    row.gate, row.reason, row.amount_due_fen = decision.gate, decision.reason, decision.amount_due_fen
    await _queue_flags(ctx, lot_id, row.session_id, row.id, flags, event.confidence)
    ctx.changed_lots.add(lot_id)
    log.info(
        "anpr_event",
        lot_id=str(lot_id),
        direction=event.direction,
        plate=mask_plate(plate),
        session_id=str(row.session_id),
        gate=decision.gate,
        reason=decision.reason,
        flags=flags,
    )
    return Outcome(created=True, session_id=row.session_id, flagged=bool(flags), decision=decision)


async def _queue_flags(
    ctx: Ctx,
    lot_id: uuid.UUID,
    session_id: uuid.UUID | None,
    event_id: uuid.UUID | None,
    flags: Sequence[SessionFlag],
    confidence: float = 1.0,
) -> None:
    await repo.add_flags(
        ctx.db,
        [
            Flag(
                lot_id=lot_id,
                kind=kind,
                session_id=session_id,
                anpr_event_id=event_id,
                detail=FLAG_DETAIL.get(kind, kind).format(confidence=confidence),
                created_at=ctx.now,
            )
            for kind in flags
        ],
    )


async def _entry(
    ctx: Ctx, lot: Lot, plate: str, digest: str, ts: datetime, flags: list[SessionFlag]
) -> tuple[Decision, ParkingSession | None]:
    """Entry: the plate's booking, else a free place, else the gate holds (no session opened)."""
    weak = SessionFlag.LOW_CONFIDENCE in flags
    if await sessions.open_session_of(ctx, lot.id, digest) is not None:
        parking, _ = await sessions.enter(ctx, lot.id, plate, digest, ts, flags)  # flags the duplicate
        return Decision(Gate.HOLD if weak else Gate.OPEN, GateReason.DUPLICATE_ENTRY), parking
    booking_id = await bookings.arriving(ctx, lot.id, plate, ts)
    if booking_id is None:
        snapshot = await compute(ctx.db, lot, ctx.now, ctx.now)
        if snapshot["free_spaces"] <= 0:
            return Decision(Gate.HOLD, GateReason.FULL), None
    parking, _ = await sessions.enter(ctx, lot.id, plate, digest, ts, flags)
    if booking_id is not None:
        await bookings.check_in(ctx, booking_id, parking.id)
        sessions.link_booking(parking, booking_id)
    if weak:
        return Decision(Gate.HOLD, GateReason.LOW_CONFIDENCE), parking
    return Decision(Gate.OPEN, GateReason.BOOKED if booking_id else GateReason.FREE_SPACE), parking


async def _exit(
    ctx: Ctx,
    lot: Lot,
    plate: str,
    digest: str,
    ts: datetime,
    flags: list[SessionFlag],
    *,
    passed: bool,
) -> tuple[Decision, ParkingSession]:
    """Exit: open when the stay is paid or free; hold with the amount due otherwise. A car seen
    leaving with money due (``passed``) turns the amount into a receivable."""
    parking = await sessions.open_session_of(ctx, lot.id, digest)
    if parking is None:
        return Decision(Gate.OPEN, GateReason.EXIT_WITHOUT_ENTRY), await sessions.orphan_exit(
            ctx, lot, plate, digest, ts, flags
        )
    assert parking.entry_ts is not None
    if ts < parking.entry_ts:
        flags.append(SessionFlag.EXIT_BEFORE_ENTRY)
    elif ts - parking.entry_ts > timedelta(hours=ctx.settings.max_stay_h):
        flags.append(SessionFlag.OVERLONG_STAY)
    review = bool({SessionFlag.EXIT_BEFORE_ENTRY, SessionFlag.OVERLONG_STAY} & set(flags))
    if not passed:
        if SessionFlag.LOW_CONFIDENCE in flags:
            sessions.mark(parking, flags)
            return Decision(Gate.HOLD, GateReason.LOW_CONFIDENCE), parking
        if review:  # the times do not add up: an operator looks before anyone is billed
            sessions.mark(parking, flags)
            return Decision(Gate.HOLD, GateReason.REVIEW), parking
    due = sessions.due_fen(ctx, parking, lot, ts)
    if due > 0 and not passed:
        return Decision(Gate.HOLD, GateReason.UNPAID, due), parking
    if due > 0:
        flags.append(SessionFlag.UNPAID_EXIT)
    await sessions.close(ctx, parking, lot, ts, flags)
    if parking.booking_id is not None:
        await bookings.complete(ctx, parking.booking_id)
    if due > 0:
        reason = ReceivableReason.REVIEW if review else ReceivableReason.UNPAID_EXIT
        await sessions.add_receivable(ctx, parking, due, reason)
        return Decision(Gate.OPEN, GateReason.UNPAID_EXIT, due), parking
    return Decision(Gate.OPEN, GateReason.PAID if parking.paid_fen > 0 else GateReason.WITHIN_GRACE), parking


async def release(ctx: Ctx, principal: Principal, session_id: uuid.UUID, note: str) -> SessionOut:
    """The operator lets a held car out (opens the gate by hand): the session closes now, and
    what it still owes becomes a receivable, flagged for the review queue."""
    parking = await sessions.visible_session(ctx, principal, session_id)
    require(principal, Role.OPERATOR, Role.ADMIN)
    if parking.status != SessionStatus.OPEN:
        raise Conflict("the session is closed already", code="session_closed")
    lot = await lots_repo.get_lot(ctx.db, parking.lot_id)
    assert lot is not None
    due = sessions.due_fen(ctx, parking, lot, ctx.now)
    flags = [SessionFlag.UNPAID_EXIT] if due > 0 else []
    await sessions.close(ctx, parking, lot, ctx.now, flags)
    if parking.booking_id is not None:
        await bookings.complete(ctx, parking.booking_id)
    if due > 0:
        await sessions.add_receivable(ctx, parking, due, ReceivableReason.RELEASED)
        await _queue_flags(ctx, lot.id, parking.id, None, flags)
    ctx.changed_lots.add(lot.id)
    log.info("session_released", session=str(parking.id), due_fen=due, note=note[:200])
    return (await sessions.render(ctx, [parking]))[0]


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
    if await refuse_future(ctx, device_id, event.ts):
        return Outcome(created=False, refused="future_timestamp")
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
    try:
        if flag is None:
            raise NotFound("flag not found")
        await own_lot(ctx, principal, flag.lot_id)
    except NotFound:  # another operator's flag reads as an unknown one
        raise NotFound("flag not found") from None
    if flag.resolved_at is None:
        flag.resolved_at = ctx.now
        flag.resolution = resolution
        await ctx.flush()
    return flag_out(flag)
