"""A booking's money: paid ahead, refunded under the tariff's cancellation rule (free until 60
minutes before the start, then 50 % kept: the demo centre tariff), credited to the stay, and the
unused part refunded when the car leaves."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from api import background
from parking.bookings import service as bookings
from parking.sessions.payments import SIGNATURE_HEADER, SandboxProvider
from parking.unit import Ctx
from tests.parking.bookings.test_bookings_api import future_local
from tests.support import Actor, Client, iso, now_utc

SANDBOX = SandboxProvider("test-sandbox-secret")


async def _book(c: Client, drv: Actor, lot_id: str, start: Any, end: Any) -> dict[str, Any]:
    r = await c.http.post(
        "/v1/bookings",
        json={"lot_id": lot_id, "start": iso(start), "end": iso(end), "plate": "沪A12345"},
        headers=drv.h,
    )
    assert r.status_code == 201, r.text
    booking: dict[str, Any] = r.json()
    return booking


async def _prepay(c: Client, drv: Actor, booking: dict[str, Any], key: str) -> dict[str, Any]:
    r = await c.http.post(f"/v1/bookings/{booking['id']}/pay", headers={**drv.h, "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    payment: dict[str, Any] = r.json()
    assert (payment["booking_id"], payment["session_id"]) == (booking["id"], None)
    body = json.dumps(
        {"provider_ref": payment["provider_ref"], "status": "succeeded", "amount_fen": payment["amount_fen"]}
    ).encode()
    r = await c.http.post(
        "/v1/payments/callback/sandbox",
        content=body,
        headers={SIGNATURE_HEADER: SANDBOX.sign(body), "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    return payment


async def _money(c: Client, drv: Actor, booking: dict[str, Any]) -> dict[str, Any]:
    r = await c.http.get(f"/v1/bookings/{booking['id']}/payments", headers=drv.h)
    assert r.status_code == 200, r.text
    money: dict[str, Any] = r.json()
    return money


async def test_prepaid_booking_cancelled_early_is_refunded_in_full(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    booking = await _book(client, drv, lot["id"], future_local(3, "10:00"), future_local(3, "12:00"))
    assert booking["price_fen"] == 2000  # 4 day units of 500 fen
    payment = await _prepay(client, drv, booking, "pre-1")
    assert payment["amount_fen"] == 2000
    # paid: a second prepayment has nothing to charge; a retry of the first is the first
    again = await client.http.post(
        f"/v1/bookings/{booking['id']}/pay", headers={**drv.h, "Idempotency-Key": "pre-2"}
    )
    assert again.status_code == 409 and again.json()["code"] == "nothing_due"
    retry = await client.http.post(
        f"/v1/bookings/{booking['id']}/pay", headers={**drv.h, "Idempotency-Key": "pre-1"}
    )
    assert retry.status_code == 200 and retry.json()["id"] == payment["id"]
    cancelled = await client.http.post(f"/v1/bookings/{booking['id']}/cancel", headers=drv.h)
    assert cancelled.json()["cancel_fee_fen"] == 0  # three days ahead: free
    money = await _money(client, drv, booking)
    assert (money["paid_fen"], money["cancel_fee_fen"]) == (2000, 0)
    # the refund was sent to the provider right after the cancellation committed
    assert [(r["amount_fen"], r["reason"], r["status"]) for r in money["refunds"]] == [
        (2000, "cancellation", "succeeded")
    ]
    assert money["refunds"][0]["provider_ref"].startswith("sbr_")
    # a second cancel changes nothing, refunds nothing more
    await client.http.post(f"/v1/bookings/{booking['id']}/cancel", headers=drv.h)
    assert len((await _money(client, drv, booking))["refunds"]) == 1


async def test_late_cancellation_keeps_the_tariff_fee(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    start = now_utc() + timedelta(minutes=40)  # within the 60 minutes before the start
    booking = await _book(client, drv, lot["id"], start, start + timedelta(minutes=90))
    price = booking["price_fen"]
    await _prepay(client, drv, booking, "late-1")
    cancelled = (await client.http.post(f"/v1/bookings/{booking['id']}/cancel", headers=drv.h)).json()
    kept = price * 50 // 100  # the centre tariff's rule, rounded down to the fen
    assert cancelled["cancel_fee_fen"] == kept
    money = await _money(client, drv, booking)
    assert [(r["amount_fen"], r["reason"]) for r in money["refunds"]] == [(price - kept, "cancellation")]
    # the day's books: received the price, refunded all but the fee, which is expected income
    span = {"from": iso(now_utc() - timedelta(days=1)), "to": iso(now_utc() + timedelta(days=2))}
    rows = (await client.http.get("/v1/operator/reconciliation", params=span, headers=op.h)).json()
    assert sum(r["received_fen"] for r in rows) == price
    assert sum(r["refunded_fen"] for r in rows) == price - kept
    assert sum(r["cancellation_fees_fen"] for r in rows) == kept


async def test_prepayment_opens_the_gate_and_the_unused_part_comes_back(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=5)
    cam = await client.device(op, lot["id"])
    drv = await client.driver("沪A12345")
    start = now_utc() + timedelta(minutes=5)
    booking = await _book(client, drv, lot["id"], start, start + timedelta(hours=2))
    price = booking["price_fen"]
    assert price > 0
    await _prepay(client, drv, booking, "stay-1")
    entry = await client.anpr(cam, "沪A12345", "in", now_utc(), "in-1")
    assert (entry.json()["gate"], entry.json()["reason"]) == ("open", "booked")
    session = (await client.http.get(f"/v1/sessions/{entry.json()['session_id']}", headers=drv.h)).json()
    assert session["paid_fen"] == price and session["booking_id"] == booking["id"]
    # leaving at once: the stay costs nothing (15 free minutes), so all of the prepayment is unused
    exit_ = await client.anpr(cam, "沪A12345", "out", now_utc(), "out-1")
    assert (exit_.json()["gate"], exit_.json()["reason"]) == ("open", "within_grace")
    money = await _money(client, drv, booking)
    assert [(r["amount_fen"], r["reason"], r["status"]) for r in money["refunds"]] == [
        (price, "unused", "succeeded")
    ]
    closed = (await client.http.get(f"/v1/sessions/{entry.json()['session_id']}", headers=drv.h)).json()
    assert (closed["fee_fen"], closed["paid_fen"]) == (0, 0)  # what it kept equals what it cost


async def test_a_no_show_keeps_the_fee_and_the_sweep_refunds_the_rest(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=1)
    drv = await client.driver("沪A12345")
    start = now_utc() + timedelta(minutes=90)
    booking = await _book(client, drv, lot["id"], start, start + timedelta(hours=1))
    price = booking["price_fen"]
    await _prepay(client, drv, booking, "ns-1")
    state = client.app.state.beidou
    grace = timedelta(minutes=state.settings.checkin_grace_min)
    async with state.sessionmaker() as db:  # the clock past start + grace: the car never came
        assert (
            await bookings.expire_no_shows(
                Ctx(db=db, settings=state.settings, now=start + grace + timedelta(seconds=1))
            )
            == 1
        )
        await db.commit()
    pending = await _money(client, drv, booking)
    assert [(r["amount_fen"], r["reason"], r["status"]) for r in pending["refunds"]] == [
        (price - price * 50 // 100, "no_show", "pending")
    ]
    assert await background.send_refunds(state) == 1  # the housekeeping sweep sends it
    assert await background.send_refunds(state) == 0  # once
    sent = await _money(client, drv, booking)
    assert sent["refunds"][0]["status"] == "succeeded" and sent["cancel_fee_fen"] == price * 50 // 100
    assert (await client.http.get(f"/v1/bookings/{booking['id']}", headers=drv.h)).json()[
        "status"
    ] == "no_show"
