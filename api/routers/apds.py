"""Open data in APDS form: the district's lots, tariffs, live occupancy and sessions as the APDS
API lists them (paginated ``{"meta", "data"}`` bodies), for city platforms and navigation apps.

Places, rates and occupancy are for any signed-in caller, as lot search is; sessions for
operators (their own lots) and the admin. The token goes in ``Authorization: Bearer``, or in the
``X-MCC-Access-Token`` header that the APDS API's own documentation names.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from api.deps import BearerDep, CtxDep, LiveDep, resolve_principal
from api.state import app_state
from parking.apds import service as apds
from parking.apds.schemas import PlacesPage, RatesPage, SessionsPage
from parking.apds.service import LotFilter, PageRequest, SessionFilter
from parking.identity.access import Principal

router = APIRouter(prefix="/v1/apds", tags=["open data (APDS)"])

UnixSeconds = Annotated[int | None, Query(ge=0, description="Unix time in seconds (UTC)")]
CommaList = Annotated[str | None, Query(description="comma-separated list")]


async def apds_caller(
    request: Request,
    credentials: BearerDep,
    access_token: Annotated[str | None, Header(alias="X-MCC-Access-Token")] = None,
) -> Principal:
    if credentials is None and access_token:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=access_token)
    return await resolve_principal(app_state(request), credentials)


ApdsCaller = Annotated[Principal, Depends(apds_caller)]


def page_request(
    offset: Annotated[int, Query(ge=0, description="index of the first item of the page")] = 0,
    page_size: Annotated[int, Query(ge=1, le=apds.MAX_PAGE_SIZE)] = 100,
    reference_instant: Annotated[
        int | None, Query(ge=0, description="the first page's meta.referenceInstant, for the next pages")
    ] = None,
) -> PageRequest:
    return PageRequest(offset=offset, page_size=page_size, reference_instant=reference_instant)


def lot_filter(
    place: CommaList = None,
    latitude: Annotated[float | None, Query(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius: Annotated[int | None, Query(ge=0, le=50_000, description="metres")] = None,
) -> LotFilter:
    return LotFilter(
        places=_ids(place),
        latitude=latitude,
        longitude=longitude,
        radius_m=None if radius is None else radius,
    )


def _ids(value: str | None) -> frozenset[str] | None:
    return None if value is None else frozenset(v.strip() for v in value.split(",") if v.strip())


PageDep = Annotated[PageRequest, Depends(page_request)]
LotsDep = Annotated[LotFilter, Depends(lot_filter)]


@router.get("/places", response_model=PlacesPage, response_model_exclude_none=True)
async def places(
    ctx: CtxDep,
    caller: ApdsCaller,
    page: PageDep,
    which: LotsDep,
    type_: Annotated[CommaList, Query(alias="type", description="parkingPlace, space")] = None,
    layer: Annotated[int | None, Query(ge=0, description="deepest layer: 0 lots, 1 also spaces")] = None,
    name: Annotated[str | None, Query(max_length=200, description="part of a lot's name")] = None,
) -> PlacesPage:
    """Lots as APDS Places (layer 0), each followed by its spaces as Spaces (layer 1)."""
    which = replace(which, name=name)
    types = sorted(_ids(type_) or ()) or None
    return await apds.places(ctx, page, which, types=types, layer=layer)


@router.get("/rates", response_model=RatesPage, response_model_exclude_none=True)
async def rates(ctx: CtxDep, caller: ApdsCaller, page: PageDep, which: LotsDep) -> RatesPage:
    """Each lot's tariff as an APDS RateTable (its id is the lot's)."""
    return await apds.rates(ctx, page, which)


@router.get("/occupancy", response_model=PlacesPage, response_model_exclude_none=True)
async def occupancy(
    ctx: CtxDep, caller: ApdsCaller, live: LiveDep, page: PageDep, which: LotsDep
) -> PlacesPage:
    """Live occupancy per lot, as APDS Places carrying their supply and demand (APDS ``/places``
    with ``expand=occupancy``)."""
    return await apds.occupancy(ctx, live, page, which)


@router.get("/sessions", response_model=SessionsPage, response_model_exclude_none=True)
async def sessions(
    ctx: CtxDep,
    caller: ApdsCaller,
    page: PageDep,
    place: CommaList = None,
    start_before: UnixSeconds = None,
    start_after: UnixSeconds = None,
    end_before: UnixSeconds = None,
    end_after: UnixSeconds = None,
) -> SessionsPage:
    """Parking sessions of your lots (the admin: all) overlapping a window of at most 7 days (by
    default the last 24 hours); the plate only as its keyed hash."""
    when = SessionFilter(
        start_before=start_before, start_after=start_after, end_before=end_before, end_after=end_after
    )
    return await apds.sessions(ctx, caller, page, _ids(place), when)
