from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse

from api.background import announce_release
from api.deps import Caller, CtxDep, StateDep
from parking.availability import service as availability
from parking.bookings import listing as bookings
from parking.bookings.schemas import BookingOut, BookingStatus
from parking.events import service as events
from parking.events.schemas import FlagOut, FlagResolveIn
from parking.identity import service as identity
from parking.identity.schemas import Credentials, DeviceIn, DeviceOut
from parking.lots import service as lots
from parking.lots.schemas import (
    LotIn,
    LotOut,
    LotPatch,
    SharedWindow,
    SpaceIn,
    SpaceOut,
    SpacePatch,
    SpaceStateIn,
)
from parking.reports import service as reports
from parking.reports.schemas import OccupancyBucket, ReconciliationRow, RevenueRow
from parking.sessions import service as sessions
from parking.sessions.schemas import ReceivableOut, ReleaseIn, SessionOut, SessionStatus
from parking.types import AwareDatetime

router = APIRouter(prefix="/v1/operator", tags=["operator"])
Limit = Annotated[int, Query(ge=1, le=1000)]
From = Annotated[AwareDatetime, Query(alias="from")]
To = Annotated[AwareDatetime, Query(alias="to")]


@router.post("/lots", status_code=status.HTTP_201_CREATED, response_model=LotOut)
async def create_lot(body: LotIn, ctx: CtxDep, caller: Caller) -> LotOut:
    return await lots.create_lot(ctx, caller, body)


@router.get("/lots", response_model=list[LotOut])
async def list_lots(ctx: CtxDep, caller: Caller) -> list[LotOut]:
    return await lots.operator_lots(ctx, caller)


@router.get("/lots/{lot_id}", response_model=LotOut)
async def get_lot(lot_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> LotOut:
    return await lots.own_lot_out(ctx, caller, lot_id)


@router.patch("/lots/{lot_id}", response_model=LotOut)
async def update_lot(lot_id: uuid.UUID, body: LotPatch, ctx: CtxDep, caller: Caller) -> LotOut:
    return await lots.update_lot(ctx, caller, lot_id, body)


@router.post("/lots/{lot_id}/spaces", status_code=status.HTTP_201_CREATED, response_model=list[SpaceOut])
async def add_spaces(
    lot_id: uuid.UUID, body: Annotated[list[SpaceIn], ...], ctx: CtxDep, caller: Caller
) -> list[SpaceOut]:
    return await lots.add_spaces(ctx, caller, lot_id, body)


@router.get("/lots/{lot_id}/spaces", response_model=list[SpaceOut])
async def list_spaces(lot_id: uuid.UUID, ctx: CtxDep, caller: Caller) -> list[SpaceOut]:
    return await availability.own_lot_spaces(ctx, caller, lot_id)


@router.put("/spaces/{space_id}/shared-windows", response_model=SpaceOut)
async def set_shared_windows(
    space_id: uuid.UUID, body: list[SharedWindow], ctx: CtxDep, caller: Caller
) -> SpaceOut:
    """Off-peak sharing: the weekly windows in which the public may book this space."""
    return await lots.set_shared_windows(ctx, caller, space_id, body)


@router.patch("/spaces/{space_id}", response_model=SpaceOut)
async def update_space(space_id: uuid.UUID, body: SpacePatch, ctx: CtxDep, caller: Caller) -> SpaceOut:
    return await lots.update_space(ctx, caller, space_id, body)


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=Credentials)
async def create_device(body: DeviceIn, ctx: CtxDep, caller: Caller) -> Credentials:
    """Credentials for a camera, sensor gateway or receiver, bound to one of your lots."""
    return await lots.add_device(ctx, caller, body)


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(ctx: CtxDep, caller: Caller) -> list[DeviceOut]:
    return await identity.operator_devices(ctx, caller)


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(
    ctx: CtxDep,
    caller: Caller,
    lot_id: uuid.UUID | None = None,
    status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Limit = 100,
) -> list[SessionOut]:
    return await sessions.operator_sessions(
        ctx, caller, lot_id=lot_id, status=status_, since=since, until=until, limit=limit
    )


@router.get("/bookings", response_model=list[BookingOut])
async def list_bookings(
    ctx: CtxDep,
    caller: Caller,
    lot_id: uuid.UUID | None = None,
    day: Annotated[
        date | None, Query(description="an Asia/Shanghai calendar date: bookings overlapping it")
    ] = None,
    status_: Annotated[BookingStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
) -> list[BookingOut]:
    """Bookings at your lots, latest start first."""
    return await bookings.operator_bookings(ctx, caller, lot_id=lot_id, day=day, status=status_, limit=limit)


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


@router.get("/flags", response_model=list[FlagOut])
async def list_flags(
    ctx: CtxDep, caller: Caller, unresolved: bool = True, limit: Limit = 100
) -> list[FlagOut]:
    """Flagged sessions and reads awaiting review."""
    return await events.flags(ctx, caller, unresolved_only=unresolved, limit=limit)


@router.post("/flags/{flag_id}/resolve", response_model=FlagOut)
async def resolve_flag(flag_id: uuid.UUID, body: FlagResolveIn, ctx: CtxDep, caller: Caller) -> FlagOut:
    return await events.resolve_flag(ctx, caller, flag_id, body.resolution)


@router.post("/spaces/{space_id}/state", response_model=SpaceOut)
async def reset_space_state(space_id: uuid.UUID, body: SpaceStateIn, ctx: CtxDep, caller: Caller) -> SpaceOut:
    """Set what a space is now (a stuck sensor); later readings apply from here on."""
    return await lots.reset_space_state(ctx, caller, space_id, body.occupied)


@router.post("/sessions/{session_id}/release", response_model=SessionOut)
async def release_session(
    session_id: uuid.UUID, body: ReleaseIn, ctx: CtxDep, caller: Caller, state: StateDep
) -> SessionOut:
    """Open the gate for a held car by hand: the session closes now and what it still owes
    becomes a receivable (flagged ``unpaid_exit``), settled when the driver pays later."""
    session = await events.release(ctx, caller, session_id, body.reason)
    ctx.after_commit.append(lambda: announce_release(state, session))
    return session


@router.get("/receivables", response_model=list[ReceivableOut])
async def list_receivables(
    ctx: CtxDep,
    caller: Caller,
    plate: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Limit = 100,
) -> list[ReceivableOut]:
    """Money owed on stays at your lots whose car left unpaid; per plate with ``plate``."""
    return await sessions.operator_receivables(ctx, caller, plate=plate, open_only=open_only, limit=limit)


@router.get(
    "/reconciliation",
    response_model=list[ReconciliationRow],
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def reconciliation(
    ctx: CtxDep, caller: Caller, start: From, end: To, format: Literal["json", "csv"] = "json"
) -> Any:
    """Per lot and Asia/Shanghai day: fees of the stays that ended (expected), payments settled
    (received), receivables new, settled and outstanding (owed)."""
    rows = await reports.reconciliation(ctx, caller, start, end)
    if format == "csv":
        return PlainTextResponse(
            reports.reconciliation_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="reconciliation.csv"'},
        )
    return rows
