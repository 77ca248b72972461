"""Operator views: occupancy over time, revenue per lot per day, and the daily reconciliation
(the admin's district-wide views are in ``district.py``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.errors import Invalid
from parking.bookings import repository as bookings_repo
from parking.events import repository as events_repo
from parking.events.schemas import Direction
from parking.identity.access import Principal, operator_scope
from parking.lots import repository as lots_repo
from parking.lots.models import Lot
from parking.lots.service import own_lot
from parking.lots.states import GATE_COUNTED
from parking.lots.tariff import SHANGHAI
from parking.reports.schemas import OccupancyBucket, ReconciliationRow, RevenueRow
from parking.sessions import repository as sessions_repo
from parking.sessions.schemas import PaymentStatus
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
    """Per lot and Asia/Shanghai day: payments settled (cash basis), and what was billed,
    refunded and left owed (accrual), from the same figures as the reconciliation."""
    check_range(start, end)
    lots = await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))
    counts: dict[tuple[uuid.UUID, str], int] = defaultdict(int)
    for p in await sessions_repo.payments_settled_between(ctx.db, [lot.id for lot in lots], start, end):
        assert p.settled_at is not None
        counts[(p.lot_id, _day(p.settled_at))] += 1
    return [
        RevenueRow(
            lot_id=row.lot_id,
            day=row.day,
            revenue_fen=row.received_fen,
            payments=counts[(row.lot_id, row.day)],
            billed_fen=row.fees_fen + row.cancellation_fees_fen,
            refunded_fen=row.refunded_fen,
            receivables_fen=row.receivables_new_fen,
        )
        for row in await _reconcile(ctx, [lot.id for lot in lots], start, end)
        if row.received_fen or row.fees_fen or row.cancellation_fees_fen or row.refunded_fen
    ]


MAX_RECONCILIATION_DAYS = 93


async def cancellation_fees_kept(
    ctx: Ctx, lot_ids: Sequence[uuid.UUID], start: datetime, end: datetime
) -> list[tuple[uuid.UUID, datetime, int]]:
    """``(lot, when, fen)`` of the cancellation fees kept from bookings that ended unused in the
    window: the tariff's fee, at most what was paid ahead (an unpaid booking's fee is not collected)."""
    kept = []
    for booking in await bookings_repo.bookings_ended_unused_between(ctx.db, lot_ids, start, end):
        assert booking.cancelled_at is not None
        paid = sum(
            p.amount_fen
            for p in await sessions_repo.payments_of_booking(ctx.db, booking.id)
            if p.status == PaymentStatus.SUCCEEDED
        )
        if min(booking.cancel_fee_fen, paid) > 0:
            kept.append((booking.lot_id, booking.cancelled_at, min(booking.cancel_fee_fen, paid)))
    return kept


def _day(at: datetime) -> str:
    return at.astimezone(SHANGHAI).date().isoformat()


async def reconciliation(
    ctx: Ctx, principal: Principal, start: datetime, end: datetime
) -> list[ReconciliationRow]:
    """Per lot and Asia/Shanghai day: the fees of the stays that ended and the cancellation fees
    kept (expected), the payments settled less the refunds made (received), and the receivables
    (new, settled, outstanding at the day's end)."""
    check_range(start, end)
    if end - start > timedelta(days=MAX_RECONCILIATION_DAYS):
        raise Invalid(f"at most {MAX_RECONCILIATION_DAYS} days per request")
    lots = await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))
    return await _reconcile(ctx, [lot.id for lot in lots], start, end)


async def _reconcile(
    ctx: Ctx, lot_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[ReconciliationRow]:
    rows: dict[tuple[uuid.UUID, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in await sessions_repo.sessions_closed_between(ctx.db, lot_ids, start, end):
        assert s.exit_ts is not None
        row = rows[(s.lot_id, _day(s.exit_ts))]
        row["sessions_closed"] += 1
        row["fees_fen"] += s.fee_fen
    for p in await sessions_repo.payments_settled_between(ctx.db, lot_ids, start, end):
        assert p.settled_at is not None
        rows[(p.lot_id, _day(p.settled_at))]["received_fen"] += p.amount_fen
    for refund in await sessions_repo.refunds_settled_between(ctx.db, lot_ids, start, end):
        assert refund.settled_at is not None
        rows[(refund.lot_id, _day(refund.settled_at))]["refunded_fen"] += refund.amount_fen
    for lot_id, at, kept in await cancellation_fees_kept(ctx, lot_ids, start, end):
        rows[(lot_id, _day(at))]["cancellation_fees_fen"] += kept
    receivables = await sessions_repo.receivables_between(ctx.db, lot_ids, start, end)
    for r in receivables:
        if start <= r.created_at < end:
            rows[(r.lot_id, _day(r.created_at))]["receivables_new_fen"] += r.amount_fen
        if r.settled_at is not None and start <= r.settled_at < end:
            rows[(r.lot_id, _day(r.settled_at))]["receivables_settled_fen"] += r.amount_fen
    out = []
    for (lot_id, day), figures in sorted(rows.items(), key=lambda kv: (kv[0][1], str(kv[0][0]))):
        day_end = datetime.fromisoformat(day).replace(tzinfo=SHANGHAI) + timedelta(days=1)
        outstanding = sum(
            r.amount_fen
            for r in receivables
            if r.lot_id == lot_id
            and r.created_at < day_end
            and (r.settled_at is None or r.settled_at >= day_end)
        )
        out.append(
            ReconciliationRow(
                lot_id=lot_id,
                day=day,
                sessions_closed=figures["sessions_closed"],
                fees_fen=figures["fees_fen"],
                cancellation_fees_fen=figures["cancellation_fees_fen"],
                received_fen=figures["received_fen"],
                refunded_fen=figures["refunded_fen"],
                receivables_new_fen=figures["receivables_new_fen"],
                receivables_settled_fen=figures["receivables_settled_fen"],
                outstanding_fen=outstanding,
            )
        )
    return out


def reconciliation_csv(rows: list[ReconciliationRow]) -> str:
    """The same rows as CSV (a header line, then one line per lot and day), for accounting."""
    fields = list(ReconciliationRow.model_fields)
    lines = [",".join(fields)]
    lines += [",".join(str(getattr(row, f)) for f in fields) for row in rows]
    return "\n".join(lines) + "\n"
