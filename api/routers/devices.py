from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from api.deps import Caller, CtxDep
from hardware.anpr import from_openalpr
from parking.availability.service import space_state_now
from parking.events import service as events
from parking.events.schemas import AnprEventIn, AnprResult, Direction, OccupancyEventIn, OccupancyResult
from parking.identity import service as identity
from parking.identity.access import require_device
from parking.identity.schemas import DeviceKind

router = APIRouter(prefix="/v1/devices", tags=["devices"])
REPLAY: dict[int | str, dict[str, Any]] = {
    200: {"description": "this event_id was seen before; same outcome, no new effect"}
}


async def _anpr(ctx: CtxDep, caller: Caller, event: AnprEventIn, response: Response) -> AnprResult:
    lot_id = require_device(caller, DeviceKind.ANPR_CAMERA)
    assert caller.id is not None
    outcome = await events.ingest_anpr(ctx, lot_id, caller.id, event)
    await identity.seen(ctx, caller.id)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    return AnprResult(session_id=outcome.session_id, flagged=outcome.flagged)


@router.post("/anpr", status_code=status.HTTP_201_CREATED, response_model=AnprResult, responses=REPLAY)
async def anpr(body: AnprEventIn, ctx: CtxDep, caller: Caller, response: Response) -> AnprResult:
    """A plate read at the gate: an entry opens a session, an exit closes and prices it."""
    return await _anpr(ctx, caller, body, response)


@router.post(
    "/anpr/openalpr",
    status_code=status.HTTP_201_CREATED,
    response_model=AnprResult,
    responses=REPLAY,
)
async def anpr_openalpr(
    body: Annotated[dict[str, Any], Body()],
    ctx: CtxDep,
    caller: Caller,
    response: Response,
    direction: Annotated[Direction, Query(description="the lane this camera watches")] = Direction.IN,
) -> AnprResult:
    """The same, from an OpenALPR / Rekor Scout webhook (alpr_group or alpr_results)."""
    return await _anpr(ctx, caller, from_openalpr(body, direction), response)


@router.post(
    "/occupancy",
    status_code=status.HTTP_201_CREATED,
    response_model=OccupancyResult,
    responses=REPLAY,
)
async def occupancy(
    body: OccupancyEventIn, ctx: CtxDep, caller: Caller, response: Response
) -> OccupancyResult:
    """An in-space sensor reading; an event older than the space's state never overwrites it."""
    lot_id = require_device(caller, DeviceKind.OCCUPANCY_SENSOR, DeviceKind.GNSS_RECEIVER)
    outcome = await events.ingest_occupancy(ctx, lot_id, caller.id, body)
    await identity.seen(ctx, caller.id)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    assert outcome.space_id is not None
    return OccupancyResult(
        space_id=outcome.space_id,
        applied=outcome.applied,
        state=await space_state_now(ctx, outcome.space_id),
    )
