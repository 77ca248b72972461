from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import Caller, CtxDep, StateDep
from api.state import AppState
from api.web.render import page
from core.errors import Forbidden, Invalid, NotFound, Unavailable
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
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
    provider: str | None = None,
) -> PaymentOut:
    """Pay what the stay costs now; one payment however many times it is retried. The answer's
    ``checkout_url`` is the provider's page where the driver completes the payment."""
    if idempotency_key is None:
        raise Invalid("an Idempotency-Key header is required", code="idempotency_key")
    chosen = _provider(state, provider)
    payment, created = await payments.pay(ctx, caller, session_id, idempotency_key, chosen)
    if not created:
        response.status_code = status.HTTP_200_OK
    return payment_out(payment, chosen)


def _provider(state: AppState, name: str | None) -> PaymentProvider:
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
    return payment_out(await payments.settle(ctx, chosen, body, signature))


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
    payment = await payments.complete_sandbox_checkout(ctx, _sandbox(state), token, outcome)
    if "text/html" in request.headers.get("accept", ""):  # the page's form: back to the page
        return RedirectResponse(request.url.path, status_code=status.HTTP_303_SEE_OTHER)
    return payment_out(payment)
