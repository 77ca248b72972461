from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api.background import send_refunds
from api.deps import Caller, CtxDep, StateDep
from api.state import AppState
from api.web.render import page
from core.errors import Forbidden, Invalid, NotFound, Unavailable
from parking.bookings import money
from parking.sessions import payments
from parking.sessions import service as sessions
from parking.sessions.payments import (
    SANDBOX_CHECKOUT_PATH,
    SIGNATURE_HEADER,
    PaymentProvider,
    SandboxProvider,
    payment_out,
)
from parking.sessions.schemas import PaymentOut, SessionOut
from parking.unit import Ctx

router = APIRouter(tags=["sessions and payments"])


@router.get("/v1/sessions/{session_id}", response_model=SessionOut)
async def get_session(session_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> SessionOut:
    """A parking session with its running fee until exit."""
    return await sessions.visible_session_out(ctx, caller, session_id)


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
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=128)],
    provider: str | None = None,
) -> PaymentOut:
    """Pay what the stay costs now; one payment however many times it is retried (the same key
    with another request is refused). The answer's ``checkout_url`` is the provider's page where
    the driver completes the payment."""
    chosen = choose_provider(state, provider)
    payment, created = await payments.pay(ctx, caller, session_id, idempotency_key, chosen)
    if not created:
        response.status_code = status.HTTP_200_OK
    return payment_out(payment, chosen)


def choose_provider(state: AppState, name: str | None) -> PaymentProvider:
    if not state.providers:
        raise Unavailable("no payment provider is configured on this platform", code="no_payment_provider")
    if name is None:
        return next(iter(state.providers.values()))
    chosen = state.providers.get(name)
    if chosen is None:
        raise Invalid(f"unknown payment provider {name!r}", code="unknown_provider")
    return chosen


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
    settlement = await money.settle_callback(ctx, chosen, body, signature)
    _after_settlement(ctx, state, settlement)
    return payment_out(settlement.payment)


def _sandbox(state: AppState) -> SandboxProvider:
    provider = state.providers.get("sandbox")
    if not isinstance(provider, SandboxProvider):  # off: the checkout does not exist
        raise NotFound("checkout not found", code="checkout_not_found")
    return provider


@router.get(
    SANDBOX_CHECKOUT_PATH + "/{token}",
    response_class=HTMLResponse,
    summary="Sandbox checkout page (only where BEIDOU_PAYMENT_SANDBOX is on)",
)
async def sandbox_checkout_page(token: str, request: Request, ctx: CtxDep, state: StateDep) -> HTMLResponse:
    """The page the driver's app opens: the amount and Pay / Decline buttons."""
    payment = await payments.sandbox_checkout_payment(ctx, _sandbox(state), token)
    response = page(request, "sandbox_checkout.html", payment=payment_out(payment))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(
    SANDBOX_CHECKOUT_PATH + "/{token}",
    response_model=PaymentOut,
    summary="Complete a sandbox checkout: the sandbox then sends its signed callback",
    responses={303: {"description": "form post: back to the checkout page"}},
)
async def sandbox_checkout_complete(
    token: str,
    request: Request,
    ctx: CtxDep,
    state: StateDep,
    outcome: Annotated[Literal["succeeded", "failed"], Form()] = "succeeded",
) -> Any:
    """The payer's decision (a form post from the page, or ``outcome`` from an app). The link
    itself is the credential: a MAC of the payment reference under the provider's secret."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden("cross-site form post refused", code="cross_site")
    settlement = await money.complete_checkout(ctx, _sandbox(state), token, outcome)
    _after_settlement(ctx, state, settlement)
    if "text/html" in request.headers.get("accept", ""):  # the page's form: back to the page
        return RedirectResponse(request.url.path, status_code=status.HTTP_303_SEE_OTHER)
    return payment_out(settlement.payment)


def _after_settlement(ctx: Ctx, state: AppState, settlement: payments.Settlement) -> None:
    """A settled booking payment may have queued refunds: send them once the commit is done."""
    if settlement.changed and settlement.payment.booking_id is not None:
        ctx.after_commit.append(lambda: send_refunds(state))
