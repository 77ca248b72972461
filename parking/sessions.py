"""Parking sessions: what a stay costs now, what is owed, and whether the gate may open.

A payment made at time T settles the fee as of T; the driver then has a grace period
(``exit_after_payment_min``) to leave before the meter counts again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from core.errors import NotFound
from parking import repository as repo
from parking.access import Principal, operator_scope, require
from parking.context import Ctx
from parking.models import Lot, ParkingSession
from parking.schemas import SessionOut
from parking.tariff import Tariff, fee_fen


@lru_cache(maxsize=1024)
def _tariff_from_items(
    items: tuple[tuple[str, object], ...], bands: tuple[tuple[str, str, int], ...]
) -> Tariff:
    data = dict(items)
    data["bands"] = [{"start": s, "end": e, "unit_fen": u} for s, e, u in bands]
    return Tariff.from_dict(data)


def lot_tariff(lot: Lot) -> Tariff:
    """The lot's tariff, parsed once per distinct tariff rather than on every request."""
    raw = lot.tariff
    bands = tuple((b["start"], b["end"], int(b["unit_fen"])) for b in raw["bands"])
    items = tuple(sorted((k, v) for k, v in raw.items() if k != "bands"))
    return _tariff_from_items(items, bands)


def owed_fen(parking: ParkingSession, tariff: Tariff, now: datetime, grace: timedelta) -> int:
    """What the stay costs as of now, honouring the post-payment grace period."""
    if parking.status != "open":
        return parking.fee_fen
    if parking.entry_ts is None:
        return 0
    if parking.paid_at is not None and parking.paid_basis_ts is not None and now <= parking.paid_at + grace:
        return fee_fen(tariff, parking.entry_ts, max(parking.paid_basis_ts, parking.entry_ts))
    return fee_fen(tariff, parking.entry_ts, max(now, parking.entry_ts))


def session_out(parking: ParkingSession, tariff: Tariff, now: datetime, grace: timedelta) -> SessionOut:
    fee = owed_fen(parking, tariff, now, grace)
    return SessionOut(
        id=parking.id,
        plate=parking.plate,
        lot_id=parking.lot_id,
        entry_ts=parking.entry_ts,
        exit_ts=parking.exit_ts,
        status=parking.status,
        fee_fen=fee,
        paid_fen=parking.paid_fen,
        exit_allowed=parking.paid_fen >= fee,
        booking_id=parking.booking_id,
        flags=list(parking.flags or []),
    )


async def render(ctx: Ctx, sessions: Sequence[ParkingSession]) -> list[SessionOut]:
    grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
    lots: dict[uuid.UUID, Lot] = {}
    out = []
    for parking in sessions:
        if parking.lot_id not in lots:
            lot = await repo.get_lot(ctx.db, parking.lot_id)
            assert lot is not None
            lots[parking.lot_id] = lot
        out.append(session_out(parking, lot_tariff(lots[parking.lot_id]), ctx.now, grace))
    return out


async def visible_session(ctx: Ctx, principal: Principal, session_id: uuid.UUID) -> ParkingSession:
    """A session its viewer may see: the driver of its plate, the lot's operator, or an admin."""
    parking = await repo.get_session(ctx.db, session_id)
    if parking is None:
        raise NotFound("session not found")
    if principal.role == "admin":
        return parking
    if principal.role == "driver" and parking.plate is not None:
        row = await repo.plate_row(ctx.db, parking.plate)
        if row is not None and row.driver_id == principal.id:
            return parking
    if principal.role == "operator":
        lot = await repo.get_lot(ctx.db, parking.lot_id)
        if lot is not None and lot.operator_id == principal.id:
            return parking
    raise NotFound("session not found")


async def driver_sessions(ctx: Ctx, principal: Principal, limit: int) -> list[SessionOut]:
    require(principal, "driver")
    assert principal.id is not None
    plates = [p.plate for p in await repo.plates_of_driver(ctx.db, principal.id)]
    return await render(ctx, await repo.sessions_of_plates(ctx.db, plates, limit))


async def operator_sessions(
    ctx: Ctx,
    principal: Principal,
    *,
    lot_id: uuid.UUID | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[SessionOut]:
    lots = await repo.lots_of_operator(ctx.db, operator_scope(principal))
    lot_ids = [lot.id for lot in lots if lot_id is None or lot.id == lot_id]
    if lot_id is not None and not lot_ids:
        raise NotFound("lot not found")
    rows = await repo.sessions_of_lots(ctx.db, lot_ids, status=status, since=since, until=until, limit=limit)
    return await render(ctx, rows)
