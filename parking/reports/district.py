"""The admin's district-wide views: operators with their lots and devices."""

from __future__ import annotations

import uuid

from parking.identity import service as identity
from parking.identity.access import Principal
from parking.identity.schemas import OperatorAccount
from parking.lots import repository as lots_repo
from parking.reports.schemas import OperatorCounts, OperatorOut
from parking.unit import Ctx


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
