"""Paying: idempotent requests, HMAC-signed provider callbacks, exit permission."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from parking.sessions.payments import SIGNATURE_HEADER, SandboxProvider
from tests.support import Actor, Client, now_utc

SANDBOX = SandboxProvider("test-sandbox-secret")


async def _parked(c: Client, minutes_ago: float) -> tuple[Actor, Actor, Actor, str]:
    op = await c.operator()
    lot = await c.lot(op, kind="garage", capacity=10)
    cam = await c.device(op, lot["id"])
    drv = await c.driver("沪A12345")
    r = await c.anpr(cam, "沪A12345", "in", now_utc() - timedelta(minutes=minutes_ago), "in-1")
    return op, cam, drv, r.json()["session_id"]


async def _callback(
    c: Client, payment: dict[str, Any], *, status: str = "succeeded", signature: str | None = None
) -> Any:
    body = json.dumps(
        {"provider_ref": payment["provider_ref"], "status": status, "amount_fen": payment["amount_fen"]}
    ).encode()
    sig = signature if signature is not None else SANDBOX.sign(body)
    return await c.http.post(
        "/v1/payments/callback/sandbox",
        content=body,
        headers={SIGNATURE_HEADER: sig, "Content-Type": "application/json"},
    )


async def test_pay_is_idempotent_and_settles_on_signed_callback(client: Client) -> None:
    op, cam, drv, sid = await _parked(client, minutes_ago=95)
    before = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert before["fee_fen"] > 0 and before["exit_allowed"] is False

    headers = {**drv.h, "Idempotency-Key": "pay-1"}
    first = await client.http.post(f"/v1/sessions/{sid}/pay", headers=headers)
    retry = await client.http.post(f"/v1/sessions/{sid}/pay", headers=headers)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"]
    payment = first.json()
    assert payment["status"] == "pending" and payment["amount_fen"] == before["fee_fen"]

    forged = await _callback(client, payment, signature="sha256=" + "0" * 64)
    assert forged.status_code == 401
    assert (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()["paid_fen"] == 0
    unsigned = await client.http.post("/v1/payments/callback/sandbox", json={"provider_ref": "x"})
    assert unsigned.status_code == 401

    ok = await _callback(client, payment)
    assert ok.status_code == 200 and ok.json()["status"] == "succeeded"
    replay = await _callback(client, payment)
    assert replay.status_code == 200
    after = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert after["paid_fen"] == payment["amount_fen"]  # once, not twice
    assert after["exit_allowed"] is True

    # leaving within the grace period costs what was paid
    r = await client.anpr(cam, "沪A12345", "out", now_utc(), "out-1")
    assert r.json()["flagged"] is False
    closed = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert closed["status"] == "closed"
    assert closed["fee_fen"] == closed["paid_fen"] == payment["amount_fen"]

    revenue = await client.http.get(
        "/v1/operator/revenue",
        params={
            "from": (now_utc() - timedelta(days=1)).isoformat(),
            "to": (now_utc() + timedelta(days=1)).isoformat(),
        },
        headers=op.h,
    )
    assert [row["revenue_fen"] for row in revenue.json()] == [payment["amount_fen"]]


async def test_concurrent_retries_make_one_payment(client: Client) -> None:
    op, cam, drv, sid = await _parked(client, minutes_ago=60)
    headers = {**drv.h, "Idempotency-Key": "same-key"}
    responses = await asyncio.gather(
        *(client.http.post(f"/v1/sessions/{sid}/pay", headers=headers) for _ in range(8))
    )
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_free_stay_may_exit_without_paying(client: Client) -> None:
    op, cam, drv, sid = await _parked(client, minutes_ago=5)
    s = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert s["fee_fen"] == 0 and s["exit_allowed"] is True
    r = await client.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "k"})
    assert r.status_code == 409 and r.json()["code"] == "nothing_due"


async def test_pay_requires_idempotency_key(client: Client) -> None:
    op, cam, drv, sid = await _parked(client, minutes_ago=60)
    r = await client.http.post(f"/v1/sessions/{sid}/pay", headers=drv.h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key"


async def test_failed_payment_leaves_session_unpaid(client: Client) -> None:
    op, cam, drv, sid = await _parked(client, minutes_ago=60)
    payment = (
        await client.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "f"})
    ).json()
    r = await _callback(client, payment, status="failed")
    assert r.status_code == 200 and r.json()["status"] == "failed"
    s = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert s["paid_fen"] == 0 and s["exit_allowed"] is False


async def test_sandbox_checkout_settles_through_the_signed_callback(client: Client) -> None:
    """The demo's pay -> gate-open flow: the app opens the checkout, the payer approves, the
    sandbox signs its own callback; nobody signs by hand."""
    op, cam, drv, sid = await _parked(client, minutes_ago=95)
    r = await client.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "c1"})
    payment = r.json()
    url = payment["checkout_url"]
    assert url.startswith("/v1/payments/sandbox/checkout/sbx_")

    page = await client.http.get(url, headers={"Accept-Language": "en"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-status="pending"' in page.text
    assert f'data-amount-fen="{payment["amount_fen"]}"' in page.text
    assert page.headers["cache-control"] == "no-store"

    # a link whose MAC was altered, or another payment's reference with this MAC, is not found
    ref, _, mac = url.rsplit("/", 1)[1].partition(".")
    for bad in (f"{ref}.{'0' * 32}", f"sbx_000000000000_000000000000.{mac}", ref, f"{ref}.é"):
        assert (await client.http.post(f"/v1/payments/sandbox/checkout/{bad}")).status_code == 404
    # a form posted from another site is refused
    cross = await client.http.post(
        url, data={"outcome": "succeeded"}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()["paid_fen"] == 0

    form = await client.http.post(url, data={"outcome": "succeeded"}, headers={"Accept": "text/html"})
    assert form.status_code == 303 and form.headers["location"] == url
    again = await client.http.post(url, data={"outcome": "succeeded"})
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    s = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert s["paid_fen"] == payment["amount_fen"] and s["exit_allowed"] is True  # once, not twice
    done = await client.http.get(url)
    assert 'data-status="succeeded"' in done.text
    # the settled payment offers no checkout any more
    replay = await client.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "c1"})
    assert replay.json()["status"] == "succeeded" and replay.json()["checkout_url"] is None


async def test_declined_checkout_leaves_the_stay_unpaid(client: Client) -> None:
    op, cam, drv, sid = await _parked(client, minutes_ago=95)
    r = await client.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "d1"})
    done = await client.http.post(r.json()["checkout_url"], data={"outcome": "failed"})
    assert done.json()["status"] == "failed"
    s = (await client.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()
    assert s["paid_fen"] == 0 and s["exit_allowed"] is False


async def test_sandbox_is_off_unless_configured(make_client: Any) -> None:
    c: Client = await make_client(payment_sandbox=False)
    op, cam, drv, sid = await _parked(c, minutes_ago=95)
    r = await c.http.post(f"/v1/sessions/{sid}/pay", headers={**drv.h, "Idempotency-Key": "k"})
    assert r.status_code == 503 and r.json()["code"] == "no_payment_provider"
    # a callback signed with the public development secret opens nothing: there is no sandbox
    forged = await _callback(c, {"provider_ref": "sbx_x", "amount_fen": 100})
    assert forged.status_code == 404
    assert (await c.http.get("/v1/payments/sandbox/checkout/sbx_x.00")).status_code == 404
    assert (await c.http.get(f"/v1/sessions/{sid}", headers=drv.h)).json()["exit_allowed"] is False
