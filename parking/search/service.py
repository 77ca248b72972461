"""Finding a place to park: lots near a point, one lot's live picture, and the way to a free space."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from core.errors import Invalid, NotFound
from core.live import LiveStore, LiveStoreUnavailable
from parking.availability.service import (
    DIRECTORY_VERSION,
    LiveAvailability,
    booked_at,
    compute,
    lot_key,
    lot_spaces,
)
from parking.bookings import repository as bookings_repo
from parking.charging import service as charging_service
from parking.events import repository as events_repo
from parking.geo import bounding_box, haversine_m
from parking.lots import repository as lots_repo
from parking.lots.models import Lot
from parking.lots.schemas import SpaceOut, SpaceState
from parking.lots.service import lot_out, lot_tariff
from parking.lots.states import SENSOR_HORIZON, space_states
from parking.lots.tariff import Tariff, price_fen_per_hour
from parking.search.schemas import Availability, GuidanceHit, LotDetail, LotSearchHit, LotSearchResult
from parking.unit import Ctx

MAX_RADIUS_M = 50_000.0


def _is_now(ctx: Ctx, at: datetime) -> bool:
    return abs((at - ctx.now).total_seconds()) <= 60


@dataclass(frozen=True, slots=True)
class LotEntry:
    """What search needs of a lot, kept in memory: lots change rarely and are read constantly."""

    id: uuid.UUID
    key: str
    name: str
    kind: str
    lat: float
    lon: float
    address: str | None
    capacity: int
    tariff: Tariff


_UNLOADED = object()


class LotDirectory:
    """Per-process copy of every lot's metadata and live snapshot, at most ``ttl_s`` old.

    Search is the hottest read of the API and tolerates a second of staleness (sensors report
    with more delay than that), so each worker refreshes this copy with one ``MGET`` per
    ``ttl_s`` instead of one per request. A version counter in the live store, bumped whenever a
    lot is created or edited, tells every worker to reload the metadata; this process's own
    changes reach the copy at once (``note``/``invalidate``).
    """

    def __init__(self, ttl_s: float = 1.0) -> None:
        self.ttl_s = ttl_s
        self.version: object = _UNLOADED
        self.entries: list[LotEntry] = []
        self.snapshots: dict[uuid.UUID, dict[str, Any]] = {}
        self.fresh_until = 0.0
        self._lock = asyncio.Lock()

    def note(self, lot_id: uuid.UUID, snapshot: dict[str, Any]) -> None:
        self.snapshots[lot_id] = snapshot

    def invalidate(self) -> None:
        self.fresh_until = 0.0

    async def sync(self, ctx: Ctx, store: LiveStore) -> None:
        if time.monotonic() < self.fresh_until:
            return
        async with self._lock:  # one refresh per worker at a time; the others then find it fresh
            if time.monotonic() < self.fresh_until:
                return
            entries = self.entries
            values = await store.get_json_many([DIRECTORY_VERSION, *(e.key for e in entries)])
            if values[0] != self.version or self.version is _UNLOADED:
                entries = await self.reload(ctx, values[0])
                values = await store.get_json_many([DIRECTORY_VERSION, *(e.key for e in entries)])
            self.snapshots = {e.id: v for e, v in zip(entries, values[1:], strict=True) if v is not None}
            self.fresh_until = time.monotonic() + self.ttl_s

    async def reload(self, ctx: Ctx, version: object) -> list[LotEntry]:
        self.entries = [
            LotEntry(
                id=lot.id,
                key=lot_key(lot.id),
                name=lot.name,
                kind=lot.kind,
                lat=lot.lat,
                lon=lot.lon,
                address=lot.address,
                capacity=lot.capacity,
                tariff=lot_tariff(lot),
            )
            for lot in await lots_repo.lots_of_operator(ctx.db, None)
        ]
        self.version = version
        return self.entries


@lru_cache(maxsize=4096)
def _hourly_price(tariff: Tariff, at_minute: datetime) -> int:
    return price_fen_per_hour(tariff, at_minute)


def _near(
    entries: list[LotEntry], lat: float, lon: float, radius_m: float, kind: str | None
) -> list[tuple[float, LotEntry]]:
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_m)
    hits = []
    for e in entries:
        if min_lat <= e.lat <= max_lat and min_lon <= e.lon <= max_lon and (kind is None or e.kind == kind):
            d = haversine_m(lat, lon, e.lat, e.lon)
            if d <= radius_m:
                hits.append((d, e))
    hits.sort(key=lambda h: h[0])
    return hits


async def _search_live(
    ctx: Ctx,
    live: LiveAvailability,
    directory: LotDirectory,
    lat: float,
    lon: float,
    radius_m: float,
    kind: str | None,
) -> dict[str, Any]:
    """The hot path: no SQL and, most of the time, no I/O at all (see ``LotDirectory``)."""
    await directory.sync(ctx, live.store)
    at_minute = ctx.now.replace(second=0, microsecond=0)
    hits = []
    for distance, entry in _near(directory.entries, lat, lon, radius_m, kind):
        snapshot = directory.snapshots.get(entry.id)
        if snapshot is None:  # not in the store yet (a lot created a moment ago on another worker)
            lot = await lots_repo.get_lot(ctx.db, entry.id)
            if lot is None:
                continue
            snapshot = await compute(ctx.db, lot, ctx.now, ctx.now)
        hits.append(
            {
                "id": str(entry.id),
                "name": entry.name,
                "kind": entry.kind,
                "lat": entry.lat,
                "lon": entry.lon,
                "address": entry.address,
                "distance_m": round(distance, 1),
                "capacity": entry.capacity,
                "free_spaces": snapshot["free_spaces"],
                "by_kind": snapshot["by_kind"],
                "price_fen_per_hour": _hourly_price(entry.tariff, at_minute),
            }
        )
    return {"at": ctx.now.isoformat(), "live_degraded": False, "lots": hits}


async def search(
    ctx: Ctx,
    live: LiveAvailability,
    directory: LotDirectory,
    *,
    lat: float,
    lon: float,
    radius_m: float,
    at: datetime | None,
    kind: str | None,
    charging: bool = False,
) -> dict[str, Any]:
    """Lots within the radius by distance, as a JSON-ready dict (the shape of LotSearchResult).
    ``charging``: only lots with an Available connector now, with their count (``free_chargers``)."""
    result = await _search(ctx, live, directory, lat=lat, lon=lon, radius_m=radius_m, at=at, kind=kind)
    if not charging:
        for hit in result["lots"]:
            hit.pop("free_chargers", None)
        return result
    counts = await charging_service.free_chargers(ctx, [uuid.UUID(h["id"]) for h in result["lots"]])
    result["lots"] = [
        {**hit, "free_chargers": counts[uuid.UUID(hit["id"])]}
        for hit in result["lots"]
        if counts.get(uuid.UUID(hit["id"]), 0) > 0
    ]
    return result


async def _search(
    ctx: Ctx,
    live: LiveAvailability,
    directory: LotDirectory,
    *,
    lat: float,
    lon: float,
    radius_m: float,
    at: datetime | None,
    kind: str | None,
) -> dict[str, Any]:
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise Invalid(f"radius_m must be in (0, {MAX_RADIUS_M:.0f}]")
    when = at or ctx.now
    if _is_now(ctx, when) and not live.degraded:
        try:
            return await _search_live(ctx, live, directory, lat, lon, radius_m, kind)
        except LiveStoreUnavailable:
            live.mark_degraded()
    candidates = await lots_repo.lots_in_box(ctx.db, bounding_box(lat, lon, radius_m), kind)
    near = [(haversine_m(lat, lon, lot.lat, lot.lon), lot) for lot in candidates]
    near = sorted(((d, lot) for d, lot in near if d <= radius_m), key=lambda x: x[0])
    lots = [lot for _, lot in near]
    if _is_now(ctx, when):
        snapshots = await live.read(ctx.db, lots, ctx.now)
        degraded = live.degraded
    else:
        snapshots = {lot.id: await compute(ctx.db, lot, when, ctx.now) for lot in lots}
        degraded = False
    hits = [
        LotSearchHit(
            id=lot.id,
            name=lot.name,
            kind=lot.kind,
            lat=lot.lat,
            lon=lot.lon,
            address=lot.address,
            distance_m=round(distance, 1),
            capacity=lot.capacity,
            free_spaces=snapshots[lot.id]["free_spaces"],
            by_kind=snapshots[lot.id]["by_kind"],
            price_fen_per_hour=price_fen_per_hour(lot_tariff(lot), when),
        )
        for distance, lot in near
    ]
    return LotSearchResult(at=when, live_degraded=degraded, lots=hits).model_dump(mode="json")


async def detail(ctx: Ctx, live: LiveAvailability, lot_id: uuid.UUID, at: datetime | None) -> LotDetail:
    lot = await _lot(ctx, lot_id)
    when = at or ctx.now
    if _is_now(ctx, when):
        snapshot = (await live.read(ctx.db, [lot], ctx.now))[lot.id]
    else:
        snapshot = await compute(ctx.db, lot, when, ctx.now)
    window = timedelta(minutes=ctx.settings.entrance_window_min)
    arrivals = await events_repo.count_entries(ctx.db, lot.id, ctx.now - window)
    per_min = arrivals / (window.total_seconds() / 60)
    service_rate = lot.entrances * lot.entrance_service_rate_per_min
    return LotDetail(
        **lot_out(lot).model_dump(),
        free_spaces=snapshot["free_spaces"],
        availability=Availability.model_validate(snapshot),
        price_fen_per_hour=price_fen_per_hour(lot_tariff(lot), when),
        arrivals_per_min=round(per_min, 3),
        entrance_congested=per_min >= service_rate,
        live_degraded=live.degraded,
    )


async def guidance(
    ctx: Ctx,
    lot_id: uuid.UUID,
    *,
    lat: float | None,
    lon: float | None,
    kind: str | None,
    limit: int,
) -> list[GuidanceHit]:
    """Free spaces of a sensed lot, nearest first from where the driver is (or the lot's centre)."""
    lot = await _lot(ctx, lot_id)
    origin = (lat if lat is not None else lot.lat, lon if lon is not None else lot.lon)
    spaces = await lots_repo.spaces_of_lot(ctx.db, lot.id)
    bookings = await bookings_repo.live_bookings_overlapping(
        ctx.db, lot.id, ctx.now, ctx.now + SENSOR_HORIZON
    )
    states = space_states(spaces, booked_at(bookings, ctx.now), ctx.now, ctx.now)
    booked_soon = {b.space_id for b in bookings}
    hits = [
        GuidanceHit(
            space_id=s.id,
            code=s.code,
            kind=s.kind,
            lat=s.lat,
            lon=s.lon,
            distance_m=round(haversine_m(origin[0], origin[1], s.lat, s.lon), 1),
        )
        for s in spaces
        if states[s.id] == SpaceState.FREE and s.id not in booked_soon and (kind is None or s.kind == kind)
    ]
    return sorted(hits, key=lambda h: h.distance_m)[:limit]


async def _lot(ctx: Ctx, lot_id: uuid.UUID) -> Lot:
    lot = await lots_repo.get_lot(ctx.db, lot_id)
    if lot is None:
        raise NotFound("lot not found")
    return lot


async def require_lot(ctx: Ctx, lot_id: uuid.UUID) -> None:
    """Raise ``NotFound`` unless the lot exists."""
    await _lot(ctx, lot_id)


async def lot_snapshot(ctx: Ctx, live: LiveAvailability, lot_id: uuid.UUID) -> dict[str, Any]:
    """The lot's live availability now, as its SSE listeners receive it."""
    lot = await _lot(ctx, lot_id)
    snapshot = (await live.read(ctx.db, [lot], ctx.now))[lot.id]
    return {"lot_id": str(lot_id), **snapshot}


async def spaces(ctx: Ctx, lot_id: uuid.UUID) -> list[SpaceOut]:
    """Every space of the lot with the state a driver sees now."""
    return await lot_spaces(ctx, await _lot(ctx, lot_id))
