"""Paying for a stay: providers behind a Protocol, idempotent requests, signed callbacks.

The driver asks to pay (with an ``Idempotency-Key``); we price the stay as of now, record a
pending payment and hand it to the provider, whose checkout the app opens. The provider confirms
later through a callback that must carry a valid HMAC signature; only then does the session count
as paid. Retries of either step have one effect.

The sandbox provider (on only where ``BEIDOU_PAYMENT_SANDBOX`` says so) has a checkout of its own:
completing it makes the provider send the signed callback itself, through the same verification
as a callback from outside, so the demo's pay -> gate-open flow needs nobody to sign by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

import structlog
from pydantic import ValidationError

from core.errors import Conflict, Invalid, NotFound, Unauthenticated
from core.security import hmac_sha256_hex
from parking.identity.access import Principal, require
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots.service import lot_tariff
from parking.sessions import repository as repo
from parking.sessions.models import Payment
from parking.sessions.schemas import PaymentCallbackIn, PaymentOut, PaymentStatus
from parking.sessions.service import owed_fen, settle_receivable, visible_session
from parking.unit import Ctx

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Beidou-Signature"


class PaymentProvider(Protocol):
    name: str

    def start(self, payment_id: uuid.UUID, amount_fen: int) -> str:
        """Register the payment with the provider; return its reference."""
        ...

    def verify(self, body: bytes, signature: str | None) -> bool:
        """True when a callback body was really sent by the provider."""
        ...

    def checkout_path(self, provider_ref: str) -> str | None:
        """Where the payer completes the payment (the app opens it), if the provider has one."""
        ...

    def refund(self, provider_ref: str, refund_id: uuid.UUID, amount_fen: int) -> str:
        """Ask the provider to pay ``amount_fen`` of a payment back; return the refund's reference
        (the refund id makes a repeated request one refund at the provider). Raises when refused."""
        ...


@dataclass
class SandboxProvider:
    """A provider for development and tests that signs callbacks like real ones (HMAC-SHA256).

    Callbacks are ``{"provider_ref","status","amount_fen"}`` signed as ``sha256=<hex>``. Its
    checkout is a capability URL: the reference plus a MAC of it, so knowing a payment's
    reference (operators see it) is not enough to complete someone else's checkout.
    """

    secret: str
    name: str = "sandbox"

    def start(self, payment_id: uuid.UUID, amount_fen: int) -> str:
        return f"sbx_{payment_id.hex[:12]}_{secrets.token_hex(6)}"

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac_sha256_hex(self.secret, body)

    def verify(self, body: bytes, signature: str | None) -> bool:
        return signature is not None and hmac.compare_digest(self.sign(body), signature)

    def refund(self, provider_ref: str, refund_id: uuid.UUID, amount_fen: int) -> str:
        if amount_fen <= 0 or not provider_ref.startswith("sbx_"):
            raise ValueError("the sandbox refunds only its own payments, by a positive amount")
        return f"sbr_{refund_id.hex[:12]}"

    def checkout_token(self, provider_ref: str) -> str:
        return f"{provider_ref}.{hmac_sha256_hex(self.secret, b'checkout:' + provider_ref.encode())[:32]}"

    def checkout_path(self, provider_ref: str) -> str:
        return f"{SANDBOX_CHECKOUT_PATH}/{self.checkout_token(provider_ref)}"

    def ref_of_token(self, token: str) -> str | None:
        """The payment reference a checkout token stands for, if the token is genuine."""
        if not token.isascii():  # a reference and a hex MAC: anything else is nobody's link
            return None
        ref, _, _ = token.partition(".")
        return ref if ref and hmac.compare_digest(self.checkout_token(ref), token) else None


SANDBOX_CHECKOUT_PATH = "/v1/payments/sandbox/checkout"


def payment_out(payment: Payment, provider: PaymentProvider | None = None) -> PaymentOut:
    checkout = None
    if provider is not None and payment.status == PaymentStatus.PENDING and payment.provider_ref:
        checkout = provider.checkout_path(payment.provider_ref)
    return PaymentOut(
        id=payment.id,
        session_id=payment.session_id,
        booking_id=payment.booking_id,
        amount_fen=payment.amount_fen,
        provider=payment.provider,
        provider_ref=payment.provider_ref,
        status=payment.status,
        created_at=payment.created_at,
        settled_at=payment.settled_at,
        checkout_url=checkout,
    )


async def pay(
    ctx: Ctx, principal: Principal, session_id: uuid.UUID, key: str, provider: PaymentProvider
) -> tuple[Payment, bool]:
    """``(payment, created)``: the same key always yields the same single payment."""
    require(principal, Role.DRIVER)
    parking = await visible_session(ctx, principal, session_id)
    existing = await repo.payment_by_key(ctx.db, key, session_id=parking.id)
    if existing is not None:
        return replayed(existing, provider), False
    lot = await lots_repo.get_lot(ctx.db, parking.lot_id)
    assert lot is not None
    grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
    due = owed_fen(parking, lot_tariff(lot), ctx.now, grace) - parking.paid_fen
    if due <= 0:
        raise Conflict("nothing to pay: the stay is free or already paid", code="nothing_due")
    return await charge(ctx, principal, key, provider, due, lot_id=parking.lot_id, session_id=parking.id)


async def charge(
    ctx: Ctx,
    principal: Principal,
    key: str,
    provider: PaymentProvider,
    amount_fen: int,
    *,
    lot_id: uuid.UUID,
    session_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
) -> tuple[Payment, bool]:
    """Record a pending payment of ``amount_fen`` for a stay or a booking and register it with
    the provider; a concurrent request with the same key gets the payment that won."""
    if not key or len(key) > 128:
        raise Invalid("an Idempotency-Key header (1-128 characters) is required", code="idempotency_key")
    payment = Payment(
        id=uuid.uuid4(),
        session_id=session_id,
        booking_id=booking_id,
        lot_id=lot_id,
        driver_id=principal.id,
        idempotency_key=key,
        idempotency_fingerprint=_fingerprint(provider),
        amount_fen=amount_fen,
        fee_basis_ts=ctx.now,
        provider=provider.name,
        status=PaymentStatus.PENDING,
        created_at=ctx.now,
    )
    payment.provider_ref = provider.start(payment.id, amount_fen)
    if not await repo.insert(ctx.db, payment):
        existing = await repo.payment_by_key(ctx.db, key, session_id=session_id, booking_id=booking_id)
        if existing is None:
            raise Conflict("payment could not be recorded; retry", code="payment_race")
        return replayed(existing, provider), False
    return payment, True


def _fingerprint(provider: PaymentProvider) -> str:
    """What a payment request asks beyond its stay or booking (in the URL): the provider."""
    return hashlib.sha256(f"provider={provider.name}".encode()).hexdigest()


def replayed(existing: Payment, provider: PaymentProvider) -> Payment:
    """The key's first payment, if the retry asks the same; a key reused for another request is
    refused (the IETF Idempotency-Key draft: the key names one request)."""
    if existing.idempotency_fingerprint not in (None, _fingerprint(provider)):
        raise Invalid("this Idempotency-Key was used for a different request", code="idempotency_key_reused")
    return existing


@dataclass(frozen=True, slots=True)
class Settlement:
    """A callback's effect: the payment, and whether this callback changed it (a replay does not)."""

    payment: Payment
    changed: bool


async def settle(ctx: Ctx, provider: PaymentProvider, body: bytes, signature: str | None) -> Settlement:
    """Apply a provider callback. A bad signature changes nothing; a replay changes nothing. A
    stay's payment counts on the stay here; a booking's is the bookings room's to apply."""
    if not provider.verify(body, signature):
        raise Unauthenticated("bad callback signature", code="bad_signature")
    try:
        callback = PaymentCallbackIn.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise Invalid(f"malformed callback body: {exc}", code="bad_callback") from exc
    payment = await repo.payment_by_ref(ctx.db, provider.name, callback.provider_ref, lock=True)
    if payment is None:
        raise NotFound("payment not found")
    if payment.status != PaymentStatus.PENDING:
        return Settlement(payment, changed=False)
    if callback.amount_fen != payment.amount_fen:
        raise Invalid("callback amount differs from the payment", code="amount_mismatch")
    payment.status = callback.status
    payment.settled_at = ctx.now
    if callback.status == "succeeded" and payment.session_id is not None:
        parking = await repo.get_session(ctx.db, payment.session_id)
        assert parking is not None
        parking.paid_fen += payment.amount_fen
        parking.paid_at = ctx.now
        parking.paid_basis_ts = payment.fee_basis_ts
        await settle_receivable(ctx, parking, payment.id)  # a stay that left unpaid, paid now
    await ctx.flush()
    log.info("payment_settled", payment_id=str(payment.id), status=payment.status)
    return Settlement(payment, changed=True)


async def sandbox_checkout_payment(ctx: Ctx, provider: SandboxProvider, token: str) -> Payment:
    """The payment behind a sandbox checkout link; an altered or unknown link is not found."""
    ref = provider.ref_of_token(token)
    payment = None if ref is None else await repo.payment_by_ref(ctx.db, provider.name, ref)
    if payment is None:
        raise NotFound("checkout not found", code="checkout_not_found")
    return payment


async def complete_sandbox_checkout(
    ctx: Ctx, provider: SandboxProvider, token: str, outcome: Literal["succeeded", "failed"]
) -> Settlement:
    """The payer approved (or declined) at the sandbox: the provider sends its signed callback,
    which goes through :func:`settle` exactly as one from outside would."""
    payment = await sandbox_checkout_payment(ctx, provider, token)
    body = json.dumps(
        {"provider_ref": payment.provider_ref, "status": outcome, "amount_fen": payment.amount_fen}
    ).encode()
    return await settle(ctx, provider, body, provider.sign(body))
