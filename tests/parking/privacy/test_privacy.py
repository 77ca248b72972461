"""Plates are personal data: masked in logs, replaced by a keyed hash after the retention period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from parking.events.models import AnprEvent
from parking.identity.plates import plate_hash
from parking.privacy import service as privacy
from parking.sessions.models import ParkingSession, Receivable
from parking.unit import Ctx
from tests.support import Client, now_utc


async def test_purge_keeps_only_the_keyed_hash_of_old_plates(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=10)
    cam = await client.device(op, lot["id"])
    old = now_utc() - timedelta(days=200)
    await client.anpr(cam, "沪A11111", "in", old, "old-in")
    # the car left unpaid through the barrier: its receivable names the plate until the purge
    await client.anpr(cam, "沪A11111", "out", old + timedelta(hours=2), "old-out", passed=True)
    await client.anpr(cam, "沪A22222", "in", now_utc() - timedelta(hours=1), "new-in")
    state = client.app.state.beidou
    async with state.sessionmaker() as db:
        report = await privacy.purge(Ctx(db=db, settings=state.settings))
        await db.commit()
    assert (report.sessions, report.anpr_events, report.receivables) == (1, 2, 0)
    async with state.sessionmaker() as db:
        sessions = {s.plate_hash: s for s in (await db.scalars(select(ParkingSession))).all()}
        events = (await db.scalars(select(AnprEvent).order_by(AnprEvent.ts))).all()
    key = state.settings.plate_hash_key.encode()
    purged = sessions[plate_hash("沪A11111", key)]
    kept = sessions[plate_hash("沪A22222", key)]
    assert purged.plate is None and purged.fee_fen > 0  # the money record stays
    assert kept.plate == "沪A22222"
    assert [e.plate for e in events] == [None, None, "沪A22222"]
    # the receivable was raised today: its plate stays until it too is past retention, and then
    # only its keyed hash remains, which the driver's registered plate still matches
    async with state.sessionmaker() as db:
        later = await privacy.purge(Ctx(db=db, settings=state.settings, now=now_utc() + timedelta(days=400)))
        await db.commit()
    assert later.receivables == 1
    async with state.sessionmaker() as db:
        (owed,) = (await db.scalars(select(Receivable))).all()
    assert owed.plate is None and owed.plate_hash == plate_hash("沪A11111", key) and owed.amount_fen > 0


async def test_logs_never_carry_plates_in_clear(make_client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    client: Client = await make_client(log_level="INFO")
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=10)
    cam = await client.device(op, lot["id"])
    capsys.readouterr()
    r = await client.anpr(cam, "沪A98765", "in", now_utc(), "log-1")
    assert r.status_code == 201
    logged = capsys.readouterr().err
    assert "anpr_event" in logged
    assert "沪A***65" in logged.encode().decode("unicode_escape") or "\\u6caaA***65" in logged
    assert "98765" not in logged
