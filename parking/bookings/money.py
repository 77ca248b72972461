"""A booking's money: paid ahead, credited to the stay it becomes, refunded under the tariff's
cancellation rule.

- The driver may pay a confirmed booking's price ahead (``POST /v1/bookings/{id}/pay``).
- Cancelled (or a no-show), the booking keeps the tariff's cancellation fee of what was paid; the
  rest is refunded (a refund outbox row, sent after the commit: :mod:`parking.sessions.refunds`).
- Checked in, what was paid counts on the session: the stay's fee is the tariff's for the actual
  stay, less the prepayment, so the gate opens when the prepayment covers it.
- Completed, whatever of the prepayment the stay did not use is refunded.
A prepayment whose callback arrives after any of these is handled as if it had come before.
"""

from __future__ import annotations

from typing import Literal

import structlog

from parking.bookings.models import Booking
from parking.bookings.schemas import BookingStatus
from parking.sessions import payments, refunds
from parking.sessions import repository as sessions_repo
from parking.sessions.models import Payment
from parking.sessions.payments import PaymentProvider
from parking.sessions.refunds import RefundReason
from parking.sessions.schemas import PaymentStatus
from parking.sessions.service import settle_receivable
from parking.unit import Ctx

log = structlog.get_logger(__name__)


async def balance(ctx: Ctx, booking: Booking) -> tuple[int, int, int]:
    """``(paid, pending, refunded)`` fen: succeeded payments, payments awaiting their callback,
    and refunds decided (sent or not)."""
    rows = await sessions_repo.payments_of_booking(ctx.db, booking.id)
    paid = sum(p.amount_fen for p in rows if p.status == PaymentStatus.SUCCEEDED)
    pending = sum(p.amount_fen for p in rows if p.status == PaymentStatus.PENDING)
    refunded = sum(r.amount_fen for r in await sessions_repo.refunds_of_booking(ctx.db, booking.id))
    return paid, pending, refunded


async def due_ahead(ctx: Ctx, booking: Booking) -> int:
    """What paying the booking ahead would charge now: its price less what is paid or on its way."""
    paid, pending, refunded = await balance(ctx, booking)
    return booking.price_fen - (paid - refunded) - pending


async def refund_beyond(ctx: Ctx, booking: Booking, keep_fen: int, reason: RefundReason) -> int:
    """Refund what the booking holds beyond ``keep_fen``, newest payment first; the amount."""
    paid, _, refunded = await balance(ctx, booking)
    excess = paid - refunded - keep_fen
    total = 0
    for payment in reversed(await sessions_repo.payments_of_booking(ctx.db, booking.id)):
        if excess <= 0:
            break
        amount = min(excess, await refunds.refundable_fen(ctx, payment))
        if amount > 0:
            await refunds.queue(ctx, payment, amount, reason, booking_id=booking.id)
            excess -= amount
            total += amount
    return total


async def after_cancellation(ctx: Ctx, booking: Booking, reason: RefundReason) -> int:
    """The booking ended unused: it keeps its cancellation fee, the rest goes back."""
    return await refund_beyond(ctx, booking, booking.cancel_fee_fen, reason)


async def credit_stay(ctx: Ctx, booking: Booking) -> None:
    """At check-in: what was paid ahead counts on the stay."""
    if booking.session_id is None:
        return
    paid, _, refunded = await balance(ctx, booking)
    parking = await sessions_repo.get_session(ctx.db, booking.session_id)
    if parking is not None and paid - refunded > 0:
        parking.paid_fen += paid - refunded
        await ctx.flush()


async def after_stay(ctx: Ctx, booking: Booking) -> int:
    """The booked car left: the prepayment the stay's fee did not use is refunded."""
    if booking.session_id is None:
        return 0
    parking = await sessions_repo.get_session(ctx.db, booking.session_id)
    if parking is None:
        return 0
    unused = parking.paid_fen - parking.fee_fen
    if unused <= 0:
        return 0
    paid, _, refunded = await balance(ctx, booking)
    amount = await refund_beyond(ctx, booking, max(0, paid - refunded - unused), RefundReason.UNUSED)
    parking.paid_fen -= amount
    await ctx.flush()
    return amount


async def after_settlement(ctx: Ctx, payment: Payment) -> None:
    """A booking's prepayment succeeded: apply it to whatever the booking has become since."""
    if payment.booking_id is None or payment.status != PaymentStatus.SUCCEEDED:
        return
    booking = await ctx.db.get(Booking, payment.booking_id)
    if booking is None:
        return
    if booking.status in (BookingStatus.CANCELLED, BookingStatus.NO_SHOW):
        reason = (
            RefundReason.CANCELLATION if booking.status == BookingStatus.CANCELLED else RefundReason.NO_SHOW
        )
        await after_cancellation(ctx, booking, reason)
    elif booking.status == BookingStatus.CHECKED_IN and booking.session_id is not None:
        parking = await sessions_repo.get_session(ctx.db, booking.session_id)
        if parking is not None:
            parking.paid_fen += payment.amount_fen
            await ctx.flush()
    elif booking.status == BookingStatus.COMPLETED:
        parking = (
            None
            if booking.session_id is None
            else await sessions_repo.get_session(ctx.db, booking.session_id)
        )
        if parking is None:
            await refund_beyond(ctx, booking, 0, RefundReason.UNUSED)
        else:  # it counts on the stay (settling what the stay still owed), the rest goes back
            parking.paid_fen += payment.amount_fen
            await settle_receivable(ctx, parking, payment.id)
            await after_stay(ctx, booking)
    log.info("booking_prepayment_applied", booking=str(booking.id), status=booking.status)


async def settle_callback(
    ctx: Ctx, provider: PaymentProvider, body: bytes, signature: str | None
) -> payments.Settlement:
    """A provider's callback, for a stay's payment or a booking's."""
    settlement = await payments.settle(ctx, provider, body, signature)
    if settlement.changed:
        await after_settlement(ctx, settlement.payment)
    return settlement


async def complete_checkout(
    ctx: Ctx, provider: payments.SandboxProvider, token: str, outcome: Literal["succeeded", "failed"]
) -> payments.Settlement:
    """The sandbox checkout completed, for a stay's payment or a booking's."""
    settlement = await payments.complete_sandbox_checkout(ctx, provider, token, outcome)
    if settlement.changed:
        await after_settlement(ctx, settlement.payment)
    return settlement
