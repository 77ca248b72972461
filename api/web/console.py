"""``/console``: the operators' and the district admins' pages.

A token is exchanged for an HttpOnly, SameSite=Strict session cookie; every page resolves the
caller again and calls the services the ``/v1/operator`` and ``/v1/admin`` endpoints call, so the
rules are the API's: an operator sees only its own lots and their data (another operator's lot
answers 404 here too), an admin sees the district.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import CtxDep, LiveDep, StateDep
from api.web.auth import CONSOLE_COOKIE, CheckedForm, ConsoleUser, set_session_cookie, sign_in
from api.web.public import error_page, see_other
from api.web.render import cards_json, page
from core.errors import DomainError, Invalid
from parking.availability import service as availability
from parking.bookings import listing as bookings
from parking.events import review
from parking.events import service as events
from parking.identity import service as identity
from parking.identity.access import Principal, operator_scope
from parking.identity.schemas import DeviceKind, Role
from parking.lots import service as lots
from parking.lots.sharing import open_at
from parking.lots.tariff import SHANGHAI
from parking.ntrip import live as ntrip_live
from parking.reports import service as reports
from parking.search import service as search
from parking.search.overview import lot_cards, lot_names
from parking.sessions import service as sessions
from parking.tracks import service as tracks
from parking.unit import Ctx

router = APIRouter(prefix="/console", include_in_schema=False)
LISTED = 200
FIX_NAMES = {4: "fixed", 5: "float", 2: "dgnss", 1: "single"}


def fix_name(quality: object) -> str:
    return FIX_NAMES.get(quality if isinstance(quality, int) else -1, "single")


def _safe_next(value: object) -> str:
    """Only our own console paths: never an open redirect."""
    text = str(value or "")
    return text if text.startswith("/console") and not text.startswith("//") else "/console"


def shanghai_midnight(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def console_page(
    request: Request, template: str, user: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return page(
        request, template, status_code=status_code, user=user, is_admin=user.role == Role.ADMIN, **context
    )


# --- signing in and out -----------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/console") -> HTMLResponse:
    return page(
        request,
        "signin.html",
        failed=False,
        action="/console/login",
        title_key="console.login",
        help_key="console.login_help",
        next_path=_safe_next(next),
    )


@router.post("/login", response_class=HTMLResponse, response_model=None)
async def login(request: Request, form: CheckedForm) -> Response:
    try:
        signed = await sign_in(
            request, CONSOLE_COOKIE, str(form.get("token") or ""), (Role.OPERATOR, Role.ADMIN)
        )
    except DomainError:
        return page(
            request,
            "signin.html",
            status_code=401,
            failed=True,
            action="/console/login",
            title_key="console.login",
            help_key="console.login_help",
            next_path=_safe_next(form.get("next")),
        )
    response = see_other(_safe_next(form.get("next")))
    set_session_cookie(request, response, CONSOLE_COOKIE, signed, "strict")
    return response


@router.post("/logout")
async def logout(request: Request, form: CheckedForm) -> Response:
    response = see_other("/console/login")
    response.delete_cookie(CONSOLE_COOKIE, path="/")
    return response


# --- the district map and a lot ---------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def home(request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser) -> HTMLResponse:
    """Every lot of the operator (of the district for an admin) live on the map."""
    cards = await lot_cards(ctx, live, operator_scope(user))
    return console_page(
        request,
        "console_home.html",
        user,
        cards=cards,
        cards_json=cards_json(cards),
        lot_href="/console/lots/",
        live_url="/console/live",
        vehicles_url="/console/vehicles.json",
        center=None,
    )


@router.get("/lots/{lot_id}", response_class=HTMLResponse)
async def lot_page(
    lot_id: uuid.UUID, request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser
) -> HTMLResponse:
    """Spaces grid, entrance congestion, the last events, today's bookings and stays."""
    await lots.own_lot_out(ctx, user, lot_id)  # another operator's lot: 404, as in the API
    spaces = await _spaces(ctx, user, lot_id)
    detail = await search.detail(ctx, live, lot_id, None)
    midnight = shanghai_midnight(ctx.now)
    return console_page(
        request,
        "console_lot.html",
        user,
        lot=detail,
        spaces=spaces,
        events=await review.last_events(ctx, user, lot_id),
        bookings=await bookings.operator_bookings(
            ctx, user, lot_id=lot_id, day=midnight.date(), status=None, limit=LISTED
        ),
        stays=await sessions.operator_sessions(
            ctx, user, lot_id=lot_id, status=None, since=midnight, until=None, limit=LISTED
        ),
        live_url="/console/live",
    )


async def _spaces(ctx: Ctx, user: Principal, lot_id: uuid.UUID) -> list[Any]:
    out = []
    for space in await availability.own_lot_spaces(ctx, user, lot_id):
        shared_now = bool(space.shared_windows) and open_at(space.shared_windows, ctx.now)
        out.append({"space": space, "shared": bool(space.shared_windows), "shared_now": shared_now})
    return out


@router.get("/vehicles.json")
async def vehicles(ctx: CtxDep, state: StateDep, user: ConsoleUser) -> JSONResponse:
    """Live vehicles (the operator's receivers, every one for an admin) and base stations."""
    out: list[dict[str, Any]] = []
    devices = (
        await identity.district_devices(ctx, user, None)
        if user.role == Role.ADMIN
        else await identity.operator_devices(ctx, user)
    )
    for device in devices:
        if device.kind != DeviceKind.GNSS_RECEIVER:
            continue
        try:
            pos = await tracks.latest_position(ctx, user, device.id, state.live_store)
        except DomainError:
            continue
        out.append(
            {
                "id": str(device.id),
                "name": device.name,
                "lat": pos["lat"],
                "lon": pos["lon"],
                "fix": fix_name(pos.get("quality")),
            }
        )
    bases = [
        {"mount": m["mount"], "lat": m["base"]["lat"], "lon": m["base"]["lon"], "online": m.get("online")}
        for m in await ntrip_live.mount_states(ctx, user, state.live_store)
        if m.get("base")
    ]
    return JSONResponse({"vehicles": out, "bases": bases})


# --- review and money -------------------------------------------------------------------------


@router.get("/flags", response_class=HTMLResponse)
async def flags_page(
    request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser, done: str = ""
) -> HTMLResponse:
    names = await lot_names(ctx, operator_scope(user))
    return console_page(
        request,
        "console_flags.html",
        user,
        flags=await review.flag_queue(ctx, user, unresolved_only=True, limit=LISTED),
        resolved=await review.flag_queue(ctx, user, unresolved_only=False, limit=20),
        names=names,
        done=done,
    )


@router.post("/flags/{flag_id}/resolve", response_class=HTMLResponse, response_model=None)
async def resolve(
    flag_id: uuid.UUID, request: Request, ctx: CtxDep, user: ConsoleUser, form: CheckedForm
) -> Response:
    """The same rule as ``POST /v1/operator/flags/{id}/resolve``: a reason, own lots only."""
    reason = str(form.get("reason") or "").strip()
    try:
        if not 1 <= len(reason) <= 1000:
            raise Invalid("a resolution needs a reason (1-1000 characters)", code="reason_required")
        await events.resolve_flag(ctx, user, flag_id, reason)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    return see_other(f"/console/flags?done={flag_id}")


@router.get("/bookings", response_class=HTMLResponse)
async def bookings_page(
    request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser, lot_id: uuid.UUID | None = None
) -> HTMLResponse:
    """Bookings at my lots (``GET /v1/operator/bookings``), latest start first."""
    names = await lot_names(ctx, operator_scope(user))
    rows = await bookings.operator_bookings(ctx, user, lot_id=lot_id, day=None, status=None, limit=LISTED)
    return console_page(request, "console_bookings.html", user, bookings=rows, names=names)


@router.get("/sessions", response_class=HTMLResponse)
async def sessions_page(request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser) -> HTMLResponse:
    """Stays at my lots and the money they left owed."""
    names = await lot_names(ctx, operator_scope(user))
    stays = await sessions.operator_sessions(
        ctx, user, lot_id=None, status=None, since=None, until=None, limit=LISTED
    )
    owed = await sessions.operator_receivables(ctx, user, plate=None, open_only=False, limit=LISTED)
    outstanding = sum(r.amount_fen for r in owed if r.settled_at is None)
    return console_page(
        request, "console_sessions.html", user, stays=stays, owed=owed, outstanding=outstanding, names=names
    )


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    ctx: CtxDep,
    live: LiveDep,
    user: ConsoleUser,
    lot_id: uuid.UUID | None = None,
    days: Annotated[int, Query(ge=1, le=31)] = 14,
) -> HTMLResponse:
    """Revenue per lot and day, occupancy per hour of one lot (the last 24 h)."""
    cards = await lot_cards(ctx, live, operator_scope(user))
    names = {c.id: c.name for c in cards}
    midnight = shanghai_midnight(ctx.now)
    start = midnight - timedelta(days=days - 1)
    revenue = await reports.revenue(ctx, user, start, midnight + timedelta(days=1))
    day_labels = [(start + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    per_day = dict.fromkeys(day_labels, 0)
    for row in revenue:
        if row.day in per_day:
            per_day[row.day] += row.revenue_fen
    chosen = lot_id or (cards[0].id if cards else None)
    occupancy = []
    hour = ctx.now.replace(minute=0, second=0, microsecond=0)
    if chosen is not None:
        occupancy = await reports.occupancy(
            ctx, user, chosen, hour - timedelta(hours=23), hour + timedelta(hours=1), "hour"
        )
    charts = {
        "revenue": {
            "x": [int((start + timedelta(days=i)).timestamp()) for i in range(days)],
            "y": [per_day[d] / 100 for d in day_labels],
        },
        "occupancy": {
            "x": [int(b.start.timestamp()) for b in occupancy],
            "y": [round(b.occupancy_ratio * 100, 1) for b in occupancy],
        },
    }
    return console_page(
        request,
        "console_reports.html",
        user,
        revenue=revenue,
        per_day=per_day,
        cards=cards,
        chosen=chosen,
        names=names,
        occupancy=occupancy,
        days=days,
        charts_json=json.dumps(charts),
    )
