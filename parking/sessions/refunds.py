"""Money back: refunds decided in the transaction that decides them, sent after the commit.

A refund cannot be atomic with the provider's refund API, so it is an outbox row: ``pending``
when the cancellation (or no-show, or an unused prepayment) commits, then sent to the payment's
provider by :func:`send_pending` (right after the commit, and again by the background sweep until
the provider accepts it). The refund's id goes with the request, so a resend after a crash
between the provider's answer and our commit is one refund at the provider.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import StrEnum

import structlog

from parking.sessions import repository as repo
from parking.sessions.models import Payment, Refund
from parking.sessions.payments import PaymentProvider
from parking.sessions.schemas import PaymentStatus
from parking.unit import Ctx

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 20  # then it stays pending, logged, for an operator


class RefundReason(StrEnum):
    CANCELLATION = "cancellation"  # the booking was cancelled: its price less the tariff's fee
    NO_SHOW = "no_show"  # the car never came: its price less the tariff's fee
    UNUSED = "unused"  # the prepaid booking cost more than the stay it became


async def refundable_fen(ctx: Ctx, payment: Payment) -> int:
    """What of a succeeded payment has not been refunded (or queued for refund) yet."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return 0
    refunded = sum(r.amount_fen for r in await repo.refunds_of_payment(ctx.db, payment.id))
    return payment.amount_fen - refunded


async def queue(
    ctx: Ctx, payment: Payment, amount_fen: int, reason: RefundReason, *, booking_id: uuid.UUID | None
) -> Refund:
    """Decide a refund of ``amount_fen`` on ``payment`` (at most what is left of it)."""
    left = await refundable_fen(ctx, payment)
    if not 0 < amount_fen <= left:
        raise ValueError(f"refund of {amount_fen} fen on a payment with {left} fen refundable")
    refund = Refund(
        id=uuid.uuid4(),
        lot_id=payment.lot_id,
        payment_id=payment.id,
        booking_id=booking_id,
        amount_fen=amount_fen,
        reason=reason,
        provider=payment.provider,
        status="pending",
        attempts=0,
        created_at=ctx.now,
    )
    await repo.insert(ctx.db, refund)
    ctx.refunds_queued = True
    log.info("refund_queued", refund_id=str(refund.id), amount_fen=amount_fen, reason=reason)
    return refund


async def send_pending(ctx: Ctx, providers: Mapping[str, PaymentProvider], limit: int = 100) -> int:
    """Send pending refunds to their providers; the number the providers accepted."""
    accepted = 0
    for refund in await repo.pending_refunds(ctx.db, limit):
        if refund.attempts >= MAX_ATTEMPTS:
            continue
        provider = providers.get(refund.provider)
        payment = await ctx.db.get(Payment, refund.payment_id)
        if provider is None or payment is None:
            continue  # the provider is not configured in this process: another one sends it
        refund.attempts += 1
        try:
            refund.provider_ref = provider.refund(payment.provider_ref, refund.id, refund.amount_fen)
        except Exception as exc:  # the provider refused or is away: retried by the next sweep
            log.warning("refund_not_accepted", refund_id=str(refund.id), error=f"{type(exc).__name__}: {exc}")
            continue
        refund.status = "succeeded"
        refund.settled_at = ctx.now
        accepted += 1
    await ctx.flush()
    return accepted
