from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from api.deps import Caller, CtxDep
from parking import registry, reports, sessions
from parking.access import own_lot
from parking.registry import space_out
from parking.schemas import (
    AwareDatetime,
    Credentials,
    DeviceIn,
    DeviceOut,
    FlagOut,
    FlagResolveIn,
    LotIn,
    LotOut,
    LotPatch,
    OccupancyBucket,
    RevenueRow,
    SessionOut,
    SharedWindow,
    SpaceIn,
    SpaceOut,
    SpacePatch,
)
from parking.search import lot_out

router = APIRouter(prefix="/v1/operator", tags=["operator"])
Limit = Annotated[int, Query(ge=1, le=1000)]
From = Annotated[AwareDatetime, Query(alias="from")]
To = Annotated[AwareDatetime, Query(alias="to")]


@router.post("/lots", status_code=status.HTTP_201_CREATED, response_model=LotOut)
async def create_lot(body: LotIn, ctx: CtxDep, caller: Caller) -> LotOut:
    return lot_out(await registry.create_lot(ctx, caller, body))


@router.get("/lots", response_model=list[LotOut])
async def list_lots(ctx: CtxDep, caller: Caller) -> list[LotOut]:
    return [lot_out(lot) for lot in await registry.operator_lots(ctx, caller)]


@router.get("/lots/{lot_id}", response_model=LotOut)
async def get_lot(lot_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> LotOut:
    return lot_out(await own_lot(ctx.db, caller, lot_id))


@router.patch("/lots/{lot_id}", response_model=LotOut)
async def update_lot(lot_id: uuid.UUID, body: LotPatch, ctx: CtxDep, caller: Caller) -> LotOut:
    return lot_out(await registry.update_lot(ctx, caller, lot_id, body))


@router.post("/lots/{lot_id}/spaces", status_code=status.HTTP_201_CREATED, response_model=list[SpaceOut])
async def add_spaces(
    lot_id: uuid.UUID, body: Annotated[list[SpaceIn], ...], ctx: CtxDep, caller: Caller
) -> list[SpaceOut]:
    created = await registry.add_spaces(ctx, caller, lot_id, body)
    return [space_out(s, "free") for s in created]


@router.get("/lots/{lot_id}/spaces", response_model=list[SpaceOut])
async def list_spaces(lot_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> list[SpaceOut]:
    return await registry.lot_spaces(ctx, await own_lot(ctx.db, caller, lot_id))


@router.put("/spaces/{space_id}/shared-windows", response_model=SpaceOut)
async def set_shared_windows(
    space_id: uuid.UUID, body: list[SharedWindow], ctx: CtxDep, caller: Caller
) -> SpaceOut:
    """Off-peak sharing: the weekly windows in which the public may book this space."""
    space = await registry.set_shared_windows(ctx, caller, space_id, body)
    return space_out(space, "free")


@router.patch("/spaces/{space_id}", response_model=SpaceOut)
async def update_space(space_id: uuid.UUID, body: SpacePatch, ctx: CtxDep, caller: Caller) -> SpaceOut:
    space = await registry.update_space(ctx, caller, space_id, body)
    return space_out(
        space,
        "out_of_service" if space.out_of_service else ("occupied" if space.occupied else "free"),
    )


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=Credentials)
async def create_device(body: DeviceIn, ctx: CtxDep, caller: Caller) -> Credentials:
    """Credentials for a camera, sensor gateway or receiver, bound to one of your lots."""
    return await registry.create_device(ctx, caller, body)


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(ctx: CtxDep, caller: Caller) -> list[DeviceOut]:
    return [
        DeviceOut(id=d.id, lot_id=d.lot_id, kind=d.kind, name=d.name, created_at=d.created_at)
        for d in await registry.operator_devices(ctx, caller)
    ]


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(
    ctx: CtxDep,
    caller: Caller,
    lot_id: uuid.UUID | None = None,
    status_: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Limit = 100,
) -> list[SessionOut]:
    return await sessions.operator_sessions(
        ctx, caller, lot_id=lot_id, status=status_, since=since, until=until, limit=limit
    )


@router.get("/lots/{lot_id}/occupancy", response_model=list[OccupancyBucket])
async def occupancy(
    lot_id: uuid.UUID,
    ctx: CtxDep,
    caller: Caller,
    start: From,
    end: To,
    bucket: Literal["15min", "hour", "day"] = "hour",
) -> list[OccupancyBucket]:
    return await reports.occupancy(ctx, caller, lot_id, start, end, bucket)


@router.get("/revenue", response_model=list[RevenueRow])
async def revenue(ctx: CtxDep, caller: Caller, start: From, end: To) -> list[RevenueRow]:
    """Settled payments per lot per day (Asia/Shanghai)."""
    return await reports.revenue(ctx, caller, start, end)


def _flag_out(flag: object) -> FlagOut:
    return FlagOut.model_validate(flag, from_attributes=True)


@router.get("/flags", response_model=list[FlagOut])
async def list_flags(
    ctx: CtxDep, caller: Caller, unresolved: bool = True, limit: Limit = 100
) -> list[FlagOut]:
    """Flagged sessions and reads awaiting review."""
    rows = await reports.flags(ctx, caller, unresolved_only=unresolved, limit=limit)
    return [_flag_out(f) for f in rows]


@router.post("/flags/{flag_id}/resolve", response_model=FlagOut)
async def resolve_flag(flag_id: uuid.UUID, body: FlagResolveIn, ctx: CtxDep, caller: Caller) -> FlagOut:
    return _flag_out(await reports.resolve_flag(ctx, caller, flag_id, body.resolution))
