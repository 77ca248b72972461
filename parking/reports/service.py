"""Operator views: occupancy over time and revenue per lot per day (the admin's district-wide
views are in ``district.py``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.errors import Invalid
from parking.events import repository as events_repo
from parking.events.schemas import Direction
from parking.identity.access import Principal, operator_scope
from parking.lots import repository as lots_repo
from parking.lots.models import Lot
from parking.lots.service import own_lot
from parking.lots.states import GATE_COUNTED
from parking.lots.tariff import SHANGHAI
from parking.reports.schemas import OccupancyBucket, RevenueRow
from parking.sessions import repository as sessions_repo
from parking.unit import Ctx

BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "15min": timedelta(minutes=15)}
MAX_BUCKETS = 24 * 93


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Invalid("'to' must be after 'from'")


async def occupancy(
    ctx: Ctx, principal: Principal, lot_id: uuid.UUID, start: datetime, end: datetime, bucket: str
) -> list[OccupancyBucket]:
    """Time-weighted occupancy per bucket, from sessions (garages) or sensor history (spaces)."""
    lot = await own_lot(ctx, principal, lot_id)
    check_range(start, end)
    if bucket not in BUCKETS:
        raise Invalid(f"bucket must be one of {sorted(BUCKETS)}")
    step = BUCKETS[bucket]
    if (end - start) / step > MAX_BUCKETS:
        raise Invalid(f"at most {MAX_BUCKETS} buckets per request")
    return await lot_occupancy(ctx, lot, start, end, step)


async def lot_occupancy(
    ctx: Ctx, lot: Lot, start: datetime, end: datetime, step: timedelta
) -> list[OccupancyBucket]:
    """One lot's buckets of ``step`` from ``start`` (the last one ends at ``end``); the caller
    has checked who may see the lot and that the range is bounded."""
    horizon = min(end, ctx.now)
    intervals: list[tuple[datetime, datetime]] = []
    if lot.kind == GATE_COUNTED:
        for s in await sessions_repo.sessions_overlapping(ctx.db, lot.id, start, end):
            assert s.entry_ts is not None
            intervals.append((s.entry_ts, s.exit_ts or horizon))
        capacity = lot.capacity
    else:
        intervals = _sensor_intervals(await events_repo.occupancy_events_until(ctx.db, lot.id, end), horizon)
        capacity = len(await lots_repo.spaces_of_lot(ctx.db, lot.id)) or lot.capacity
    events = await events_repo.anpr_events_between(ctx.db, lot.id, start, end)
    out = []
    t = start
    while t < end:
        u = min(t + step, end)
        out.append(_bucket(t, u, intervals, events, capacity))
        t = u
    return out


def _sensor_intervals(events: Sequence[object], horizon: datetime) -> list[tuple[datetime, datetime]]:
    since: dict[uuid.UUID, datetime] = {}
    intervals = []
    for ev in events:
        space_id, occupied, ts = ev.space_id, ev.occupied, ev.ts  # type: ignore[attr-defined]
        if occupied and space_id not in since:
            since[space_id] = ts
        elif not occupied and space_id in since:
            intervals.append((since.pop(space_id), ts))
    intervals.extend((s, horizon) for s in since.values())
    return intervals


def _bucket(
    start: datetime,
    end: datetime,
    intervals: Sequence[tuple[datetime, datetime]],
    events: Sequence[object],
    capacity: int,
) -> OccupancyBucket:
    seconds = (end - start).total_seconds()
    edges: list[tuple[datetime, int]] = []
    occupied_s = 0.0
    for a, b in intervals:
        lo, hi = max(a, start), min(b, end)
        if lo < hi:
            occupied_s += (hi - lo).total_seconds()
            edges += [(lo, 1), (hi, -1)]
        elif a <= start < b:
            edges += [(start, 1), (end, -1)]
    live = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        live += step
        peak = max(peak, live)
    avg = occupied_s / seconds if seconds else 0.0
    directions = [e.direction for e in events if start <= e.ts < end]  # type: ignore[attr-defined]
    return OccupancyBucket(
        start=start,
        end=end,
        avg_occupied=round(avg, 3),
        max_occupied=peak,
        occupancy_ratio=round(avg / capacity, 4) if capacity else 0.0,
        entries=directions.count(Direction.IN),
        exits=directions.count(Direction.OUT),
    )


async def revenue(ctx: Ctx, principal: Principal, start: datetime, end: datetime) -> list[RevenueRow]:
    """Settled payments per lot per Asia/Shanghai calendar day."""
    check_range(start, end)
    lots = await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))
    payments = await sessions_repo.payments_settled_between(ctx.db, [lot.id for lot in lots], start, end)
    totals: dict[tuple[uuid.UUID, str], list[int]] = defaultdict(lambda: [0, 0])
    for p in payments:
        assert p.settled_at is not None
        day = p.settled_at.astimezone(SHANGHAI).date().isoformat()
        totals[(p.lot_id, day)][0] += p.amount_fen
        totals[(p.lot_id, day)][1] += 1
    return [
        RevenueRow(lot_id=lot_id, day=day, revenue_fen=fen, payments=n)
        for (lot_id, day), (fen, n) in sorted(totals.items(), key=lambda kv: (kv[0][1], str(kv[0][0])))
    ]
