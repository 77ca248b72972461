"""The public parking page at ``/`` (no sign-in) and the driver's own pages.

The page renders the same ``LotCard`` list the console's map uses; a signed-in driver books,
pays through the configured provider's checkout and sees their bookings and stays, through the
very services the JSON API calls (``/v1/bookings``, ``/v1/me/...``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import CtxDep, LiveDep, StateDep
from api.errors import status_of
from api.routers.sessions import choose_provider
from api.web.auth import DRIVER_COOKIE, CheckedForm, DriverUser, set_session_cookie, sign_in
from api.web.render import cards_json, page
from core.errors import DomainError, Invalid, Unauthenticated
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn, BookingStatus
from parking.identity import service as identity
from parking.identity.access import Principal
from parking.identity.schemas import PlateIn, Role
from parking.lots.tariff import SHANGHAI
from parking.search.overview import lot_cards, lot_names, nearest_free
from parking.sessions import payments
from parking.sessions import service as sessions
from parking.sessions.payments import payment_out
from parking.unit import Ctx

router = APIRouter(include_in_schema=False)
MAX_LISTED = 50


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


async def error_page(request: Request, ctx: Ctx, exc: DomainError) -> HTMLResponse:
    """A refused form post: nothing of it is kept (the unit's work is rolled back), and the
    page says why with the status the API would answer."""
    await ctx.db.rollback()
    ctx.changed_lots.clear()
    ctx.after_commit.clear()
    return page(request, "error.html", status_code=status_of(exc), detail=exc.detail, code=exc.code)


def next_local_hour(now: datetime) -> datetime:
    return now.astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    ctx: CtxDep,
    live: LiveDep,
    driver: DriverUser,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> HTMLResponse:
    """Every lot with its live free count, tariff and shared windows; the nearest with space."""
    cards = await lot_cards(ctx, live, None)
    nearest = nearest_free(cards, lat, lon) if lat is not None and lon is not None else None
    plates = [p.plate for p in await identity.driver_plates(ctx, driver)] if driver else []
    return page(
        request,
        "index.html",
        cards=cards,
        cards_json=cards_json(cards),
        form_key=uuid.uuid4().hex,
        lot_href=None,
        nearest=nearest,
        located=lat is not None and lon is not None,
        center=(lat, lon) if lat is not None and lon is not None else None,
        driver=driver,
        plates=plates,
        start_default=next_local_hour(ctx.now).strftime("%Y-%m-%dT%H:%M"),
        live_url="/live/lots",
    )


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> HTMLResponse:
    return page(request, "signin.html", failed=False, action="/signin", title_key="signin.title")


@router.post("/signin", response_class=HTMLResponse, response_model=None)
async def signin(request: Request, form: CheckedForm) -> Response:
    """The driver's token for a session cookie (HttpOnly, SameSite=Lax: links from elsewhere
    to ``/`` still show the driver signed in; every form post also needs the CSRF token)."""
    try:
        signed = await sign_in(request, DRIVER_COOKIE, str(form.get("token") or ""), (Role.DRIVER,))
    except DomainError:
        return page(
            request, "signin.html", status_code=401, failed=True, action="/signin", title_key="signin.title"
        )
    response = see_other("/me")
    set_session_cookie(request, response, DRIVER_COOKIE, signed, "lax")
    return response


@router.post("/signout")
async def signout(request: Request, form: CheckedForm) -> RedirectResponse:
    response = see_other("/")
    response.delete_cookie(DRIVER_COOKIE, path="/")
    return response


def _signed_in(driver: Principal | None) -> Principal:
    if driver is None:
        raise Unauthenticated("sign in first", code="signin_required")
    return driver


@router.get("/me", response_class=HTMLResponse, response_model=None)
async def mine(request: Request, ctx: CtxDep, live: LiveDep, driver: DriverUser) -> Response:
    """The driver's bookings (with what is paid), stays and money owed."""
    if driver is None:
        return see_other("/signin")
    own = await bookings.driver_bookings(ctx, driver, MAX_LISTED)
    money = {
        b.id: await bookings.booking_money(ctx, driver, b.id)
        for b in own
        if b.status == BookingStatus.CONFIRMED
    }
    names = await lot_names(ctx, None)
    return page(
        request,
        "mine.html",
        bookings=own,
        money=money,
        stays=await sessions.driver_sessions(ctx, driver, MAX_LISTED),
        owed=await sessions.driver_receivables(ctx, driver),
        plates=[p.plate for p in await identity.driver_plates(ctx, driver)],
        names=names,
        driver=driver,
        pay_key=uuid.uuid4().hex,
    )


@router.post("/me/plates", response_class=HTMLResponse, response_model=None)
async def add_plate(request: Request, ctx: CtxDep, driver: DriverUser, form: CheckedForm) -> Response:
    """Register a plate (as ``POST /v1/me/plates``): bookings are made for one's own plates."""
    try:
        who = _signed_in(driver)
        try:
            plate = PlateIn(plate=str(form.get("plate") or "").strip())
        except ValidationError as exc:
            raise Invalid("that is not a mainland China plate", code="bad_plate") from exc
        await identity.add_plate(ctx, who, plate.plate)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    return see_other("/me")


def _local(value: str) -> datetime:
    try:
        naive = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid("start is YYYY-MM-DDTHH:MM", code="bad_start") from exc
    return naive.replace(tzinfo=SHANGHAI) if naive.tzinfo is None else naive


@router.post("/book", response_class=HTMLResponse, response_model=None)
async def book(request: Request, ctx: CtxDep, driver: DriverUser, form: CheckedForm) -> Response:
    """A booking from the page's form; the form's key makes a double submit one booking."""
    try:
        who = _signed_in(driver)
        start = _local(str(form.get("start") or ""))
        hours = int(str(form.get("hours") or "1"))
        try:
            data = BookingIn(
                lot_id=uuid.UUID(str(form.get("lot_id"))),
                start=start,
                end=start + timedelta(hours=hours),
                plate=str(form.get("plate") or ""),
            )
        except (ValidationError, ValueError) as exc:
            raise Invalid("check the lot, start, hours and plate", code="bad_booking") from exc
        key = str(form.get("key") or "")[:128] or None
        booking, _ = await bookings.create_booking(ctx, who, data, key)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    return see_other(f"/me#booking-{booking.id}")


@router.post("/me/bookings/{booking_id}/pay", response_class=HTMLResponse, response_model=None)
async def pay_booking(
    booking_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    state: StateDep,
    driver: DriverUser,
    form: CheckedForm,
) -> Response:
    """Pay a confirmed booking ahead: on to the provider's checkout page."""
    try:
        who = _signed_in(driver)
        provider = choose_provider(state, None)
        key = str(form.get("key") or "")[:128] or f"web-{booking_id}"
        payment, _ = await bookings.pay_booking(ctx, who, booking_id, key, provider)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    return see_other(payment_out(payment, provider).checkout_url or "/me")


@router.post("/me/sessions/{session_id}/pay", response_class=HTMLResponse, response_model=None)
async def pay_session(
    session_id: uuid.UUID,
    request: Request,
    ctx: CtxDep,
    state: StateDep,
    driver: DriverUser,
    form: CheckedForm,
) -> Response:
    """Pay what a stay costs now (or what it left owed)."""
    try:
        who = _signed_in(driver)
        provider = choose_provider(state, None)
        key = str(form.get("key") or "")[:128] or f"web-{session_id}"
        payment, _ = await payments.pay(ctx, who, session_id, key, provider)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    return see_other(payment_out(payment, provider).checkout_url or "/me")
