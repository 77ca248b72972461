from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from fastapi.responses import JSONResponse

from api.background import announce_gate
from api.deps import Caller, CtxDep, StateDep
from api.errors import problem
from api.state import AppState
from hardware.anpr import OPENALPR_SCHEMA, from_openalpr
from parking.availability.service import space_state_now
from parking.events import service as events
from parking.events.schemas import AnprEventIn, AnprResult, Direction, OccupancyEventIn, OccupancyResult
from parking.identity import service as identity
from parking.identity.access import Principal, require_device
from parking.identity.schemas import DeviceKind
from parking.unit import Ctx

router = APIRouter(prefix="/v1/devices", tags=["devices"])
REPLAY: dict[int | str, dict[str, Any]] = {
    200: {"description": "this event_id was seen before; same outcome, no new effect"}
}


REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid, or dated more than BEIDOU_DEVICE_CLOCK_SKEW_S ahead (`future_timestamp`)"}
}


def _refused(request: Request, code: str) -> JSONResponse:
    """A refused event is answered, not raised: the device's count of refusals commits."""
    return problem(
        request,
        422,
        "the event is dated ahead of the platform's clock by more than the allowed skew; "
        "check the device's clock",
        code=code,
    )


async def _anpr(
    ctx: Ctx, caller: Principal, state: AppState, event: AnprEventIn, request: Request, response: Response
) -> AnprResult | JSONResponse:
    lot_id = require_device(caller, DeviceKind.ANPR_CAMERA)
    assert caller.id is not None
    outcome = await events.ingest_anpr(ctx, lot_id, caller.id, event)
    if outcome.refused is not None:
        return _refused(request, outcome.refused)
    await identity.seen(ctx, caller.id)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    assert outcome.decision is not None
    device_id = caller.id
    ctx.after_commit.append(lambda: announce_gate(state, lot_id, device_id, event.event_id, outcome))
    return AnprResult(
        session_id=outcome.session_id,
        flagged=outcome.flagged,
        gate=outcome.decision.gate,
        reason=outcome.decision.reason,
        amount_due_fen=outcome.decision.amount_due_fen,
    )


@router.post(
    "/anpr",
    status_code=status.HTTP_201_CREATED,
    response_model=AnprResult,
    responses={**REPLAY, **REFUSED},
)
async def anpr(
    body: AnprEventIn, ctx: CtxDep, caller: Caller, state: StateDep, request: Request, response: Response
) -> Any:
    """A plate read at the gate, and what the barrier does (``gate``, ``reason``). Entry: open for
    a booking or a free place (a session opens), hold when full. Exit: open when the stay is paid
    or free (the session closes), hold with ``amount_due_fen`` otherwise (the driver pays, then
    drives out); ``passed: true`` (the car went through) turns money due into a receivable."""
    return await _anpr(ctx, caller, state, body, request, response)


@router.post(
    "/anpr/openalpr",
    status_code=status.HTTP_201_CREATED,
    response_model=AnprResult,
    responses={**REPLAY, **REFUSED},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": OPENALPR_SCHEMA}}}
    },
)
async def anpr_openalpr(
    body: Annotated[dict[str, Any], Body()],
    ctx: CtxDep,
    caller: Caller,
    state: StateDep,
    request: Request,
    response: Response,
    direction: Annotated[Direction, Query(description="the lane this camera watches")] = Direction.IN,
) -> Any:
    """The same, from an OpenALPR / Rekor Scout webhook (alpr_group or alpr_results)."""
    return await _anpr(ctx, caller, state, from_openalpr(body, direction), request, response)


@router.post(
    "/occupancy",
    status_code=status.HTTP_201_CREATED,
    response_model=OccupancyResult,
    responses={**REPLAY, **REFUSED},
)
async def occupancy(
    body: OccupancyEventIn, ctx: CtxDep, caller: Caller, request: Request, response: Response
) -> Any:
    """An in-space sensor reading; an event older than the space's state never overwrites it."""
    lot_id = require_device(caller, DeviceKind.OCCUPANCY_SENSOR, DeviceKind.GNSS_RECEIVER)
    outcome = await events.ingest_occupancy(ctx, lot_id, caller.id, body)
    if outcome.refused is not None:
        return _refused(request, outcome.refused)
    await identity.seen(ctx, caller.id)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    assert outcome.space_id is not None
    return OccupancyResult(
        space_id=outcome.space_id,
        applied=outcome.applied,
        state=await space_state_now(ctx, outcome.space_id),
    )
