"""Bookings: a space (or, in a gate-counted garage, a place) held for a time window.

Double booking is prevented by the database, not by luck: on PostgreSQL an exclusion constraint
on ``(space_id, tstzrange(start, end))`` refuses the second of two overlapping live bookings
whatever the interleaving, and garage capacity is checked under a row lock on the lot; on SQLite
every write transaction is serialised (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from core.db import Autocommit
from core.errors import Conflict, DomainError, Invalid, NotFound
from parking.bookings import money
from parking.bookings import repository as repo
from parking.bookings.models import Booking
from parking.bookings.schemas import BookingIn, BookingMoneyOut, BookingOut, BookingStatus, RefundOut
from parking.identity import service as identity
from parking.identity.access import Principal, require
from parking.identity.plates import normalize_plate
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots import service as lots
from parking.lots.models import Lot, Space
from parking.lots.schemas import LotKind
from parking.lots.service import lot_tariff
from parking.lots.sharing import covers
from parking.lots.states import GATE_COUNTED, SENSOR_HORIZON
from parking.lots.tariff import Tariff, fee_fen, tariff_of
from parking.sessions import payments
from parking.sessions import repository as sessions_repo
from parking.sessions import service as sessions
from parking.sessions.models import Payment
from parking.sessions.payments import PaymentProvider
from parking.sessions.refunds import RefundReason
from parking.unit import Ctx

log = structlog.get_logger(__name__)

# A booking may start a little in the past (clock skew, the driver at the gate).
PAST_TOLERANCE = timedelta(minutes=5)


def booking_out(booking: Booking) -> BookingOut:
    return BookingOut(
        id=booking.id,
        status=booking.status,
        lot_id=booking.lot_id,
        space_id=booking.space_id,
        plate=booking.plate,
        start=booking.start_ts,
        end=booking.end_ts,
        price_fen=booking.price_fen,
        cancel_fee_fen=booking.cancel_fee_fen,
        session_id=booking.session_id,
        created_at=booking.created_at,
    )


async def create_booking(
    ctx: Ctx, principal: Principal, data: BookingIn, idempotency_key: str | None
) -> tuple[BookingOut, bool]:
    """``(booking, created)``; a retry with the same Idempotency-Key returns the first booking.

    On PostgreSQL, when the booking is the unit's only write, one server-side function does it
    in one round trip (``_create_in_one_statement``); otherwise, and for what that function leaves
    to Python, the ORM path (``_create``). Both answer alike: same checks in the same order, same
    errors, the exclusion constraint the judge of double bookings."""
    db = ctx.one_statement_ok()
    if db is not None:
        done = await _create_in_one_statement(ctx, db, principal, data, idempotency_key)
        if done is not None:
            return done
    booking, created = await _create(ctx, principal, data, idempotency_key)
    return booking_out(booking), created


def _window_problem(ctx: Ctx, start: datetime) -> Invalid | None:
    if start < ctx.now - PAST_TOLERANCE:
        return Invalid("a booking cannot start in the past", code="start_in_past")
    horizon = timedelta(days=ctx.settings.booking_horizon_days)
    if start > ctx.now + horizon:
        return Invalid(f"a booking may start at most {horizon.days} days ahead", code="beyond_horizon")
    return None


def _refused(outcome: str) -> DomainError:
    """The error of a refusal both paths share, by its code."""
    if outcome == "lot_not_found":
        return NotFound("lot not found")
    if outcome == "lot_suspended":
        return Conflict("the lot's operator is suspended: it takes no bookings", code="lot_suspended")
    if outcome == "space_not_found":
        return NotFound("space not found in this lot")
    if outcome == "no_space":
        return Conflict("no space is free for the whole window", code="no_space")
    if outcome == "plate_not_yours":
        return identity.plate_not_yours()
    raise ValueError(f"unknown refusal {outcome!r}")


# Lots the one-statement path leaves to the ORM path: a gate-counted garage's capacity is checked
# under a lot lock, and a residential lot's spaces open in windows checked here in Python.
ORM_ONLY_KINDS = (GATE_COUNTED.value, LotKind.RESIDENTIAL_SHARED.value)
TARIFF_MEMO = "bookings.lot_tariff"
MEMO_LIMIT = 10_000


async def _create_in_one_statement(
    ctx: Ctx, db: Autocommit, principal: Principal, data: BookingIn, idempotency_key: str | None
) -> tuple[BookingOut, bool] | None:
    """``_create`` in one round trip (``beidou_book``, committed when it answers); None when the
    function left the booking to the ORM path (it wrote nothing then)."""
    require(principal, Role.DRIVER)
    assert principal.id is not None
    try:
        plate = normalize_plate(data.plate)
    except Invalid:
        return None  # the ORM path answers it, after the idempotency replay as always
    problem = _window_problem(ctx, data.start)
    fingerprint = _fingerprint(data)
    values = _values(
        ctx, principal.id, data.lot_id, data.space_id, plate, data, 0, idempotency_key, fingerprint
    )
    starts_now = data.start <= ctx.now + SENSOR_HORIZON
    for _ in range(3):  # a tariff changed under the memo costs one more round trip
        memo: tuple[str, Tariff] | None = db.memo.get((TARIFF_MEMO, data.lot_id))
        if memo is not None:
            values["price_fen"] = fee_fen(memo[1], data.start, data.end)
        row = await repo.book_in_one_statement(
            db,
            values,
            space_kind=None if data.space_kind is None else data.space_kind.value,
            window_problem=None if problem is None else problem.code,
            starts_now=starts_now,
            fallback_kinds=ORM_ONLY_KINDS,
            tariff_md5=None if memo is None else memo[0],
            rounds=ROUNDS,
            candidates=CANDIDATES,
        )
        outcome = row["o_outcome"]
        if outcome != "tariff":
            break
        text = row["o_tariff"]
        if len(db.memo) >= MEMO_LIMIT:
            db.memo.clear()
        db.memo[(TARIFF_MEMO, data.lot_id)] = (
            hashlib.md5(text.encode()).hexdigest(),
            tariff_of(json.loads(text)),
        )
    else:
        return None
    if outcome == "created":  # what was stored, as the ORM path answers it (no ORM object)
        _touch_window(ctx, data.lot_id, data.start, data.end)
        return (
            BookingOut.model_construct(
                id=values["id"],
                status=BookingStatus.CONFIRMED.value,
                lot_id=data.lot_id,
                space_id=row["o_space_id"],
                plate=plate,
                start=data.start,
                end=data.end,
                price_fen=values["price_fen"],
                cancel_fee_fen=0,
                session_id=None,
                created_at=ctx.now,
            ),
            True,
        )
    if outcome == "existing":
        _check_replay(row["o_fingerprint"], fingerprint)
        return (
            BookingOut(
                id=row["o_id"],
                status=row["o_status"],
                lot_id=row["o_lot_id"],
                space_id=row["o_space_id"],
                plate=row["o_plate"],
                start=row["o_start"],
                end=row["o_end"],
                price_fen=row["o_price_fen"],
                cancel_fee_fen=row["o_cancel_fee_fen"],
                session_id=row["o_session_id"],
                created_at=row["o_created_at"],
            ),
            False,
        )
    if outcome == "fallback":
        return None
    if problem is not None and outcome == problem.code:
        raise problem
    raise _refused(outcome)


async def _create(
    ctx: Ctx, principal: Principal, data: BookingIn, idempotency_key: str | None
) -> tuple[Booking, bool]:
    """``(booking, created)``; a retry with the same Idempotency-Key returns the first booking."""
    require(principal, Role.DRIVER)
    assert principal.id is not None
    fingerprint = _fingerprint(data)
    if idempotency_key is not None:
        existing = await repo.booking_by_key(ctx.db, principal.id, idempotency_key)
        if existing is not None:
            return _replayed(existing, fingerprint), False
    plate = await identity.require_own_plate(ctx, principal, data.plate)
    start, end = data.start, data.end
    if (problem := _window_problem(ctx, start)) is not None:
        raise problem
    lot = await lots_repo.get_lot(ctx.db, data.lot_id)
    if lot is None:
        raise _refused("lot_not_found")
    if await identity.operator_suspended(ctx, lot.operator_id):  # nobody runs its gates now
        raise _refused("lot_suspended")
    starts_now = start <= ctx.now + SENSOR_HORIZON
    if lot.kind == GATE_COUNTED:
        lot = await lots_repo.lock_lot(ctx.db, lot.id) or lot
        bookings = await repo.live_bookings_overlapping(ctx.db, lot.id, start, end)
        await _check_capacity(ctx, lot, bookings, start, end, starts_now)
    price = fee_fen(lot_tariff(lot), start, end)
    for _ in range(ROUNDS):
        spaces = await _candidates(ctx, lot, data, starts_now)
        if not spaces:
            break
        for space in spaces:
            booking = await _insert(ctx, principal.id, lot, space, plate, data, price, idempotency_key)
            if booking is not None:
                return booking, True
            if idempotency_key is not None:
                existing = await repo.booking_by_key(ctx.db, principal.id, idempotency_key)
                if existing is not None:
                    return _replayed(existing, fingerprint), False
            # otherwise a concurrent booking took this space first: try the next one
    else:
        raise _refused("no_space")
    if lot.kind == GATE_COUNTED and data.space_id is None and not await _has_bookable(ctx, lot):
        # a gate-counted garage without bookable spaces holds a place, not a space
        booking = await _insert(ctx, principal.id, lot, None, plate, data, price, idempotency_key)
        if booking is not None:
            return booking, True
    raise _refused("no_space")


def _fingerprint(data: BookingIn) -> str:
    """The request a key stands for: its body, in one canonical form."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


def _replayed(existing: Booking, fingerprint: str) -> Booking:
    """The key's first booking, if the retry asks the same; a key reused for another request is
    refused (the IETF Idempotency-Key draft: the key names one request)."""
    _check_replay(existing.idempotency_fingerprint, fingerprint)
    return existing


def _check_replay(stored: str | None, fingerprint: str) -> None:
    if stored not in (None, fingerprint):
        raise Invalid("this Idempotency-Key was used for a different request", code="idempotency_key_reused")


async def _insert(
    ctx: Ctx,
    driver_id: uuid.UUID,
    lot: Lot,
    space: Space | None,
    plate: str,
    data: BookingIn,
    price: int,
    idempotency_key: str | None,
) -> Booking | None:
    """The new booking, or None when the database refused it (a concurrent booking won)."""
    values = _values(
        ctx,
        driver_id,
        lot.id,
        space.id if space else None,
        plate,
        data,
        price,
        idempotency_key,
        _fingerprint(data),
    )
    # The exclusion constraint (PostgreSQL) or the idempotency key decides: no row, no booking.
    if not await repo.insert_booking(ctx.db, values):
        return None
    booking = Booking(**values)  # what was stored, for the answer (not attached to the session)
    _touch_if_current(ctx, booking)
    return booking


def _values(
    ctx: Ctx,
    driver_id: uuid.UUID,
    lot_id: uuid.UUID,
    space_id: uuid.UUID | None,
    plate: str,
    data: BookingIn,
    price: int,
    idempotency_key: str | None,
    fingerprint: str,
) -> dict[str, Any]:
    """A new booking's row."""
    return {
        "id": uuid.uuid4(),
        "driver_id": driver_id,
        "lot_id": lot_id,
        "space_id": space_id,
        "plate": plate,
        "start_ts": data.start,
        "end_ts": data.end,
        "status": BookingStatus.CONFIRMED,
        "price_fen": price,
        "cancel_fee_fen": 0,
        "idempotency_key": idempotency_key,
        "idempotency_fingerprint": fingerprint,
        "created_at": ctx.now,
    }


def _touch_if_current(ctx: Ctx, booking: Booking) -> None:
    """Refresh the lot's live snapshot only if the booking changes what is free now; a booking
    for next week leaves the current picture as it is (and costs no refresh)."""
    _touch_window(ctx, booking.lot_id, booking.start_ts, booking.end_ts)


def _touch_window(ctx: Ctx, lot_id: uuid.UUID, start: datetime, end: datetime) -> None:
    if start <= ctx.now + SENSOR_HORIZON and end > ctx.now:
        ctx.changed_lots.add(lot_id)


async def _has_bookable(ctx: Ctx, lot: Lot) -> bool:
    return any(s.bookable for s in await lots_repo.spaces_of_lot(ctx.db, lot.id))


async def _check_capacity(
    ctx: Ctx,
    lot: Lot,
    bookings: Sequence[Booking],
    start: datetime,
    end: datetime,
    starts_now: bool,
) -> None:
    """A garage must have room at every instant of the window, counting its open sessions."""
    in_use = await sessions.count_open(ctx, lot.id) if starts_now else 0
    confirmed = [b for b in bookings if b.status == BookingStatus.CONFIRMED]
    if in_use + peak_overlap(confirmed, start, end) >= lot.capacity:
        raise Conflict("the garage is full for this window", code="no_space")


def peak_overlap(bookings: Sequence[Booking], start: datetime, end: datetime) -> int:
    """Most bookings live at one instant of ``[start, end)`` (a sweep over their edges)."""
    edges: list[tuple[datetime, int]] = []
    for b in bookings:
        edges.append((max(b.start_ts, start), 1))
        edges.append((min(b.end_ts, end), -1))
    edges.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    peak = live = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


# Rounds of "fetch candidates, try them" before answering 409: candidates fetched before a
# concurrent burst committed may all be gone, while others are still free.
ROUNDS = 3
# How many free spaces to fetch per attempt: enough to survive a few lost races without loading
# the whole lot.
CANDIDATES = 8


async def _candidates(ctx: Ctx, lot: Lot, data: BookingIn, starts_now: bool) -> list[Space]:
    shared = lot.kind == LotKind.RESIDENTIAL_SHARED
    if data.space_id is not None:
        space = await lots_repo.get_space(ctx.db, data.space_id)
        if space is None or space.lot_id != lot.id:
            raise _refused("space_not_found")
        shared = shared or bool(space.shared_windows)
    rows = await repo.free_spaces_for(
        ctx.db,
        lot.id,
        data.start,
        data.end,
        kind=data.space_kind,
        skip_occupied=starts_now,
        # windows are checked here, not in SQL, so a shared lot needs all its free spaces
        limit=None if shared or data.space_id is not None else CANDIDATES,
    )
    if data.space_id is not None:
        rows = [s for s in rows if s.id == data.space_id]
    return [
        s
        for s in rows
        if not ((s.shared_windows or shared) and not covers(s.shared_windows or [], data.start, data.end))
    ]


async def get_booking(ctx: Ctx, principal: Principal, booking_id: uuid.UUID) -> BookingOut:
    return booking_out(await _own_booking(ctx, principal, booking_id))


async def _own_booking(ctx: Ctx, principal: Principal, booking_id: uuid.UUID) -> Booking:
    booking = await repo.get_booking(ctx.db, booking_id)
    if booking is None:
        raise NotFound("booking not found")
    if principal.role == Role.ADMIN or (principal.role == Role.DRIVER and booking.driver_id == principal.id):
        return booking
    if await lots.operates(ctx, principal, booking.lot_id):
        return booking
    raise NotFound("booking not found")


async def cancel_booking(ctx: Ctx, principal: Principal, booking_id: uuid.UUID) -> BookingOut:
    require(principal, Role.DRIVER)
    booking = await _own_booking(ctx, principal, booking_id)
    if booking.status == BookingStatus.CANCELLED:
        return booking_out(booking)
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(f"a {booking.status} booking cannot be cancelled", code="not_cancellable")
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = ctx.now
    lot = await lots_repo.get_lot(ctx.db, booking.lot_id)
    assert lot is not None
    booking.cancel_fee_fen = lot_tariff(lot).cancel_fee_fen(booking.price_fen, booking.start_ts, ctx.now)
    await money.after_cancellation(ctx, booking, RefundReason.CANCELLATION)
    await ctx.flush()
    _touch_if_current(ctx, booking)
    return booking_out(booking)


async def pay_booking(
    ctx: Ctx, principal: Principal, booking_id: uuid.UUID, key: str, provider: PaymentProvider
) -> tuple[Payment, bool]:
    """Pay a confirmed booking's price ahead; ``(payment, created)``, one payment per key."""
    require(principal, Role.DRIVER)
    booking = await _own_booking(ctx, principal, booking_id)
    existing = await sessions_repo.payment_by_key(ctx.db, key, booking_id=booking.id)
    if existing is not None:
        return payments.replayed(existing, provider), False
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(f"a {booking.status} booking cannot be paid ahead", code="not_payable")
    due = await money.due_ahead(ctx, booking)
    if due <= 0:
        raise Conflict(
            "nothing to pay: the booking is paid (or its payment is on its way)", code="nothing_due"
        )
    return await payments.charge(
        ctx, principal, key, provider, due, lot_id=booking.lot_id, booking_id=booking.id
    )


async def booking_money(ctx: Ctx, principal: Principal, booking_id: uuid.UUID) -> BookingMoneyOut:
    """What the booking costs, what was paid ahead and what came back (or is on its way back)."""
    booking = await _own_booking(ctx, principal, booking_id)
    paid, pending, _ = await money.balance(ctx, booking)
    rows = await sessions_repo.refunds_of_booking(ctx.db, booking.id)
    return BookingMoneyOut(
        booking_id=booking.id,
        price_fen=booking.price_fen,
        paid_fen=paid,
        pending_fen=pending,
        cancel_fee_fen=booking.cancel_fee_fen,
        refunds=[
            RefundOut(
                id=r.id,
                amount_fen=r.amount_fen,
                reason=r.reason,
                status=r.status,
                provider=r.provider,
                provider_ref=r.provider_ref,
                created_at=r.created_at,
                settled_at=r.settled_at,
            )
            for r in sorted(rows, key=lambda r: r.created_at)
        ],
    )


async def driver_bookings(ctx: Ctx, principal: Principal, limit: int) -> list[BookingOut]:
    require(principal, Role.DRIVER)
    assert principal.id is not None
    return [booking_out(b) for b in await repo.bookings_of_driver(ctx.db, principal.id, limit)]


async def expire_no_shows(ctx: Ctx) -> int:
    """Release bookings whose plate did not arrive by start + grace."""
    grace = timedelta(minutes=ctx.settings.checkin_grace_min)
    overdue = await repo.overdue_bookings(ctx.db, ctx.now - grace)
    for booking in overdue:
        booking.status = BookingStatus.NO_SHOW
        booking.cancelled_at = ctx.now  # when it ended unused
        lot = await lots_repo.get_lot(ctx.db, booking.lot_id)
        assert lot is not None
        # a no-show is a cancellation at the end of the check-in window, under the same rule
        booking.cancel_fee_fen = lot_tariff(lot).cancel_fee_fen(booking.price_fen, booking.start_ts, ctx.now)
        await money.after_cancellation(ctx, booking, RefundReason.NO_SHOW)
        ctx.changed_lots.add(booking.lot_id)
    await ctx.flush()
    if overdue:
        log.info("bookings_no_show", count=len(overdue))
    return len(overdue)


async def arriving(ctx: Ctx, lot_id: uuid.UUID, plate: str, at: datetime) -> uuid.UUID | None:
    """The plate's booking at the lot whose check-in window holds ``at`` (``checkin_early_min``
    before its start to ``checkin_grace_min`` after), if any: its space is held for this car."""
    early = timedelta(minutes=ctx.settings.checkin_early_min)
    grace = timedelta(minutes=ctx.settings.checkin_grace_min)
    booking = await repo.checkin_candidate(ctx.db, lot_id, plate, at - grace, at + early)
    return None if booking is None else booking.id


async def check_in(ctx: Ctx, booking_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """The booked car entered: its session is the booking's."""
    booking = await repo.get_booking(ctx.db, booking_id)
    if booking is not None and booking.status == BookingStatus.CONFIRMED:
        booking.status = BookingStatus.CHECKED_IN
        booking.session_id = session_id
        await ctx.flush()
        await money.credit_stay(ctx, booking)


async def check_in_at_entry(
    ctx: Ctx, lot_id: uuid.UUID, plate: str, entry_ts: datetime, session_id: uuid.UUID
) -> uuid.UUID | None:
    """An entry read of a plate checks in its booking at the lot if it arrives in its window."""
    booking_id = await arriving(ctx, lot_id, plate, entry_ts)
    if booking_id is not None:
        await check_in(ctx, booking_id, session_id)
    return booking_id


async def check_in_on_space(ctx: Ctx, space: Space, plate: str, at: datetime) -> uuid.UUID | None:
    """An RTK-fixed stay of the plate's car in a space checks in its booking of that space."""
    early = timedelta(minutes=ctx.settings.checkin_early_min)
    grace = timedelta(minutes=ctx.settings.checkin_grace_min)
    booking = await repo.checkin_candidate(
        ctx.db, space.lot_id, plate, at - grace, at + early, space_id=space.id
    )
    if booking is None:
        return None
    booking.status = BookingStatus.CHECKED_IN
    log.info("gnss_check_in", booking=str(booking.id))
    return booking.id


async def complete(ctx: Ctx, booking_id: uuid.UUID) -> None:
    """The car of a checked-in booking left."""
    booking = await repo.get_booking(ctx.db, booking_id)
    if booking is not None and booking.status == BookingStatus.CHECKED_IN:
        booking.status = BookingStatus.COMPLETED
        await money.after_stay(ctx, booking)


async def live_overlapping(ctx: Ctx, lot_id: uuid.UUID, start: datetime, end: datetime) -> Sequence[Booking]:
    return await repo.live_bookings_overlapping(ctx.db, lot_id, start, end)
