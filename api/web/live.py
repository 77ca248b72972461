"""What the maps load besides the page: live lot counts over SSE, and the streets as GeoJSON.

One subscription per open page (the district channel), filtered to the lots the caller may
see, instead of one per lot: a map of 500 lots is one Redis subscription.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Collection
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.state import app_state
from api.web.auth import ConsoleUser
from core.errors import Invalid
from core.live import LiveStoreUnavailable
from maas.graph import RoadNetwork
from maas.streets import streets_geojson
from parking.availability.service import DISTRICT_CHANNEL
from parking.identity.access import operator_scope
from parking.search.overview import lot_cards
from parking.unit import Ctx

router = APIRouter(include_in_schema=False)
HEARTBEAT_S = 15.0
HELLO_TRIES = 20  # the subscription is live once our own hello comes back (at most ~2 s)
MAX_SPAN_DEG = 0.5  # a streets request covers a district, not a country


def _sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _counts(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "lot_id": message["lot_id"],
        "free_spaces": message["free_spaces"],
        "occupied": message.get("occupied"),
        "reserved": message.get("reserved"),
    }


async def _snapshot(request: Request, operator_id: uuid.UUID | None) -> list[dict[str, Any]]:
    state = app_state(request)
    async with state.sessionmaker() as db:
        cards = await lot_cards(Ctx(db=db, settings=state.settings), state.live, operator_id)
    return [
        {"lot_id": str(c.id), "free_spaces": c.free_spaces, "occupied": c.occupied, "reserved": c.reserved}
        for c in cards
    ]


async def district_events(
    request: Request, operator_id: uuid.UUID | None, allowed: Collection[str] | None
) -> AsyncIterator[bytes]:
    """``snapshot`` once subscribed (every visible lot's counts), then ``availability`` per change
    of a visible lot; a degraded live store sends database snapshots instead."""
    state = app_state(request)
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1024)
    hello = uuid.uuid4().hex
    subscribed = asyncio.Event()

    async def pump() -> None:
        while True:
            try:
                async for message in state.live_store.subscribe(DISTRICT_CHANNEL):
                    if message.get("hello") == hello:
                        subscribed.set()
                    elif "lot_id" in message and (allowed is None or message["lot_id"] in allowed):
                        await queue.put(message)
            except LiveStoreUnavailable:
                subscribed.set()
                await queue.put(None)
                await asyncio.sleep(HEARTBEAT_S / 3)

    task = asyncio.create_task(pump())
    try:
        for _ in range(HELLO_TRIES):
            try:
                await state.live_store.publish(DISTRICT_CHANNEL, {"hello": hello})
                await asyncio.wait_for(subscribed.wait(), 0.1)
                break
            except (TimeoutError, LiveStoreUnavailable):
                continue
        yield _sse("snapshot", await _snapshot(request, operator_id))
        while not await request.is_disconnected():
            try:
                message = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if message is None:
                yield _sse("snapshot", await _snapshot(request, operator_id))
            else:
                yield _sse("availability", _counts(message))
    finally:
        task.cancel()


def stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/live/lots")
async def public_live(request: Request) -> StreamingResponse:
    """Every lot's free count as it changes (public: the same counts the public search shows)."""
    return stream(district_events(request, None, None))


@router.get("/console/live")
async def console_live(request: Request, user: ConsoleUser) -> StreamingResponse:
    """The signed-in operator's lots (an admin's: all) as they change."""
    operator_id = operator_scope(user)
    allowed = None
    if operator_id is not None:
        allowed = {c["lot_id"] for c in await _snapshot(request, operator_id)}
    return stream(district_events(request, operator_id, allowed))


_STREETS: dict[tuple[int, tuple[float, float, float, float]], bytes] = {}


def _streets_json(roads: RoadNetwork, box: tuple[float, float, float, float]) -> bytes:
    """Memoised per network and box (boxes are rounded to 0.001 degree, so maps reuse them)."""
    key = (id(roads), box)
    if (hit := _STREETS.get(key)) is None:
        if len(_STREETS) >= 64:
            _STREETS.clear()
        hit = _STREETS[key] = json.dumps(streets_geojson(roads, box), separators=(",", ":")).encode()
    return hit


@router.get("/map/streets.geojson")
async def streets(
    request: Request, bbox: Annotated[str, Query(description="min_lon,min_lat,max_lon,max_lat")]
) -> Response:
    """The drivable streets of the imported OSM network inside the box (the maps' base layer)."""
    try:
        min_lon, min_lat, max_lon, max_lat = (round(float(v), 3) for v in bbox.split(","))
    except ValueError as exc:
        raise Invalid("bbox is min_lon,min_lat,max_lon,max_lat in degrees", code="bad_bbox") from exc
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise Invalid("bbox is min_lon,min_lat,max_lon,max_lat in degrees", code="bad_bbox")
    if max_lon - min_lon > MAX_SPAN_DEG or max_lat - min_lat > MAX_SPAN_DEG:
        raise Invalid(f"bbox spans at most {MAX_SPAN_DEG} degrees", code="bbox_too_large")
    network = app_state(request).network
    roads = network.roads if network is not None else None
    box = (min_lat, max_lat, min_lon, max_lon)
    body = b'{"type":"FeatureCollection","features":[]}' if roads is None else None
    if body is None:
        assert roads is not None
        body = await asyncio.to_thread(_streets_json, roads, box)
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "public, max-age=300"})
