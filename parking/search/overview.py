"""The district map: every lot (or one operator's) with live counts, tariffs and off-peak
sharing, and the nearest lot with a free space. The public page, the console and their JSON
twins build the same ``LotCard`` list here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from functools import lru_cache

from parking.availability.service import LiveAvailability
from parking.geo import haversine_m
from parking.lots import repository as lots_repo
from parking.lots.sharing import open_at
from parking.lots.tariff import Tariff, price_fen_per_hour, tariff_of
from parking.search.schemas import LotCard, NearestFree
from parking.unit import Ctx


@lru_cache(maxsize=1024)
def _tariff(canonical: str) -> Tariff:
    return tariff_of(json.loads(canonical))


def cached_tariff(raw: dict[str, object]) -> Tariff:
    """A lot's parsed tariff, parsed once per distinct tariff (lots share a few; a parse builds a
    per-minute price table, about half a millisecond)."""
    return _tariff(json.dumps(raw, sort_keys=True))


def _patterns(per_space: Sequence[Sequence[dict[str, object]]]) -> list[Sequence[dict[str, object]]]:
    """The distinct window lists of a lot's spaces (a shared lot's spaces usually share one)."""
    return list({json.dumps(w, sort_keys=True): w for w in per_space}.values())


def _distinct(windows: Sequence[Sequence[dict[str, object]]]) -> list[dict[str, object]]:
    seen: dict[str, dict[str, object]] = {}
    for per_space in windows:
        for window in per_space:
            seen.setdefault(repr(sorted(window.items())), window)
    return list(seen.values())


async def lot_cards(ctx: Ctx, live: LiveAvailability, operator_id: uuid.UUID | None) -> list[LotCard]:
    """Every lot of ``operator_id`` (``None``: of the district), oldest first: three reads
    whatever the number of lots (lots, one live-store MGET, the shared spaces' windows)."""
    lots = await lots_repo.lots_of_operator(ctx.db, operator_id)
    snapshots = await live.read(ctx.db, lots, ctx.now)
    shared = await lots_repo.shared_windows_by_lot(
        ctx.db, None if operator_id is None else [x.id for x in lots]
    )
    cards = []
    for lot in lots:
        snap = snapshots[lot.id]
        per_space = shared.get(lot.id, [])
        cards.append(
            LotCard(
                id=lot.id,
                operator_id=lot.operator_id,
                name=lot.name,
                kind=lot.kind,
                lat=lot.lat,
                lon=lot.lon,
                address=lot.address,
                capacity=lot.capacity,
                free_spaces=snap["free_spaces"],
                occupied=snap["occupied"],
                reserved=snap["reserved"],
                price_fen_per_hour=price_fen_per_hour(cached_tariff(lot.tariff), ctx.now),
                tariff=lot.tariff,
                shared_spaces=len(per_space),
                shared_windows=_distinct(per_space),
                shared_open_now=any(open_at(w, ctx.now) for w in _patterns(per_space)),
                live_degraded=bool(snap.get("degraded")),
            )
        )
    return cards


async def lot_names(ctx: Ctx, operator_id: uuid.UUID | None) -> dict[uuid.UUID, str]:
    """Lot id -> name for listings (one query, no live counts)."""
    return {lot.id: lot.name for lot in await lots_repo.lots_of_operator(ctx.db, operator_id)}


async def lot_capacities(ctx: Ctx) -> dict[uuid.UUID, int]:
    """Every lot's capacity (the district's total is their sum)."""
    return {lot.id: lot.capacity for lot in await lots_repo.lots_of_operator(ctx.db, None)}


def nearest_free(cards: Sequence[LotCard], lat: float, lon: float) -> NearestFree | None:
    """The closest lot with at least one free space (great-circle distance)."""
    best: NearestFree | None = None
    for card in cards:
        if card.free_spaces <= 0:
            continue
        d = haversine_m(lat, lon, card.lat, card.lon)
        if best is None or d < best.distance_m:
            best = NearestFree(lot=card, distance_m=round(d, 1))
    return best
