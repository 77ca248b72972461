from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from api.deps import Caller, CtxDep, StateDep
from core.errors import Invalid, NotFound
from parking import payments, sessions
from parking.payments import SIGNATURE_HEADER, payment_out
from parking.schemas import PaymentOut, SessionOut

router = APIRouter(tags=["sessions and payments"])


@router.get("/v1/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> SessionOut:
    """A parking session with its running fee until exit."""
    parking = await sessions.visible_session(ctx, caller, session_id)
    return (await sessions.render(ctx, [parking]))[0]


@router.post(
    "/v1/sessions/{session_id}/pay",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    responses={200: {"description": "replay: the payment created by this Idempotency-Key"}},
)
async def pay(
    session_id: uuid.UUID,
    ctx: CtxDep,
    caller: Caller,
    state: StateDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
    provider: str = "sandbox",
) -> PaymentOut:
    """Pay what the stay costs now; one payment however many times it is retried."""
    if idempotency_key is None:
        raise Invalid("an Idempotency-Key header is required", code="idempotency_key")
    chosen = state.providers.get(provider)
    if chosen is None:
        raise Invalid(f"unknown payment provider {provider!r}", code="unknown_provider")
    payment, created = await payments.pay(ctx, caller, session_id, idempotency_key, chosen)
    if not created:
        response.status_code = status.HTTP_200_OK
    return payment_out(payment)


@router.post(
    "/v1/payments/callback/{provider}",
    response_model=PaymentOut,
    responses={401: {"description": "bad signature: nothing changed"}},
)
async def payment_callback(
    provider: str,
    request: Request,
    ctx: CtxDep,
    state: StateDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> PaymentOut:
    """Provider-to-us notification, authenticated by its HMAC signature over the raw body."""
    chosen = state.providers.get(provider)
    if chosen is None:
        raise NotFound("unknown payment provider")
    body = await request.body()
    return payment_out(await payments.settle(ctx, chosen, body, signature))
