"""Operators' view of the bookings at their lots (the admin's: every lot's).

Kept beside ``service.py`` (which makes, cancels and checks in bookings): listing them needs
none of those rules, only tenancy.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from core.errors import Invalid
from parking.bookings import repository as repo
from parking.bookings.schemas import BookingOut, BookingStatus
from parking.bookings.service import booking_out
from parking.identity.access import Principal, operator_scope
from parking.lots import repository as lots_repo
from parking.lots.service import own_lot
from parking.lots.tariff import SHANGHAI
from parking.types import MAX_YEAR, MIN_YEAR
from parking.unit import Ctx


def shanghai_day(day: date) -> tuple[datetime, datetime]:
    """The instants an Asia/Shanghai calendar day covers, ``[00:00, next 00:00)`` local."""
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise Invalid(f"day must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    start = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


async def operator_bookings(
    ctx: Ctx,
    principal: Principal,
    *,
    lot_id: uuid.UUID | None = None,
    day: date | None = None,
    status: BookingStatus | None = None,
    limit: int = 100,
) -> list[BookingOut]:
    """Bookings at the operator's lots (an admin: at every lot), latest start first; ``day``
    keeps those overlapping that Asia/Shanghai calendar day. Another operator's lot answers
    "lot not found", as an unknown one does."""
    scope = operator_scope(principal)
    lot_ids: list[uuid.UUID] | None = None
    if lot_id is not None:
        lot_ids = [(await own_lot(ctx, principal, lot_id)).id]
    elif scope is not None:
        lot_ids = [lot.id for lot in await lots_repo.lots_of_operator(ctx.db, scope)]
    start, end = shanghai_day(day) if day is not None else (None, None)
    rows = await repo.bookings_of_lots(ctx.db, lot_ids, status=status, start=start, end=end, limit=limit)
    return [booking_out(b) for b in rows]
