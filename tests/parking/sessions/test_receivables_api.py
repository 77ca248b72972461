"""Money owed: a held car released by its operator becomes a receivable, visible per plate to
the operator and to the plate's driver, settled when the driver pays later; the daily
reconciliation and its CSV carry it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from parking.sessions.payments import SIGNATURE_HEADER, SandboxProvider
from tests.support import Client, iso, now_utc

SANDBOX = SandboxProvider("test-sandbox-secret")


async def _succeed(c: Client, payment: dict[str, Any]) -> None:
    body = json.dumps(
        {"provider_ref": payment["provider_ref"], "status": "succeeded", "amount_fen": payment["amount_fen"]}
    ).encode()
    r = await c.http.post(
        "/v1/payments/callback/sandbox",
        content=body,
        headers={SIGNATURE_HEADER: SANDBOX.sign(body), "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


async def test_released_car_owes_until_its_driver_pays(client: Client) -> None:
    op = await client.operator()
    other_op = await client.operator("Other")
    lot = await client.lot(op, kind="garage", capacity=10)
    cam = await client.device(op, lot["id"])
    drv = await client.driver("沪A12345")
    stranger = await client.driver("沪B54321")
    sid = (await client.anpr(cam, "沪A12345", "in", now_utc() - timedelta(minutes=95), "in-1")).json()[
        "session_id"
    ]
    held = await client.anpr(cam, "沪A12345", "out", now_utc(), "out-1")
    fee = (await client.http.get(f"/v1/sessions/{sid}", headers=op.h)).json()["fee_fen"]
    assert fee > 0
    assert (held.json()["gate"], held.json()["reason"], held.json()["amount_due_fen"]) == (
        "hold",
        "unpaid",
        fee,
    )

    # another operator cannot release it; the owner can, once
    assert (
        await client.http.post(
            f"/v1/operator/sessions/{sid}/release", json={"reason": "x"}, headers=other_op.h
        )
    ).status_code == 404
    r = await client.http.post(
        f"/v1/operator/sessions/{sid}/release", json={"reason": "driver has no phone"}, headers=op.h
    )
    assert r.status_code == 200, r.text
    assert (
        r.json()["status"] == "closed" and r.json()["fee_fen"] == fee and "unpaid_exit" in r.json()["flags"]
    )
    again = await client.http.post(f"/v1/operator/sessions/{sid}/release", json={"reason": "x"}, headers=op.h)
    assert again.status_code == 409 and again.json()["code"] == "session_closed"

    owed = (await client.http.get("/v1/operator/receivables?open=true&plate=沪A12345", headers=op.h)).json()
    assert [(x["session_id"], x["amount_fen"], x["reason"]) for x in owed] == [(sid, fee, "released")]
    assert (await client.http.get("/v1/operator/receivables", headers=other_op.h)).json() == []
    mine = (await client.http.get("/v1/me/receivables", headers=drv.h)).json()
    assert [(x["amount_fen"], x["settled_at"]) for x in mine] == [(fee, None)]
    assert (await client.http.get("/v1/me/receivables", headers=stranger.h)).json() == []

    # the driver pays the closed stay later: the receivable is settled by that payment
    pay = await client.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "late-1"})
    assert pay.status_code == 201 and pay.json()["amount_fen"] == fee
    await _succeed(client, pay.json())
    assert (await client.http.get("/v1/operator/receivables?open=true", headers=op.h)).json() == []
    settled = (await client.http.get("/v1/me/receivables", headers=drv.h)).json()
    assert settled[0]["settled_at"] is not None

    # the day's reconciliation: billed = received, the receivable raised and settled, none outstanding
    span = {"from": iso(now_utc() - timedelta(days=1)), "to": iso(now_utc() + timedelta(days=1))}
    rows = (await client.http.get("/v1/operator/reconciliation", params=span, headers=op.h)).json()
    totals = {k: sum(row[k] for row in rows) for k in rows[0] if k.endswith("_fen") or k == "sessions_closed"}
    assert totals == {
        "sessions_closed": 1,
        "fees_fen": fee,
        "cancellation_fees_fen": 0,
        "received_fen": fee,
        "refunded_fen": 0,
        "receivables_new_fen": fee,
        "receivables_settled_fen": fee,
        "outstanding_fen": 0,
    }
    text = await client.http.get(
        "/v1/operator/reconciliation", params={**span, "format": "csv"}, headers=op.h
    )
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(text.text)))
    assert [{k: str(v) for k, v in row.items()} for row in rows] == parsed
    revenue = (await client.http.get("/v1/operator/revenue", params=span, headers=op.h)).json()
    assert sum(r["revenue_fen"] for r in revenue) == fee and sum(r["billed_fen"] for r in revenue) == fee
    assert sum(r["receivables_fen"] for r in revenue) == fee
