"""Plate reads at the gates: sessions opened, closed and priced; odd reads stored and flagged."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from tests.support import Actor, Client, now_utc

SH = "+08:00"


def at(local: str) -> datetime:
    """A Shanghai wall-clock time, e.g. at('2026-11-20T09:00')."""
    return datetime.fromisoformat(local + SH)


async def _setup(c: Client, **lot_kwargs: Any) -> tuple[Actor, dict[str, Any], Actor]:
    op = await c.operator()
    lot = await c.lot(op, kind="garage", capacity=50, **lot_kwargs)
    cam = await c.device(op, lot["id"])
    return op, lot, cam


async def test_entry_then_exit_prices_the_stay(client: Client) -> None:
    op, lot, cam = await _setup(client)
    r = await client.anpr(cam, "沪A12345", "in", at("2026-11-20T09:00"), "in-1")
    assert r.status_code == 201
    assert r.json()["flagged"] is False
    assert (r.json()["gate"], r.json()["reason"]) == ("open", "free_space")
    session_id = r.json()["session_id"]
    # 09:00-10:10 = 70 min > 15 free -> 3 units of 30 min starting 09:00, 09:30, 10:00,
    # all in the 08:00-20:00 band at 500 fen -> 1500 fen, unpaid: the barrier holds
    r = await client.anpr(cam, "沪A12345", "out", at("2026-11-20T10:10"), "out-1")
    assert r.status_code == 201
    assert r.json() == {
        "session_id": session_id,
        "flagged": False,
        "gate": "hold",
        "reason": "unpaid",
        "amount_due_fen": 1500,
    }
    s = (await client.http.get(f"/v1/sessions/{session_id}", headers=op.h)).json()
    assert s["status"] == "open" and s["exit_ts"] is None
    # the camera then sees the car go through (a forced gate): the 1500 fen become a receivable
    r = await client.anpr(cam, "沪A12345", "out", at("2026-11-20T10:12"), "out-2", passed=True)
    assert r.json() == {
        "session_id": session_id,
        "flagged": True,
        "gate": "open",
        "reason": "unpaid_exit",
        "amount_due_fen": 1500,
    }
    s = (await client.http.get(f"/v1/sessions/{session_id}", headers=op.h)).json()
    assert s["fee_fen"] == 1500 and s["status"] == "closed" and s["flags"] == ["unpaid_exit"]
    assert s["exit_ts"] is not None and s["paid_fen"] == 0 and s["exit_allowed"] is False
    owed = (await client.http.get("/v1/operator/receivables", headers=op.h)).json()
    assert [(x["session_id"], x["amount_fen"], x["reason"], x["settled_at"]) for x in owed] == [
        (session_id, 1500, "unpaid_exit", None)
    ]
    flags = (await client.http.get("/v1/operator/flags", headers=op.h)).json()
    assert [f["kind"] for f in flags] == ["unpaid_exit"]


async def test_repeated_event_id_has_one_effect(client: Client) -> None:
    op, lot, cam = await _setup(client)
    first = await client.anpr(cam, "沪A12345", "in", now_utc(), "dup-1")
    again = await client.anpr(cam, "沪A12345", "in", now_utc(), "dup-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    sessions = (await client.http.get("/v1/operator/sessions", headers=op.h)).json()
    assert len(sessions) == 1
    flags = (await client.http.get("/v1/operator/flags", headers=op.h)).json()
    assert flags == []


async def test_concurrent_duplicates_have_one_effect(client: Client) -> None:
    op, lot, cam = await _setup(client)
    responses = await asyncio.gather(
        *(client.anpr(cam, "沪A12345", "in", now_utc(), "race-1") for _ in range(10))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 9 + [201]
    assert len({r.json()["session_id"] for r in responses}) == 1
    sessions = (await client.http.get("/v1/operator/sessions", headers=op.h)).json()
    assert len(sessions) == 1


async def test_exit_without_entry_is_stored_and_flagged(client: Client) -> None:
    op, lot, cam = await _setup(client)
    r = await client.anpr(cam, "沪B77777", "out", now_utc(), "orphan-1")
    assert r.status_code == 201
    assert r.json()["flagged"] is True
    s = (await client.http.get(f"/v1/sessions/{r.json()['session_id']}", headers=op.h)).json()
    assert s["entry_ts"] is None and s["status"] == "closed" and s["flags"] == ["exit_without_entry"]
    flags = (await client.http.get("/v1/operator/flags", headers=op.h)).json()
    assert [f["kind"] for f in flags] == ["exit_without_entry"]
    assert flags[0]["session_id"] == s["id"]


async def test_second_entry_is_flagged_not_dropped(client: Client) -> None:
    op, lot, cam = await _setup(client)
    first = await client.anpr(cam, "沪A12345", "in", now_utc() - timedelta(minutes=30), "a")
    second = await client.anpr(cam, "沪A12345", "in", now_utc(), "b")
    assert second.status_code == 201
    assert second.json() == {
        "session_id": first.json()["session_id"],
        "flagged": True,
        "gate": "open",
        "reason": "duplicate_entry",
        "amount_due_fen": None,
    }
    flags = (await client.http.get("/v1/operator/flags", headers=op.h)).json()
    assert [f["kind"] for f in flags] == ["duplicate_entry"]
    # the flag can be resolved, and then leaves the review queue
    r = await client.http.post(
        f"/v1/operator/flags/{flags[0]['id']}/resolve",
        json={"resolution": "camera double read"},
        headers=op.h,
    )
    assert r.status_code == 200 and r.json()["resolved_at"] is not None
    assert (await client.http.get("/v1/operator/flags", headers=op.h)).json() == []
    everything = await client.http.get("/v1/operator/flags?unresolved=false", headers=op.h)
    assert len(everything.json()) == 1


async def test_low_confidence_read_is_flagged_but_processed(client: Client) -> None:
    op, lot, cam = await _setup(client)
    r = await client.anpr(cam, "沪A12345", "in", now_utc(), "weak", confidence=0.42)
    assert r.status_code == 201 and r.json()["flagged"] is True
    assert r.json()["session_id"] is not None
    flags = (await client.http.get("/v1/operator/flags", headers=op.h)).json()
    assert [f["kind"] for f in flags] == ["low_confidence"]


async def test_plate_forms_are_normalised_to_one_session(client: Client) -> None:
    op, lot, cam = await _setup(client)
    r1 = await client.anpr(cam, "沪Ａ·１２３４５", "in", at("2026-11-20T09:00"), "n1")
    r2 = await client.anpr(cam, " 沪a 12345 ", "out", at("2026-11-20T09:10"), "n2")
    assert r1.json()["session_id"] == r2.json()["session_id"]
    assert r2.json()["flagged"] is False
    s = (await client.http.get(f"/v1/sessions/{r1.json()['session_id']}", headers=op.h)).json()
    assert s["plate"] == "沪A12345"
    assert s["fee_fen"] == 0  # 10 minutes <= 15 free minutes


async def test_invalid_plate_is_422(client: Client) -> None:
    op, lot, cam = await _setup(client)
    r = await client.anpr(cam, "NOT-A-PLATE", "in", now_utc(), "bad")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_plate"


async def test_openalpr_webhook(client: Client) -> None:
    op, lot, cam = await _setup(client)
    body = {
        "data_type": "alpr_group",
        "version": 2,
        "epoch_start": 1763600400000,  # 2025-11-20T01:00:00Z
        "epoch_end": 1763600402000,
        "best_plate_number": "沪A12345",
        "best_confidence": 94.5,
        "best_uuid": "cam1-1763600400000",
        "travel_direction": 182.3,
    }
    r = await client.http.post("/v1/devices/anpr/openalpr?direction=in", json=body, headers=cam.h)
    assert r.status_code == 201, r.text
    again = await client.http.post("/v1/devices/anpr/openalpr?direction=in", json=body, headers=cam.h)
    assert again.status_code == 200 and again.json() == r.json()
    s = (await client.http.get(f"/v1/sessions/{r.json()['session_id']}", headers=op.h)).json()
    assert s["entry_ts"].startswith("2025-11-20T01:00:00")
    bad = await client.http.post("/v1/devices/anpr/openalpr", json={"data_type": "heartbeat"}, headers=cam.h)
    assert bad.status_code == 422 and bad.json()["code"] == "bad_webhook"


async def test_running_fee_until_exit(client: Client) -> None:
    op, lot, cam = await _setup(client)
    entry = now_utc() - timedelta(minutes=50)
    r = await client.anpr(cam, "沪A12345", "in", entry, "run-1")
    s = (await client.http.get(f"/v1/sessions/{r.json()['session_id']}", headers=op.h)).json()
    assert s["status"] == "open"
    # 50 minutes -> 2 units; each 200 or 500 fen depending on the band at its start
    assert s["fee_fen"] in {400, 700, 1000}
    assert s["exit_allowed"] is False
