from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import BearerDep, Caller, CtxDep, LiveDep, resolve_principal, unit_of_work
from api.state import app_state
from core.live import LiveStoreUnavailable
from parking.availability.service import lot_channel
from parking.lots.schemas import LotKind, SpaceKind, SpaceOut
from parking.search import service as search
from parking.search.schemas import GuidanceHit, LotDetail, LotSearchResult
from parking.types import AwareDatetime
from parking.unit import Ctx

router = APIRouter(prefix="/v1/lots", tags=["lots"])
HEARTBEAT_S = 15.0


@router.get("", response_model=LotSearchResult)
async def search_lots(
    request: Request,
    credentials: BearerDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    radius_m: Annotated[float, Query(gt=0, le=50_000)] = 1000,
    at: AwareDatetime | None = None,
    kind: LotKind | None = None,
    charging: Annotated[
        bool, Query(description="only lots with a free (Available) charger now, with `free_chargers`")
    ] = False,
) -> Response:
    """Lots within ``radius_m`` by distance, with free spaces and the hourly price at ``at``."""
    # The hottest read of the API: one dependency instead of five (each costs per request).
    state = app_state(request)
    await resolve_principal(state, credentials)
    async with unit_of_work(state) as ctx:
        result = await search.search(
            ctx,
            state.live,
            state.directory,
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            at=at,
            kind=kind,
            charging=charging,
        )
    # Built as plain data and serialised once: this is the hottest read of the API.
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("/{lot_id}", response_model=LotDetail)
async def get_lot(
    lot_id: uuid.UUID, ctx: CtxDep, caller: Caller, live: LiveDep, at: AwareDatetime | None = None
) -> LotDetail:
    """One lot with live counts and whether its entrance is congested."""
    return await search.detail(ctx, live, lot_id, at)


@router.get("/{lot_id}/spaces", response_model=list[SpaceOut])
async def lot_spaces(lot_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> list[SpaceOut]:
    return await search.spaces(ctx, lot_id)


@router.get("/{lot_id}/guidance", response_model=list[GuidanceHit])
async def guidance(
    lot_id: uuid.UUID,
    ctx: CtxDep,
    caller: Caller,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    kind: SpaceKind | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
) -> list[GuidanceHit]:
    """The nearest free spaces to drive to, from the driver's position or the lot's centre."""
    return await search.guidance(ctx, lot_id, lat=lat, lon=lon, kind=kind, limit=limit)


@router.get(
    "/{lot_id}/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}},
)
async def live_stream(lot_id: uuid.UUID, request: Request, ctx: CtxDep, caller: Caller) -> StreamingResponse:
    """Server-sent events: an ``availability`` event now and on every change of the lot."""
    await search.require_lot(ctx, lot_id)
    return StreamingResponse(
        _events(request, lot_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def _snapshot(request: Request, lot_id: uuid.UUID) -> dict[str, object]:
    state = app_state(request)
    async with state.sessionmaker() as db:
        return await search.lot_snapshot(Ctx(db=db, settings=state.settings), state.live, lot_id)


async def _events(request: Request, lot_id: uuid.UUID) -> AsyncIterator[bytes]:
    """Initial snapshot, then changes; without a live store, a degraded poll of the database."""
    state = app_state(request)
    queue: asyncio.Queue[dict[str, object] | None] = asyncio.Queue(maxsize=256)

    async def pump() -> None:
        while True:
            try:
                async for message in state.live_store.subscribe(lot_channel(lot_id)):
                    await queue.put(message)
            except LiveStoreUnavailable:
                await queue.put(None)  # tells the loop to send a database snapshot
                await asyncio.sleep(HEARTBEAT_S / 3)

    task = asyncio.create_task(pump())
    try:
        yield _sse("availability", await _snapshot(request, lot_id))
        while not await request.is_disconnected():
            try:
                message = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            yield _sse("availability", message if message is not None else await _snapshot(request, lot_id))
    finally:
        task.cancel()
