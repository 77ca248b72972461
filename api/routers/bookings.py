from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.deps import Caller, CtxDep, StateDep
from api.routers.sessions import choose_provider
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn, BookingMoneyOut, BookingOut
from parking.sessions.payments import payment_out
from parking.sessions.schemas import PaymentOut

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        200: {"description": "replay of an earlier request with the same Idempotency-Key"},
        409: {"description": "no space is free for the whole window"},
    },
)
async def create_booking(
    body: BookingIn,
    ctx: CtxDep,
    caller: Caller,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book a space (or a place in a gate-counted garage) for a window; price = tariff for it."""
    booking, created = await bookings.create_booking(ctx, caller, body, idempotency_key)
    if not created:
        response.status_code = status.HTTP_200_OK
    return booking


@router.get("/{booking_id}", response_model=BookingOut)
async def get_booking(booking_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> BookingOut:
    return await bookings.get_booking(ctx, caller, booking_id)


@router.post("/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(booking_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> BookingOut:
    """Cancel under the lot tariff's cancellation rule: free until ``free_until_min`` before the
    start, then ``fee_pct`` of the price (``cancel_fee_fen``); a prepayment beyond the fee is
    refunded (see ``/payments``)."""
    return await bookings.cancel_booking(ctx, caller, booking_id)


@router.post(
    "/{booking_id}/pay",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses={
        200: {"description": "replay: the payment created by this Idempotency-Key"},
        409: {"description": "the booking is not confirmed, or is paid already"},
    },
)
async def pay_booking(
    booking_id: uuid.UUID,
    ctx: CtxDep,
    caller: Caller,
    state: StateDep,
    response: Response,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=128)],
    provider: str | None = None,
) -> PaymentOut:
    """Pay a confirmed booking's price ahead. At check-in it counts on the stay (the gate opens
    when it covers the stay's fee); cancelled, it is refunded less the tariff's cancellation fee;
    what the stay does not use is refunded when the car leaves."""
    chosen = choose_provider(state, provider)
    payment, created = await bookings.pay_booking(ctx, caller, booking_id, idempotency_key, chosen)
    if not created:
        response.status_code = status.HTTP_200_OK
    return payment_out(payment, chosen)


@router.get("/{booking_id}/payments", response_model=BookingMoneyOut)
async def booking_payments(booking_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> BookingMoneyOut:
    """The booking's money: price, paid ahead, pending, cancellation fee kept, refunds."""
    return await bookings.booking_money(ctx, caller, booking_id)
