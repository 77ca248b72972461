"""The sessions room's services: the gate's entry and exit, and what a stay owes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind
from parking.lots.tariff import Tariff, fee_fen
from parking.sessions import repository as repo
from parking.sessions import service as sessions
from parking.sessions.schemas import ReceivableReason, SessionFlag, SessionStatus
from tests.support import TARIFF, Client, unit


async def test_entry_exit_and_what_the_stay_owes(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        out = await lots.create_lot(
            ctx, op, LotIn(name="G", lat=31.3, lon=121.5, kind=LotKind.GARAGE, capacity=5, tariff=TARIFF)
        )
        lot = await lots_repo.get_lot(ctx.db, out.id)
        assert lot is not None
        entry = ctx.now - timedelta(minutes=95)
        flags: list[SessionFlag] = []
        parking, opened = await sessions.enter(ctx, lot.id, "沪A12345", "h1", entry, flags)
        assert opened and flags == [] and await sessions.count_open(ctx, lot.id) == 1
        # a second entry read of the same plate keeps the open session and is flagged
        again, opened_again = await sessions.enter(ctx, lot.id, "沪A12345", "h1", entry, flags)
        assert (again.id, opened_again, flags) == (parking.id, False, [SessionFlag.DUPLICATE_ENTRY])
        # what it owes is the tariff's fee of the stay so far (parking.lots.tariff is the reference)
        expected = fee_fen(Tariff.from_dict(TARIFF), entry, ctx.now)
        grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
        assert sessions.owed_fen(parking, Tariff.from_dict(TARIFF), ctx.now, grace) == expected > 0
        assert sessions.due_fen(ctx, parking, lot, ctx.now) == expected
        closed = await sessions.close(ctx, parking, lot, ctx.now, [])
        assert (closed.status, closed.fee_fen) == (SessionStatus.CLOSED, expected)
        assert await sessions.count_open(ctx, lot.id) == 0
        assert await sessions.open_session_of(ctx, lot.id, "h1") is None
        # an exit nobody entered is kept, closed and flagged, at no fee
        exit_flags: list[SessionFlag] = []
        orphan = await sessions.orphan_exit(ctx, lot, "沪B00001", "h2", ctx.now, exit_flags)
        assert exit_flags == [SessionFlag.EXIT_WITHOUT_ENTRY] and orphan.fee_fen == 0
        assert (orphan.status, orphan.entry_ts) == (SessionStatus.CLOSED, None)


async def test_a_receivable_is_settled_when_the_fee_is_covered(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        out = await lots.create_lot(
            ctx, op, LotIn(name="G", lat=31.3, lon=121.5, kind=LotKind.GARAGE, capacity=5, tariff=TARIFF)
        )
        lot = await lots_repo.get_lot(ctx.db, out.id)
        assert lot is not None
        parking, _ = await sessions.enter(ctx, lot.id, "沪A12345", "h1", ctx.now - timedelta(hours=2), [])
        await sessions.close(ctx, parking, lot, ctx.now, [SessionFlag.UNPAID_EXIT])
        owed = parking.fee_fen
        assert owed > 0
        receivable = await sessions.add_receivable(ctx, parking, owed, ReceivableReason.UNPAID_EXIT)
        assert await repo.receivable_of_session(ctx.db, parking.id) is receivable
        # a part payment leaves it open; covering the fee settles it, naming the payment
        payment_id = uuid.uuid4()
        parking.paid_fen = owed - 1
        await sessions.settle_receivable(ctx, parking, payment_id)
        assert receivable.settled_at is None
        parking.paid_fen = owed
        await sessions.settle_receivable(ctx, parking, payment_id)
        assert receivable.settled_at == ctx.now and receivable.payment_id == payment_id
