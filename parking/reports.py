"""Operator views: occupancy over time, revenue per lot per day, and the review queue of flags."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.errors import Invalid, NotFound
from parking import repository as repo
from parking.access import Principal, operator_scope, own_lot, require
from parking.availability import GATE_COUNTED
from parking.context import Ctx
from parking.models import Flag
from parking.schemas import OccupancyBucket, RevenueRow
from parking.tariff import SHANGHAI

BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "15min": timedelta(minutes=15)}
MAX_BUCKETS = 24 * 93


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Invalid("'to' must be after 'from'")


async def occupancy(
    ctx: Ctx, principal: Principal, lot_id: uuid.UUID, start: datetime, end: datetime, bucket: str
) -> list[OccupancyBucket]:
    """Time-weighted occupancy per bucket, from sessions (garages) or sensor history (spaces)."""
    lot = await own_lot(ctx.db, principal, lot_id)
    _check_range(start, end)
    if bucket not in BUCKETS:
        raise Invalid(f"bucket must be one of {sorted(BUCKETS)}")
    step = BUCKETS[bucket]
    if (end - start) / step > MAX_BUCKETS:
        raise Invalid(f"at most {MAX_BUCKETS} buckets per request")
    horizon = min(end, ctx.now)
    intervals: list[tuple[datetime, datetime]] = []
    if lot.kind == GATE_COUNTED:
        for s in await repo.sessions_overlapping(ctx.db, lot.id, start, end):
            assert s.entry_ts is not None
            intervals.append((s.entry_ts, s.exit_ts or horizon))
        capacity = lot.capacity
    else:
        intervals = _sensor_intervals(await repo.occupancy_events_until(ctx.db, lot.id, end), horizon)
        capacity = len(await repo.spaces_of_lot(ctx.db, lot.id)) or lot.capacity
    events = await repo.anpr_events_between(ctx.db, lot.id, start, end)
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
        entries=directions.count("in"),
        exits=directions.count("out"),
    )


async def revenue(ctx: Ctx, principal: Principal, start: datetime, end: datetime) -> list[RevenueRow]:
    """Settled payments per lot per Asia/Shanghai calendar day."""
    _check_range(start, end)
    lots = await repo.lots_of_operator(ctx.db, operator_scope(principal))
    payments = await repo.payments_settled_between(ctx.db, [lot.id for lot in lots], start, end)
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


async def flags(ctx: Ctx, principal: Principal, *, unresolved_only: bool, limit: int) -> Sequence[Flag]:
    lots = await repo.lots_of_operator(ctx.db, operator_scope(principal))
    return await repo.flags_of_lots(
        ctx.db, [lot.id for lot in lots], unresolved_only=unresolved_only, limit=limit
    )


async def resolve_flag(ctx: Ctx, principal: Principal, flag_id: uuid.UUID, resolution: str) -> Flag:
    require(principal, "operator", "admin")
    flag = await repo.get_flag(ctx.db, flag_id)
    if flag is None:
        raise NotFound("flag not found")
    await own_lot(ctx.db, principal, flag.lot_id)
    if flag.resolved_at is None:
        flag.resolved_at = ctx.now
        flag.resolution = resolution
        await ctx.db.flush()
    return flag
