"""``/console``'s positioning and district-admin pages: NTRIP mounts, tracks and RTK plots;
district occupancy and revenue, operators, device tokens. The rules are the API's, as in
``api.web.console``."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from api.cli_rtk import Q_STYLE, track_figure
from api.deps import CtxDep, LiveDep, StateDep
from api.state import AppState
from api.web.auth import CheckedForm, ConsoleUser
from api.web.console import console_page, shanghai_midnight
from api.web.public import error_page
from core.errors import DomainError, Forbidden, Invalid
from gnss.rtk.posfile import PosFormatError, read_pos
from parking.identity import service as identity
from parking.identity.access import Principal, operator_scope
from parking.identity.schemas import DeviceIn, DeviceKind, Role
from parking.lots import service as lots
from parking.lots.tariff import SHANGHAI
from parking.ntrip import live as ntrip_live
from parking.ntrip import service as ntrip
from parking.reports import district
from parking.reports.schemas import DistrictBucket
from parking.search.overview import lot_capacities, lot_cards
from parking.tracks import service as tracks
from parking.unit import Ctx

router = APIRouter(prefix="/console", include_in_schema=False)


# --- positioning ------------------------------------------------------------------------------


async def _positioning(
    request: Request,
    ctx: Ctx,
    state: AppState,
    user: Principal,
    receiver: uuid.UUID | None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    devices = (
        await identity.district_devices(ctx, user, None)
        if user.role == Role.ADMIN
        else await identity.operator_devices(ctx, user)
    )
    track = await tracks.track_geojson(ctx, user, receiver, None, None) if receiver is not None else None
    context: dict[str, Any] = {"pos_plot": None, "pos_summary": None, **extra}
    return console_page(
        request,
        "console_positioning.html",
        user,
        status_code=status_code,
        mounts=await ntrip_live.mount_states(ctx, user, state.live_store),
        users=await ntrip.users_of(ctx, user),
        receivers=[d for d in devices if d.kind == DeviceKind.GNSS_RECEIVER],
        chosen=receiver,
        track=track,
        track_json=json.dumps(track) if track else "null",
        **context,
    )


@router.get("/positioning", response_class=HTMLResponse)
async def positioning_page(
    request: Request, ctx: CtxDep, state: StateDep, user: ConsoleUser, receiver: uuid.UUID | None = None
) -> HTMLResponse:
    """NTRIP mounts with the caster's live figures, rover accounts, a vehicle's track."""
    return await _positioning(request, ctx, state, user, receiver)


def pos_plot(text: str, title: str) -> tuple[str, dict[str, Any]]:
    """An RTKLIB ``.pos`` file drawn as ``beidou rtk plot`` draws it (PNG, base64), with the share
    of epochs per solution quality. CPU work: run it in a thread."""
    sols = read_pos(io.StringIO(text))
    if len(sols) == 0:
        raise Invalid("no solutions in the file", code="empty_pos")
    figure = track_figure(sols, title=title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    counts = {label: int((sols.q == q).sum()) for q, (label, _) in Q_STYLE.items() if (sols.q == q).any()}
    return base64.b64encode(buffer.getvalue()).decode(), {"epochs": len(sols), "quality": counts}


@router.post("/positioning/pos", response_class=HTMLResponse, response_model=None)
async def upload_pos(
    request: Request, ctx: CtxDep, state: StateDep, user: ConsoleUser, form: CheckedForm
) -> Response:
    """An uploaded RTK solution file shown as a plot (nothing is stored)."""
    upload = form.get("pos")
    try:
        if not isinstance(upload, UploadFile):
            raise Invalid("choose a .pos file", code="pos_required")
        text = (await upload.read()).decode("utf-8", errors="replace")
        try:
            png, summary = await asyncio.to_thread(pos_plot, text, upload.filename or ".pos")
        except PosFormatError as exc:
            raise Invalid(f"not an RTKLIB .pos file: {exc}", code="bad_pos") from exc
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    return await _positioning(request, ctx, state, user, None, pos_plot=png, pos_summary=summary)


# --- admin ------------------------------------------------------------------------------------


def _admin(user: Principal) -> None:
    if user.role != Role.ADMIN:
        raise Forbidden("this page is for the district admin")


@router.get("/admin/district", response_class=HTMLResponse)
async def district_page(request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser) -> HTMLResponse:
    """The district now (every lot's live counts) and revenue per day (14 days, as
    ``/v1/admin/revenue``); the hourly occupancy history loads after the page (it reads every
    lot's sensor history: seconds for 500 lots, see benchmarks/web_pages.py)."""
    _admin(user)
    cards = await lot_cards(ctx, live, None)
    midnight = shanghai_midnight(ctx.now)
    start_d = midnight - timedelta(days=13)
    money = await district.revenue(ctx, user, start_d, midnight + timedelta(days=1), DistrictBucket.DAY)
    per_day: dict[datetime, int] = {start_d + timedelta(days=i): 0 for i in range(14)}
    for row in money:
        key = row.start.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        if key in per_day:
            per_day[key] += row.revenue_fen
    charts = {
        "revenue": {"x": [int(d.timestamp()) for d in per_day], "y": [v / 100 for v in per_day.values()]}
    }
    return console_page(
        request,
        "console_district.html",
        user,
        charts_json=json.dumps(charts),
        lots=len(cards),
        capacity=sum(c.capacity for c in cards),
        occupied=sum(c.occupied for c in cards),
        free=sum(c.free_spaces for c in cards),
        revenue_fen=sum(per_day.values()),
    )


@router.get("/admin/district/occupancy.json")
async def district_occupancy(ctx: CtxDep, user: ConsoleUser) -> JSONResponse:
    """District occupancy per hour of the last 24 h: every lot's time-weighted occupied count
    (``/v1/admin/occupancy``) summed, over the district's capacity, in %."""
    _admin(user)
    hour = ctx.now.replace(minute=0, second=0, microsecond=0)
    per_lot = await district.occupancy(
        ctx, user, hour - timedelta(hours=23), hour + timedelta(hours=1), DistrictBucket.HOUR
    )
    total = sum(c for c in (await lot_capacities(ctx)).values()) or 1
    occupied: dict[datetime, float] = {}
    for lot in per_lot:
        for b in lot.buckets:
            occupied[b.start] = occupied.get(b.start, 0.0) + b.avg_occupied
    hours = sorted(occupied)
    return JSONResponse(
        {"x": [int(t.timestamp()) for t in hours], "y": [round(100 * occupied[t] / total, 1) for t in hours]}
    )


@router.get("/admin/operators", response_class=HTMLResponse)
async def operators_page(request: Request, ctx: CtxDep, user: ConsoleUser) -> HTMLResponse:
    return console_page(
        request, "console_operators.html", user, operators=await district.operators(ctx, user), created=None
    )


@router.post("/admin/operators", response_class=HTMLResponse, response_model=None)
async def create_operator(request: Request, ctx: CtxDep, user: ConsoleUser, form: CheckedForm) -> Response:
    """A new operator; its token is shown on this one answer (like ``POST /v1/admin/operators``)."""
    name = str(form.get("name") or "").strip()
    try:
        _admin(user)
        if not 1 <= len(name) <= 200:
            raise Invalid("an operator needs a name (1-200 characters)", code="name_required")
        created = await identity.create_operator(ctx, user, name)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    await ctx.flush()
    response = console_page(
        request,
        "console_operators.html",
        user,
        status_code=201,
        operators=await district.operators(ctx, user),
        created=created,
    )
    return response


@router.get("/devices", response_class=HTMLResponse)
async def devices_page(request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser) -> HTMLResponse:
    cards = await lot_cards(ctx, live, operator_scope(user))
    devices = (
        await identity.district_devices(ctx, user, None)
        if user.role == Role.ADMIN
        else await identity.operator_devices(ctx, user)
    )
    names = {c.id: c.name for c in cards}
    return console_page(
        request,
        "console_devices.html",
        user,
        devices=devices,
        cards=cards,
        names=names,
        created=None,
        kinds=list(DeviceKind),
    )


@router.post("/devices", response_class=HTMLResponse, response_model=None)
async def create_device(
    request: Request, ctx: CtxDep, live: LiveDep, user: ConsoleUser, form: CheckedForm
) -> Response:
    """A device token bound to one of my lots (``POST /v1/operator/devices``), shown once."""
    try:
        try:
            data = DeviceIn(
                lot_id=uuid.UUID(str(form.get("lot_id"))),
                kind=DeviceKind(str(form.get("kind"))),
                name=str(form.get("name") or "").strip(),
            )
        except ValueError as exc:
            raise Invalid("a device needs a lot, a kind and a name", code="bad_device") from exc
        created = await lots.add_device(ctx, user, data)
    except DomainError as exc:
        return await error_page(request, ctx, exc)
    cards = await lot_cards(ctx, live, operator_scope(user))
    devices = (
        await identity.district_devices(ctx, user, None)
        if user.role == Role.ADMIN
        else await identity.operator_devices(ctx, user)
    )
    return console_page(
        request,
        "console_devices.html",
        user,
        status_code=201,
        devices=devices,
        cards=cards,
        names={c.id: c.name for c in cards},
        created=created,
        kinds=list(DeviceKind),
    )
