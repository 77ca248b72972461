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
from parking.reports.service import check_range, lot_occupancy
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
    """Payments settled in ``[start, end)`` per lot and Asia/Shanghai hour or day, in time then
    lot order (admin only)."""
    require(principal, Role.ADMIN)
    _bounded(start, end, MAX_REVENUE_RANGE[bucket])
    owner = {lot.id: lot.operator_id for lot in await lots_repo.lots_of_operator(ctx.db, None)}
    payments = await sessions_repo.payments_settled_between(ctx.db, list(owner), start, end)
    totals: dict[tuple[datetime, uuid.UUID], list[int]] = defaultdict(lambda: [0, 0])
    for p in payments:
        assert p.settled_at is not None
        first, _ = shanghai_bucket(p.settled_at, bucket)
        totals[(first, p.lot_id)][0] += p.amount_fen
        totals[(first, p.lot_id)][1] += 1
    return [
        RevenueBucketRow(
            lot_id=lot_id,
            operator_id=owner[lot_id],
            start=first,
            end=shanghai_bucket(first, bucket)[1],
            revenue_fen=fen,
            payments=n,
        )
        for (first, lot_id), (fen, n) in sorted(totals.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    ]
