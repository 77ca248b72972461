from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from api.deps import Caller, CtxDep
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn, BookingOut

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
    """Cancel; free of charge before the start, the booking's price after it."""
    return await bookings.cancel_booking(ctx, caller, booking_id)
