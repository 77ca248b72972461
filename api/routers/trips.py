from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from api.deps import Caller, CtxDep, StateDep
from api.routers.bookings import IdempotencyKey
from maas import service
from maas.planner import Point
from maas.schemas import BookItineraryIn, PlanIn, PlanOut
from parking.bookings.schemas import BookingOut

router = APIRouter(prefix="/v1/trips", tags=["trips"])


@router.post(
    "/plan",
    response_model=PlanOut,
    responses={
        422: {"description": "invalid request, or a point outside the network's area"},
        503: {"description": "no network imported"},
    },
)
async def plan(body: PlanIn, ctx: CtxDep, caller: Caller, state: StateDep) -> PlanOut:
    """Itineraries (walk, walk + transit, drive + park + walk, park-and-ride), Pareto-filtered on
    arrival, cost and walking; each id can be booked for 30 minutes."""
    request = service.PlanRequest(
        origin=Point(body.from_.lat, body.from_.lon),
        dest=Point(body.to.lat, body.to.lon),
        depart_at=body.depart_at,
        arrive_by=body.arrive_by,
        modes=set(body.modes),
        stay_minutes=body.stay_minutes,
        max_results=body.max_results,
        charge_kwh=body.charge_kwh,
    )
    return PlanOut(**await service.plan_trip(ctx, state.network, state.signer, caller, request))


@router.post(
    "/{itinerary_id}/book",
    status_code=status.HTTP_201_CREATED,
    response_model=BookingOut,
    responses={
        200: {"description": "replay of an earlier request with the same Idempotency-Key"},
        409: {"description": "the lot has no space left, or the plan is too old: plan again"},
    },
)
async def book(
    itinerary_id: Annotated[str, Path(min_length=10, max_length=1024)],
    ctx: CtxDep,
    caller: Caller,
    state: StateDep,
    response: Response,
    body: Annotated[BookItineraryIn | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book a space in the itinerary's lot for its planned arrival and stay."""
    plate = body.plate if body is not None else None
    booking, created = await service.book_itinerary(
        ctx, state.signer, caller, itinerary_id, plate, idempotency_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return booking
