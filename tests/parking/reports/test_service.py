"""The reports room: revenue per lot and Asia/Shanghai calendar day, from settled payments."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.errors import Invalid
from parking.events import service as events
from parking.events.schemas import AnprEventIn, Direction
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import DeviceIn, DeviceKind, Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind
from parking.lots.tariff import SHANGHAI
from parking.reports import service as reports
from parking.sessions import payments
from tests.support import TARIFF, Client, unit


async def test_revenue_counts_settled_payments_per_shanghai_day(client: Client) -> None:
    sandbox = payments.SandboxProvider("s" * 32)
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        lot = await lots.create_lot(
            ctx, op, LotIn(name="G", lat=31.3, lon=121.5, kind=LotKind.GARAGE, capacity=5, tariff=TARIFF)
        )
        cam = await lots.add_device(ctx, op, DeviceIn(lot_id=lot.id, kind=DeviceKind.ANPR_CAMERA, name="c"))
        driver = Principal(Role.DRIVER, (await identity.register_driver(ctx, "D", "+86 138 0000 0000")).id)
        await identity.add_plate(ctx, driver, "沪A12345")
        entry = ctx.now - timedelta(hours=2)
        read = AnprEventIn(event_id="in", plate="沪A12345", direction=Direction.IN, ts=entry)
        session_id = (await events.ingest_anpr(ctx, lot.id, cam.id, read)).session_id
        assert session_id is not None
        pending, _ = await payments.pay(ctx, driver, session_id, "k", sandbox)
        body = json.dumps(
            {"provider_ref": pending.provider_ref, "status": "succeeded", "amount_fen": pending.amount_fen}
        ).encode()
        await payments.settle(ctx, sandbox, body, sandbox.sign(body))
        rows = await reports.revenue(ctx, op, ctx.now - timedelta(days=1), ctx.now + timedelta(days=1))
        assert [(r.lot_id, r.revenue_fen, r.payments) for r in rows] == [(lot.id, pending.amount_fen, 1)]
        # settled now: the day is the Asia/Shanghai calendar day of this instant, not the UTC one
        assert rows[0].day == ctx.now.astimezone(SHANGHAI).date().isoformat()
        other = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Other")).id)
        assert (
            await reports.revenue(ctx, other, ctx.now - timedelta(days=1), ctx.now + timedelta(days=1)) == []
        )
        with pytest.raises(Invalid):
            await reports.revenue(ctx, op, ctx.now, ctx.now - timedelta(days=1))
