"""Bookings: a space (or, in a gate-counted garage, a place) held for a time window.

Double booking is prevented by the database, not by luck: on PostgreSQL an exclusion constraint
on ``(space_id, tstzrange(start, end))`` refuses the second of two overlapping live bookings
whatever the interleaving, and garage capacity is checked under a row lock on the lot; on SQLite
every write transaction is serialised (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from core.errors import Conflict, NotFound
from parking.bookings import money, one_statement, rules
from parking.bookings import repository as repo
from parking.bookings.models import Booking
from parking.bookings.schemas import BookingIn, BookingMoneyOut, BookingOut, BookingStatus, RefundOut
from parking.identity import service as identity
from parking.identity.access import Principal, require
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots import service as lots
from parking.lots.models import Lot, Space
from parking.lots.schemas import LotKind, SpaceKind
from parking.lots.service import lot_tariff
from parking.lots.sharing import covers
from parking.lots.states import GATE_COUNTED, SENSOR_HORIZON
from parking.lots.tariff import fee_fen
from parking.sessions import payments
from parking.sessions import repository as sessions_repo
from parking.sessions import service as sessions
from parking.sessions.models import Payment
from parking.sessions.payments import PaymentProvider
from parking.sessions.refunds import RefundReason
from parking.unit import Ctx

log = structlog.get_logger(__name__)


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
        charging=bool(booking.charging),
    )


async def create_booking(
    ctx: Ctx, principal: Principal, data: BookingIn, idempotency_key: str | None
) -> tuple[BookingOut, bool]:
    """``(booking, created)``; a retry with the same Idempotency-Key returns the first booking.

    On PostgreSQL, when the booking is the unit's only write, one server-side function does it
    in one round trip (``one_statement``); otherwise, and for what that function leaves
    to Python, the ORM path (``_create``). Both answer alike: same checks in the same order, same
    errors, the exclusion constraint the judge of double bookings."""
    # a booking with charging needs an EV space: the ORM path picks it (the function knows no kinds)
    db = None if data.charging else ctx.one_statement_ok()
    if db is not None:
        done = await one_statement.create_in_one_statement(ctx, db, principal, data, idempotency_key)
        if done is not None:
            return done
    booking, created = await _create(ctx, principal, data, idempotency_key)
    return booking_out(booking), created


async def _create(
    ctx: Ctx, principal: Principal, data: BookingIn, idempotency_key: str | None
) -> tuple[Booking, bool]:
    """``(booking, created)``; a retry with the same Idempotency-Key returns the first booking."""
    require(principal, Role.DRIVER)
    assert principal.id is not None
    fingerprint = rules.fingerprint(data)
    if idempotency_key is not None:
        existing = await repo.booking_by_key(ctx.db, principal.id, idempotency_key)
        if existing is not None:
            return _replayed(existing, fingerprint), False
    plate = await identity.require_own_plate(ctx, principal, data.plate)
    start, end = data.start, data.end
    if (problem := rules.window_problem(ctx, start)) is not None:
        raise problem
    lot = await lots_repo.get_lot(ctx.db, data.lot_id)
    if lot is None:
        raise rules.refused("lot_not_found")
    if await identity.operator_suspended(ctx, lot.operator_id):  # nobody runs its gates now
        raise rules.refused("lot_suspended")
    starts_now = start <= ctx.now + SENSOR_HORIZON
    if lot.kind == GATE_COUNTED:
        lot = await lots_repo.lock_lot(ctx.db, lot.id) or lot
        bookings = await repo.live_bookings_overlapping(ctx.db, lot.id, start, end)
        await _check_capacity(ctx, lot, bookings, start, end, starts_now)
    price = fee_fen(lot_tariff(lot), start, end)
    for _ in range(rules.ROUNDS):
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
        raise rules.refused("no_space")
    if lot.kind == GATE_COUNTED and data.space_id is None and not await _has_bookable(ctx, lot):
        # a gate-counted garage without bookable spaces holds a place, not a space
        booking = await _insert(ctx, principal.id, lot, None, plate, data, price, idempotency_key)
        if booking is not None:
            return booking, True
    raise rules.refused("no_space")


def _replayed(existing: Booking, fingerprint: str) -> Booking:
    """The key's first booking, if the retry asks the same; a key reused for another request is
    refused (the IETF Idempotency-Key draft: the key names one request)."""
    rules.check_replay(existing.idempotency_fingerprint, fingerprint)
    return existing


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
    values = rules.new_row(
        ctx,
        driver_id,
        lot.id,
        space.id if space else None,
        plate,
        data,
        price,
        idempotency_key,
        rules.fingerprint(data),
    )
    # The exclusion constraint (PostgreSQL) or the idempotency key decides: no row, no booking.
    if not await repo.insert_booking(ctx.db, values):
        return None
    booking = Booking(**values)  # what was stored, for the answer (not attached to the session)
    _touch_if_current(ctx, booking)
    return booking


def _touch_if_current(ctx: Ctx, booking: Booking) -> None:
    """Refresh the lot's live snapshot only if the booking changes what is free now; a booking
    for next week leaves the current picture as it is (and costs no refresh)."""
    rules.touch_window(ctx, booking.lot_id, booking.start_ts, booking.end_ts)


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


async def _candidates(ctx: Ctx, lot: Lot, data: BookingIn, starts_now: bool) -> list[Space]:
    shared = lot.kind == LotKind.RESIDENTIAL_SHARED
    if data.space_id is not None:
        space = await lots_repo.get_space(ctx.db, data.space_id)
        if space is None or space.lot_id != lot.id:
            raise rules.refused("space_not_found")
        shared = shared or bool(space.shared_windows)
    rows = await repo.free_spaces_for(
        ctx.db,
        lot.id,
        data.start,
        data.end,
        kind=SpaceKind.EV if data.charging else data.space_kind,
        skip_occupied=starts_now,
        # windows are checked here, not in SQL, so a shared lot needs all its free spaces
        limit=None if shared or data.space_id is not None else rules.CANDIDATES,
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
