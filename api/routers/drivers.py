from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import Caller, CtxDep
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingOut
from parking.identity import service as identity
from parking.identity.access import require
from parking.identity.schemas import Credentials, DriverIn, PlateIn, PlateOut, Role
from parking.sessions import service as sessions
from parking.sessions.schemas import ReceivableOut, SessionOut

router = APIRouter(tags=["drivers"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/v1/drivers", status_code=status.HTTP_201_CREATED, response_model=Credentials)
async def register_driver(body: DriverIn, ctx: CtxDep) -> Credentials:
    """Open a driver account (self-service); the token is shown once."""
    return await identity.register_driver(ctx, body.name, body.phone)


@router.get("/v1/me")
async def me(caller: Caller) -> dict[str, str | None]:
    return {
        "role": caller.role,
        "id": str(caller.id) if caller.id else None,
        "lot_id": str(caller.lot_id) if caller.lot_id else None,
    }


@router.post(
    "/v1/me/plates",
    status_code=status.HTTP_201_CREATED,
    response_model=PlateOut,
    responses={200: {"description": "already registered to you"}},
)
async def add_plate(body: PlateIn, ctx: CtxDep, caller: Caller, response: Response) -> PlateOut:
    plate, created = await identity.add_plate(ctx, caller, body.plate)
    if not created:
        response.status_code = status.HTTP_200_OK
    return plate


@router.get("/v1/me/plates", response_model=list[PlateOut])
async def list_plates(ctx: CtxDep, caller: Caller) -> list[PlateOut]:
    return await identity.driver_plates(ctx, caller)


@router.delete("/v1/me/plates/{plate}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_plate(
    plate: Annotated[str, Path(min_length=1, max_length=32)], ctx: CtxDep, caller: Caller
) -> Response:
    await identity.remove_plate(ctx, caller, plate)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/me/bookings", response_model=list[BookingOut])
async def my_bookings(ctx: CtxDep, caller: Caller, limit: Limit = 100) -> list[BookingOut]:
    return await bookings.driver_bookings(ctx, caller, limit)


@router.get("/v1/me/sessions", response_model=list[SessionOut])
async def my_sessions(ctx: CtxDep, caller: Caller, limit: Limit = 100) -> list[SessionOut]:
    require(caller, Role.DRIVER)
    return await sessions.driver_sessions(ctx, caller, limit)


@router.get("/v1/me/receivables", response_model=list[ReceivableOut])
async def my_receivables(ctx: CtxDep, caller: Caller) -> list[ReceivableOut]:
    """What your plates' stays still owe (or owed): pay the session to settle it."""
    return await sessions.driver_receivables(ctx, caller)
