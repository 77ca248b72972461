"""The district admin: operators (and suspending them), every device, district-wide reports."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Caller, CtxDep, LiveDep, StateDep
from parking.identity import service as identity
from parking.identity.access import require
from parking.identity.schemas import Credentials, DeviceAdminOut, OperatorIn, Role
from parking.reports import district
from parking.reports.schemas import DistrictBucket, LotOccupancy, OperatorOut, RevenueBucketRow
from parking.types import AwareDatetime

router = APIRouter(prefix="/v1/admin", tags=["admin"])
From = Annotated[AwareDatetime, Query(alias="from")]
To = Annotated[AwareDatetime, Query(alias="to", description="end, exclusive")]


@router.post("/operators", status_code=status.HTTP_201_CREATED, response_model=Credentials)
async def create_operator(body: OperatorIn, ctx: CtxDep, caller: Caller) -> Credentials:
    """Create a parking operator; its token is shown once."""
    return await identity.create_operator(ctx, caller, body.name)


@router.get("/operators", response_model=list[OperatorOut])
async def list_operators(ctx: CtxDep, caller: Caller) -> list[OperatorOut]:
    """Every operator: status, when it was suspended, how many lots and devices it has."""
    return await district.operators(ctx, caller)


@router.post("/operators/{operator_id}/suspend", response_model=OperatorOut)
async def suspend_operator(
    operator_id: uuid.UUID, ctx: CtxDep, caller: Caller, state: StateDep
) -> OperatorOut:
    """Refuse the operator's token and its devices' tokens (401 `operator_suspended`) from the
    next request on, until resumed. Its lots stay in drivers' search. Idempotent."""
    await identity.suspend_operator(ctx, caller, operator_id, state.tokens, state.live_store)
    return await district.operator(ctx, caller, operator_id)


@router.post("/operators/{operator_id}/resume", response_model=OperatorOut)
async def resume_operator(operator_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> OperatorOut:
    """Accept the operator's and its devices' tokens again. Idempotent."""
    await identity.resume_operator(ctx, caller, operator_id)
    return await district.operator(ctx, caller, operator_id)


@router.get("/devices", response_model=list[DeviceAdminOut])
async def list_devices(
    ctx: CtxDep, caller: Caller, operator_id: uuid.UUID | None = None
) -> list[DeviceAdminOut]:
    """Every device of the district (or of one operator) with its last contact."""
    return await identity.district_devices(ctx, caller, operator_id)


@router.get("/occupancy", response_model=list[LotOccupancy])
async def occupancy(
    ctx: CtxDep, caller: Caller, start: From, end: To, bucket: DistrictBucket = DistrictBucket.HOUR
) -> list[LotOccupancy]:
    """Every lot's occupancy per hour or day from `from` (at most 31 days)."""
    return await district.occupancy(ctx, caller, start, end, bucket)


@router.get("/revenue", response_model=list[RevenueBucketRow])
async def revenue(
    ctx: CtxDep, caller: Caller, start: From, end: To, bucket: DistrictBucket = DistrictBucket.DAY
) -> list[RevenueBucketRow]:
    """Settled payments per lot and Asia/Shanghai hour or day (at most 31 days by the hour,
    366 by the day)."""
    return await district.revenue(ctx, caller, start, end, bucket)


@router.post("/live/rebuild", summary="Rebuild the live store from the database")
async def rebuild_live(ctx: CtxDep, caller: Caller, live: LiveDep) -> dict[str, int]:
    require(caller, Role.ADMIN)
    return {"lots": await live.rebuild(ctx.db, ctx.now)}
