"""Parking sessions: what a stay costs now, what is owed, and whether the gate may open.

A payment made at time T settles the fee as of T; the driver then has a grace period
(``exit_after_payment_min``) to leave before the meter counts again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.errors import NotFound
from parking.identity import service as identity
from parking.identity.access import Principal, operator_scope, require
from parking.identity.plates import normalize_plate, plate_hash
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots import service as lots
from parking.lots.models import Lot
from parking.lots.service import lot_tariff
from parking.lots.tariff import Tariff, fee_fen
from parking.sessions import repository as repo
from parking.sessions.models import ParkingSession, Receivable
from parking.sessions.schemas import ReceivableOut, ReceivableReason, SessionFlag, SessionOut, SessionStatus
from parking.unit import Ctx


def owed_fen(parking: ParkingSession, tariff: Tariff, now: datetime, grace: timedelta) -> int:
    """What the stay costs as of now, honouring the post-payment grace period."""
    if parking.status != SessionStatus.OPEN:
        return parking.fee_fen
    if parking.entry_ts is None:
        return 0
    charging = parking.charging_fen or 0  # the stay's finished charges, paid with it
    if parking.paid_at is not None and parking.paid_basis_ts is not None and now <= parking.paid_at + grace:
        return fee_fen(tariff, parking.entry_ts, max(parking.paid_basis_ts, parking.entry_ts)) + charging
    return fee_fen(tariff, parking.entry_ts, max(now, parking.entry_ts)) + charging


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
            lot = await lots_repo.get_lot(ctx.db, parking.lot_id)
            assert lot is not None
            lots[parking.lot_id] = lot
        out.append(session_out(parking, lot_tariff(lots[parking.lot_id]), ctx.now, grace))
    return out


async def visible_session(ctx: Ctx, principal: Principal, session_id: uuid.UUID) -> ParkingSession:
    """A session its viewer may see: the driver of its plate, the lot's operator, or an admin."""
    parking = await repo.get_session(ctx.db, session_id)
    if parking is None:
        raise NotFound("session not found")
    if principal.role == Role.ADMIN:
        return parking
    if (
        principal.role == Role.DRIVER
        and parking.plate is not None
        and principal.id is not None
        and await identity.plate_owner(ctx, parking.plate) == principal.id
    ):
        return parking
    if await lots.operates(ctx, principal, parking.lot_id):
        return parking
    raise NotFound("session not found")


async def visible_session_out(ctx: Ctx, principal: Principal, session_id: uuid.UUID) -> SessionOut:
    return (await render(ctx, [await visible_session(ctx, principal, session_id)]))[0]


async def driver_sessions(ctx: Ctx, principal: Principal, limit: int) -> list[SessionOut]:
    require(principal, Role.DRIVER)
    assert principal.id is not None
    plates = await identity.plates_of(ctx, principal.id)
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
    lots = await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))
    lot_ids = [lot.id for lot in lots if lot_id is None or lot.id == lot_id]
    if lot_id is not None and not lot_ids:
        raise NotFound("lot not found")
    rows = await repo.sessions_of_lots(ctx.db, lot_ids, status=status, since=since, until=until, limit=limit)
    return await render(ctx, rows)


async def count_open(ctx: Ctx, lot_id: uuid.UUID) -> int:
    return await repo.count_open_sessions(ctx.db, lot_id)


# --- the gate: entry and exit reads ---------------------------------------------------------------


async def enter(
    ctx: Ctx, lot_id: uuid.UUID, plate: str, digest: str, entry_ts: datetime, flags: list[SessionFlag]
) -> tuple[ParkingSession, bool]:
    """An entry read: ``(session, opened)``. A plate whose session is already open keeps it (and
    the read is flagged a duplicate entry), also when a concurrent read opened it first."""
    current = await repo.open_session(ctx.db, lot_id, digest)
    if current is None:
        parking = ParkingSession(
            lot_id=lot_id,
            plate=plate,
            plate_hash=digest,
            entry_ts=entry_ts,
            status=SessionStatus.OPEN,
            flags=list(flags),
            created_at=ctx.now,
        )
        if await repo.insert(ctx.db, parking):
            return parking, True
        current = await repo.open_session(ctx.db, lot_id, digest)
        assert current is not None
    flags.append(SessionFlag.DUPLICATE_ENTRY)
    current.flags = [*current.flags, SessionFlag.DUPLICATE_ENTRY]
    await ctx.flush()
    return current, False


def link_booking(parking: ParkingSession, booking_id: uuid.UUID) -> None:
    parking.booking_id = booking_id


async def open_session_of(ctx: Ctx, lot_id: uuid.UUID, digest: str) -> ParkingSession | None:
    return await repo.open_session(ctx.db, lot_id, digest)


def due_fen(ctx: Ctx, parking: ParkingSession, lot: Lot, at: datetime) -> int:
    """What the stay owes at ``at`` beyond what was paid (payments settle as of their time)."""
    grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
    assert parking.entry_ts is not None
    return owed_fen(parking, lot_tariff(lot), max(at, parking.entry_ts), grace) - parking.paid_fen


def mark(parking: ParkingSession, flags: list[SessionFlag]) -> None:
    """Add flags to the session (each once)."""
    parking.flags = [*parking.flags, *(f for f in flags if f not in parking.flags)]


async def orphan_exit(
    ctx: Ctx, lot: Lot, plate: str, digest: str, exit_ts: datetime, flags: list[SessionFlag]
) -> ParkingSession:
    """An exit nobody entered: kept as a closed session of its own, flagged, at no fee."""
    flags.append(SessionFlag.EXIT_WITHOUT_ENTRY)
    orphan = ParkingSession(
        lot_id=lot.id,
        plate=plate,
        plate_hash=digest,
        entry_ts=None,
        exit_ts=exit_ts,
        status=SessionStatus.CLOSED,
        fee_fen=0,
        flags=list(flags),
        created_at=ctx.now,
    )
    await repo.add(ctx.db, orphan)
    return orphan


async def close(
    ctx: Ctx, parking: ParkingSession, lot: Lot, exit_ts: datetime, flags: list[SessionFlag]
) -> ParkingSession:
    """The car left at ``exit_ts``: the session closes at what the stay costs then."""
    assert parking.entry_ts is not None
    grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
    parking.fee_fen = owed_fen(parking, lot_tariff(lot), max(exit_ts, parking.entry_ts), grace)
    parking.exit_ts = exit_ts
    parking.status = SessionStatus.CLOSED
    mark(parking, flags)
    await ctx.flush()
    return parking


async def add_receivable(
    ctx: Ctx, parking: ParkingSession, amount_fen: int, reason: ReceivableReason
) -> Receivable:
    """What a closed stay still owes; settled when its driver pays the session later."""
    receivable = Receivable(
        lot_id=parking.lot_id,
        session_id=parking.id,
        plate=parking.plate,
        plate_hash=parking.plate_hash,
        amount_fen=amount_fen,
        reason=reason,
        created_at=ctx.now,
    )
    await repo.insert(ctx.db, receivable)
    return receivable


async def settle_receivable(ctx: Ctx, parking: ParkingSession, payment_id: uuid.UUID) -> None:
    """A payment of a closed session: its receivable is settled once the fee is covered."""
    if parking.status != SessionStatus.CLOSED or parking.paid_fen < parking.fee_fen:
        return
    receivable = await repo.receivable_of_session(ctx.db, parking.id)
    if receivable is not None and receivable.settled_at is None:
        receivable.settled_at = ctx.now
        receivable.payment_id = payment_id
        await ctx.flush()


def receivable_out(r: Receivable) -> ReceivableOut:
    return ReceivableOut(
        id=r.id,
        lot_id=r.lot_id,
        session_id=r.session_id,
        plate=r.plate,
        amount_fen=r.amount_fen,
        reason=r.reason,
        created_at=r.created_at,
        settled_at=r.settled_at,
    )


async def driver_receivables(ctx: Ctx, principal: Principal) -> list[ReceivableOut]:
    """What the driver's plates owe (and owed): the receivables of their sessions."""
    require(principal, Role.DRIVER)
    assert principal.id is not None
    digests = [plate_hash(p, ctx.plate_key) for p in await identity.plates_of(ctx, principal.id)]
    return [receivable_out(r) for r in await repo.receivables(ctx.db, plate_hashes=digests)]


async def operator_receivables(
    ctx: Ctx, principal: Principal, *, plate: str | None, open_only: bool, limit: int
) -> list[ReceivableOut]:
    lots = await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))
    digests = None if plate is None else [plate_hash(normalize_plate(plate), ctx.plate_key)]
    rows = await repo.receivables(
        ctx.db, lot_ids=[lot.id for lot in lots], plate_hashes=digests, open_only=open_only, limit=limit
    )
    return [receivable_out(r) for r in rows]
