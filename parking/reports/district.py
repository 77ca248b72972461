"""The admin's district-wide views: operators with their lots and devices, the occupancy of every
lot, and revenue per lot and Asia/Shanghai hour or day.

Ranges are bounded so that one request cannot ask for unbounded work: occupancy is computed
lot by lot (the operators' own computation, ``service.lot_occupancy``) over at most
``MAX_OCCUPANCY_RANGE``; revenue is one query over the payments, for at most
``MAX_REVENUE_RANGE[bucket]``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, time, timedelta

from core.errors import Invalid
from parking.identity import service as identity
from parking.identity.access import Principal, require
from parking.identity.schemas import OperatorAccount, Role
from parking.lots import repository as lots_repo
from parking.lots.tariff import SHANGHAI
from parking.reports.schemas import (
    DistrictBucket,
    LotOccupancy,
    OperatorCounts,
    OperatorOut,
    RevenueBucketRow,
)
from parking.reports.service import cancellation_fees_kept, check_range, lot_occupancy
from parking.sessions import repository as sessions_repo
from parking.unit import Ctx

STEP = {DistrictBucket.HOUR: timedelta(hours=1), DistrictBucket.DAY: timedelta(days=1)}
MAX_OCCUPANCY_RANGE = timedelta(days=31)
MAX_REVENUE_RANGE = {DistrictBucket.HOUR: timedelta(days=31), DistrictBucket.DAY: timedelta(days=366)}


def _bounded(start: datetime, end: datetime, longest: timedelta) -> None:
    check_range(start, end)
    if end - start > longest:
        raise Invalid(f"the range may cover at most {longest.days} days", code="range_too_long")


def _operator_out(account: OperatorAccount, lots: int) -> OperatorOut:
    return OperatorOut(
        id=account.id,
        name=account.name,
        created_at=account.created_at,
        status=account.status,
        suspended_at=account.suspended_at,
        counts=OperatorCounts(lots=lots, devices=account.devices),
    )


async def operators(ctx: Ctx, principal: Principal) -> list[OperatorOut]:
    """Every operator with its status and how many lots and devices it has (admin only)."""
    accounts = await identity.operator_accounts(ctx, principal)
    lots = await lots_repo.lot_counts(ctx.db)
    return [_operator_out(a, lots.get(a.id, 0)) for a in accounts]


async def operator(ctx: Ctx, principal: Principal, operator_id: uuid.UUID) -> OperatorOut:
    """One operator as ``operators`` lists it (NotFound for an unknown id)."""
    (account,) = await identity.operator_accounts(ctx, principal, operator_id)
    lots = await lots_repo.lot_counts(ctx.db)
    return _operator_out(account, lots.get(account.id, 0))


async def occupancy(
    ctx: Ctx, principal: Principal, start: datetime, end: datetime, bucket: DistrictBucket
) -> list[LotOccupancy]:
    """Every lot's occupancy per bucket of ``[start, end)`` (buckets start at ``start``)."""
    require(principal, Role.ADMIN)
    _bounded(start, end, MAX_OCCUPANCY_RANGE)
    return [
        LotOccupancy(
            lot_id=lot.id,
            operator_id=lot.operator_id,
            name=lot.name,
            buckets=await lot_occupancy(ctx, lot, start, end, STEP[bucket]),
        )
        for lot in await lots_repo.lots_of_operator(ctx.db, None)
    ]


def shanghai_bucket(at: datetime, bucket: DistrictBucket) -> tuple[datetime, datetime]:
    """The Asia/Shanghai hour or calendar day containing ``at``, as +08:00 datetimes."""
    local = at.astimezone(SHANGHAI)
    if bucket == DistrictBucket.HOUR:
        first = local.replace(minute=0, second=0, microsecond=0)
        return first, first + timedelta(hours=1)
    day = local.date()
    return (
        datetime.combine(day, time(0), tzinfo=SHANGHAI),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI),
    )


async def revenue(
    ctx: Ctx, principal: Principal, start: datetime, end: datetime, bucket: DistrictBucket
) -> list[RevenueBucketRow]:
    """Per lot and Asia/Shanghai hour or day of ``[start, end)``, in time then lot order (admin
    only): payments settled (cash basis), and what was billed (stays that ended, cancellation
    fees kept), refunded, and left owed as receivables."""
    require(principal, Role.ADMIN)
    _bounded(start, end, MAX_REVENUE_RANGE[bucket])
    owner = {lot.id: lot.operator_id for lot in await lots_repo.lots_of_operator(ctx.db, None)}
    lot_ids = list(owner)
    totals: dict[tuple[datetime, uuid.UUID], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(at: datetime, lot_id: uuid.UUID, field: str, fen: int) -> None:
        first, _ = shanghai_bucket(at, bucket)
        totals[(first, lot_id)][field] += fen

    for p in await sessions_repo.payments_settled_between(ctx.db, lot_ids, start, end):
        assert p.settled_at is not None
        add(p.settled_at, p.lot_id, "revenue_fen", p.amount_fen)
        add(p.settled_at, p.lot_id, "payments", 1)
    for s in await sessions_repo.sessions_closed_between(ctx.db, lot_ids, start, end):
        assert s.exit_ts is not None
        add(s.exit_ts, s.lot_id, "billed_fen", s.fee_fen)
    for lot_id, at, kept in await cancellation_fees_kept(ctx, lot_ids, start, end):
        add(at, lot_id, "billed_fen", kept)
    for r in await sessions_repo.refunds_settled_between(ctx.db, lot_ids, start, end):
        assert r.settled_at is not None
        add(r.settled_at, r.lot_id, "refunded_fen", r.amount_fen)
    for owed in await sessions_repo.receivables_between(ctx.db, lot_ids, start, end):
        if start <= owed.created_at < end:
            add(owed.created_at, owed.lot_id, "receivables_fen", owed.amount_fen)
    return [
        RevenueBucketRow(
            lot_id=lot_id,
            operator_id=owner[lot_id],
            start=first,
            end=shanghai_bucket(first, bucket)[1],
            revenue_fen=figures["revenue_fen"],
            payments=figures["payments"],
            billed_fen=figures["billed_fen"],
            refunded_fen=figures["refunded_fen"],
            receivables_fen=figures["receivables_fen"],
        )
        for (first, lot_id), figures in sorted(totals.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    ]
