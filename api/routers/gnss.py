"""Receivers and their positions: vehicle receivers of drivers, NMEA ingestion, tracks."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status

from api.deps import Caller, CtxDep, StateDep
from core.errors import Invalid
from parking.identity import service as identity
from parking.identity.schemas import Credentials, ReceiverIn, ReceiverOut
from parking.tracks import service as positions
from parking.tracks.schemas import NmeaIngestResult
from parking.types import AwareDatetime

router = APIRouter(tags=["gnss"])
MAX_BODY = 1 << 20
From = Annotated[
    AwareDatetime | None, Query(alias="from", description="start (default: an hour before 'to')")
]
To = Annotated[
    AwareDatetime | None,
    Query(
        alias="to",
        description="end, exclusive (default: now; with neither 'from' nor 'to', the receiver's "
        "latest point: its last hour of data)",
    ),
]
NMEA_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {
                "schema": {"type": "string"},
                "example": "$GNGGA,023042.00,3118.0214,N,12130.8182,E,4,24,0.6,12.1,M,9.5,M,1.0,0001*5B\r\n",
            }
        },
    }
}


@router.post(
    "/v1/gnss/nmea",
    response_model=NmeaIngestResult,
    openapi_extra=NMEA_BODY,
    summary="Post receiver output (NMEA, may be mixed with RTCM/UBX)",
)
async def post_nmea(request: Request, ctx: CtxDep, caller: Caller, state: StateDep) -> Any:
    """Sentences of a ``gnss_receiver`` device. Stored before the answer; noise is skipped and counted."""
    receiver = positions.receiver_of(caller)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Invalid(f"the body is limited to {MAX_BODY} bytes", code="body_too_large")
    result = await positions.ingest_bytes(ctx, receiver, body, state.positions, state.live_store)
    await identity.seen(ctx, receiver.id, vehicle=receiver.lot_id is None)
    return NmeaIngestResult(
        accepted=result.accepted,
        rejected=result.rejected,
        rtcm_frames=result.rtcm_frames,
        bytes_skipped=result.bytes_skipped,
        fixes=result.fixes,
        outliers=result.outliers,
        stored=result.stored,
    )


@router.post("/v1/me/receivers", status_code=status.HTTP_201_CREATED, response_model=Credentials)
async def add_receiver(body: Annotated[ReceiverIn, Body()], ctx: CtxDep, caller: Caller) -> Credentials:
    """Register the receiver in one of your vehicles; its token posts to ``/v1/gnss/nmea``."""
    return await identity.create_receiver(ctx, caller, body)


@router.get("/v1/me/receivers", response_model=list[ReceiverOut])
async def my_receivers(ctx: CtxDep, caller: Caller) -> Any:
    return await identity.driver_receivers(ctx, caller)


@router.get("/v1/me/receivers/{receiver_id}/track", summary="Track of your vehicle's receiver (GeoJSON)")
async def my_track(
    receiver_id: uuid.UUID, ctx: CtxDep, caller: Caller, start: From = None, end: To = None
) -> Any:
    return await positions.track_geojson(ctx, caller, receiver_id, start, end)


@router.get("/v1/me/receivers/{receiver_id}/position", summary="Latest position of your vehicle's receiver")
async def my_position(receiver_id: uuid.UUID, ctx: CtxDep, caller: Caller, state: StateDep) -> Any:
    return await positions.latest_position(ctx, caller, receiver_id, state.live_store)


@router.get("/v1/operator/devices/{device_id}/track", summary="Track of one of your receivers (GeoJSON)")
async def device_track(
    device_id: uuid.UUID, ctx: CtxDep, caller: Caller, start: From = None, end: To = None
) -> Any:
    """Smoothed positions as a LineString; raw fixes, times and qualities in the properties."""
    return await positions.track_geojson(ctx, caller, device_id, start, end)


@router.get("/v1/operator/devices/{device_id}/position", summary="Latest position of one of your receivers")
async def device_position(device_id: uuid.UUID, ctx: CtxDep, caller: Caller, state: StateDep) -> Any:
    return await positions.latest_position(ctx, caller, device_id, state.live_store)
