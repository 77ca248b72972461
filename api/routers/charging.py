"""EV charging: chargers on spaces, charging sessions, remote start/stop, owners' revenue."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Caller, CtxDep, StateDep, unit_of_work
from api.state import AppState
from core.errors import Conflict, Unavailable
from hardware.ocpp_central import CentralSystem, NotConnected
from parking.charging import service as charging
from parking.charging.schemas import (
    ChargePointCreated,
    ChargePointIn,
    ChargePointOut,
    ChargingSessionOut,
    ChargingStatus,
    OwnerRevenueOut,
    RemoteCommandOut,
    RemoteStartIn,
)
from parking.types import AwareDatetime

router = APIRouter(tags=["charging"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post(
    "/v1/operator/charge-points", status_code=status.HTTP_201_CREATED, response_model=ChargePointCreated
)
async def register_charge_point(body: ChargePointIn, ctx: CtxDep, caller: Caller) -> ChargePointCreated:
    """A charger on one of your spaces. The answer's ``password`` (its HTTP Basic password on
    ``/ocpp/{charge_point_id}``) is shown once and stored hashed."""
    return await charging.register(ctx, caller, body)


@router.get("/v1/operator/charge-points", response_model=list[ChargePointOut])
async def list_charge_points(
    ctx: CtxDep, caller: Caller, lot_id: uuid.UUID | None = None
) -> list[ChargePointOut]:
    return await charging.operator_points(ctx, caller, lot_id)


def _central(state: AppState) -> CentralSystem:
    """The central system holding the chargers' connections; without one in this process no
    charger is connected here (a worker that did not get the OCPP port)."""
    if state.ocpp is None:
        raise Conflict("the charge point is not connected to this server", code="charger_offline")
    return state.ocpp


async def _remote(command: Awaitable[str]) -> RemoteCommandOut:
    try:
        answer = await command
    except NotConnected:
        raise Conflict("the charge point is not connected", code="charger_offline") from None
    except TimeoutError:
        raise Unavailable("the charge point did not answer", code="charger_no_answer") from None
    return RemoteCommandOut(status=answer)


@router.post("/v1/operator/charge-points/{point_id}/remote-start", response_model=RemoteCommandOut)
async def remote_start(
    point_id: uuid.UUID, body: RemoteStartIn, state: StateDep, caller: Caller
) -> RemoteCommandOut:
    """Ask the charger to start charging on a connector for a plate (OCPP RemoteStartTransaction);
    the charge then starts as any other (StartTransaction)."""
    async with unit_of_work(state) as ctx:  # committed before the charger is asked
        ref = await charging.own_point(ctx, caller, point_id)
    return await _remote(_central(state).remote_start(ref.charge_point_id, body.connector_id, body.id_tag))


@router.post("/v1/operator/charging-sessions/{session_id}/remote-stop", response_model=RemoteCommandOut)
async def remote_stop(session_id: uuid.UUID, state: StateDep, caller: Caller) -> RemoteCommandOut:
    """Ask the charger to stop a running charge (OCPP RemoteStopTransaction); it is billed when the
    charger's StopTransaction arrives."""
    async with unit_of_work(state) as ctx:
        ref, transaction_id = await charging.own_session(ctx, caller, session_id)
    return await _remote(_central(state).remote_stop(ref.charge_point_id, transaction_id))


@router.get("/v1/operator/charging-sessions", response_model=list[ChargingSessionOut])
async def operator_charging_sessions(
    ctx: CtxDep,
    caller: Caller,
    lot_id: uuid.UUID | None = None,
    status: ChargingStatus | None = None,
    limit: Limit = 100,
) -> list[ChargingSessionOut]:
    """Charging sessions at your lots, newest first: energy so far, and once stopped the fee."""
    return await charging.operator_sessions(ctx, caller, lot_id, status, limit)


@router.get("/v1/operator/charging-revenue", response_model=list[OwnerRevenueOut])
async def charging_revenue(
    ctx: CtxDep,
    caller: Caller,
    since: Annotated[AwareDatetime, Query(alias="from")],
    until: Annotated[AwareDatetime, Query(alias="to")],
    lot_id: uuid.UUID | None = None,
) -> list[OwnerRevenueOut]:
    """Per charger, the charges stopped in [from, to): fees and the sharing owner's part."""
    return await charging.owner_revenue(ctx, caller, lot_id, since, until)


@router.get("/v1/me/charging-sessions", response_model=list[ChargingSessionOut])
async def my_charging_sessions(ctx: CtxDep, caller: Caller, limit: Limit = 50) -> list[ChargingSessionOut]:
    return await charging.driver_sessions(ctx, caller, limit)
