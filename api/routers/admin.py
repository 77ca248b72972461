"""The district admin: operators, every device."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from api.deps import Caller, CtxDep, LiveDep
from parking.identity import service as identity
from parking.identity.access import require
from parking.identity.schemas import Credentials, DeviceAdminOut, OperatorIn, Role

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/operators", status_code=status.HTTP_201_CREATED, response_model=Credentials)
async def create_operator(body: OperatorIn, ctx: CtxDep, caller: Caller) -> Credentials:
    """Create a parking operator; its token is shown once."""
    return await identity.create_operator(ctx, caller, body.name)


@router.get("/devices", response_model=list[DeviceAdminOut])
async def list_devices(
    ctx: CtxDep, caller: Caller, operator_id: uuid.UUID | None = None
) -> list[DeviceAdminOut]:
    """Every device of the district (or of one operator) with its last contact."""
    return await identity.district_devices(ctx, caller, operator_id)


@router.post("/live/rebuild", summary="Rebuild the live store from the database")
async def rebuild_live(ctx: CtxDep, caller: Caller, live: LiveDep) -> dict[str, int]:
    require(caller, Role.ADMIN)
    return {"lots": await live.rebuild(ctx.db, ctx.now)}
