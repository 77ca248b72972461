"""The OCPP 1.6J central system driven by a real charge point: the ``ocpp`` package's own
ChargePoint over a real websocket, on PostgreSQL + Redis and on SQLite + the in-process store."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from tests.support import Actor, Client, now_utc

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Parking: 500 fen per started hour, all day. Energy: 120 fen/kWh 08:00-22:00, 40 fen/kWh at
# night; 10 fen per idle minute after a 10-minute grace.
TARIFF: dict[str, Any] = {
    "free_minutes": 0,
    "unit_minutes": 60,
    "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 500}],
    "energy": {
        "bands": [
            {"start": "08:00", "end": "22:00", "fen_per_kwh": 120},
            {"start": "22:00", "end": "08:00", "fen_per_kwh": 40},
        ],
        "idle_fen_per_min": 10,
        "idle_grace_min": 10,
    },
}
PLATE = "沪AD12345"


def yesterday(hhmm: str) -> datetime:
    """A Shanghai wall-clock time of yesterday (always in the past, whatever the hour now)."""
    day = (now_utc().astimezone(SHANGHAI) - timedelta(days=1)).date()
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=SHANGHAI)


def ocpp_time(dt: datetime) -> str:
    return dt.isoformat()


class Charger(ChargePoint):  # type: ignore[misc]
    """A charge point as a vendor would write it with the ``ocpp`` package: it accepts remote
    start/stop and then starts or stops a transaction itself."""

    meter_wh = 50_000
    transaction_id: int | None = None

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        from ocpp.v16 import call_result

        return call_result.RemoteStartTransaction(status="Accepted")

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        answer = await self.call(
            call.StartTransaction(
                connector_id=connector_id or 1,
                id_tag=id_tag,
                meter_start=self.meter_wh,
                timestamp=ocpp_time(now_utc()),
            )
        )
        self.transaction_id = answer.transaction_id

    @on(Action.remote_stop_transaction)
    async def on_remote_stop(self, transaction_id: int) -> Any:
        from ocpp.v16 import call_result

        return call_result.RemoteStopTransaction(status="Accepted")

    @after(Action.remote_stop_transaction)
    async def after_remote_stop(self, transaction_id: int) -> None:
        await self.call(
            call.StopTransaction(
                meter_stop=self.meter_wh + 1500,
                timestamp=ocpp_time(now_utc()),
                transaction_id=transaction_id,
                reason="Remote",
            )
        )


def _auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@contextlib.asynccontextmanager
async def connect(
    client: Client, cp_id: str, password: str
) -> AsyncIterator[tuple[Charger, ClientConnection]]:
    port = client.app.state.beidou.ocpp.port
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{cp_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=_auth(cp_id, password),
    ) as ws:
        charger = Charger(cp_id, ws)
        task = asyncio.create_task(charger.start())
        try:
            yield charger, ws
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _setup(
    client: Client, *, kind: str = "garage", share: int = 0
) -> tuple[Actor, dict[str, Any], str]:
    op = await client.operator()
    lot = await client.lot(op, kind=kind, capacity=20, spaces=2, tariff=TARIFF)
    r = await client.http.post(
        "/v1/operator/charge-points",
        json={
            "lot_id": lot["id"],
            "space_code": "S01",
            "charge_point_id": "CP-TEST-1",
            "connectors": [{"connector_id": 1, "type": "GB/T DC", "max_kw": 60}],
            "owner_name": "Resident Wang",
            "owner_share_pct": share,
        },
        headers=op.h,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ocpp_path"] == "/ocpp/CP-TEST-1" and len(body["password"]) >= 16
    return op, lot, body["password"]


async def _sessions(client: Client, op: Actor, lot_id: str) -> list[dict[str, Any]]:
    r = await client.http.get(f"/v1/operator/charging-sessions?lot_id={lot_id}", headers=op.h)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


async def test_a_full_charge_is_billed_with_the_stay_in_one_payment(make_client: Any) -> None:
    client: Client = await make_client(ocpp=True)
    op, lot, password = await _setup(client, share=70)
    cam = await client.device(op, lot["id"])
    driver = await client.driver(plate=PLATE)
    r = await client.anpr(cam, PLATE, "in", yesterday("21:00"), "in-1")
    assert r.json()["reason"] == "free_space"
    session_id = r.json()["session_id"]

    async with connect(client, "CP-TEST-1", password) as (cp, _):
        boot = await cp.call(call.BootNotification(charge_point_model="DC60", charge_point_vendor="Beidou"))
        assert boot.status == "Accepted" and boot.interval == 10
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        # searched with charging=true the lot shows its one free connector
        found = await client.http.get(
            f"/v1/lots?lat={lot['lat']}&lon={lot['lon']}&radius_m=500&charging=true", headers=driver.h
        )
        assert [(h["id"], h["free_chargers"]) for h in found.json()["lots"]] == [(lot["id"], 1)]
        assert (await cp.call(call.Authorize(id_tag=PLATE))).id_tag_info["status"] == "Accepted"
        assert (await cp.call(call.Authorize(id_tag="沪B99999"))).id_tag_info["status"] == "Invalid"
        start = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag=PLATE, meter_start=10_000, timestamp=ocpp_time(yesterday("21:30"))
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx = start.transaction_id
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
        found = await client.http.get(
            f"/v1/lots?lat={lot['lat']}&lon={lot['lon']}&radius_m=500&charging=true", headers=driver.h
        )
        assert found.json()["lots"] == []  # its only connector is busy

        def reading(hhmm: str, wh: int) -> dict[str, Any]:
            return {
                "timestamp": ocpp_time(yesterday(hhmm)),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                    {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                ],
            }

        # out of order and one of them twice: the same readings whatever the order
        for hhmm, wh in [("22:15", 19_000), ("21:45", 13_000), ("22:05", 17_000), ("21:45", 13_000)]:
            await cp.call(
                call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[reading(hhmm, wh)])
            )
        running = await _sessions(client, op, lot["id"])
        assert [(s["transaction_id"], s["status"], s["energy_wh"]) for s in running] == [
            (tx, "charging", 9000)
        ]
        stopped = await cp.call(
            call.StopTransaction(
                meter_stop=19_000,
                timestamp=ocpp_time(yesterday("22:45")),
                transaction_id=tx,
                reason="EVDisconnected",
            )
        )
        assert stopped.id_tag_info["status"] == "Accepted"
        # a StopTransaction sent again (the charger missed our answer) changes nothing
        await cp.call(
            call.StopTransaction(
                meter_stop=19_000, timestamp=ocpp_time(yesterday("22:45")), transaction_id=tx
            )
        )

    # By hand: 10 000 -> 19 000 Wh = 9 kWh.
    #   21:30-21:45  3 000 Wh, day band:                   3 kWh x 120 = 360 fen
    #   21:45-22:05  4 000 Wh over 20 min, evenly: 15 min day (3 000 Wh) = 360 fen,
    #                                               5 min night (1 000 Wh) x 40 = 40 fen
    #   22:05-22:15  2 000 Wh, night:                      2 kWh x 40 = 80 fen      -> 840 fen
    # Charging ended 22:15 (the meter's final value); idle 22:15-22:45 = 30 min, 10 of grace,
    # 20 min x 10 fen = 200 fen. The charge: 1040 fen.
    [done] = await _sessions(client, op, lot["id"])
    assert (done["status"], done["energy_wh"], done["fee_fen"]) == ("finished", 9000, 1040)
    assert (done["energy_fee_fen"], done["idle_fee_fen"]) == (840, 200)
    assert done["parking_session_id"] == session_id and done["plate"] == PLATE
    assert done["billed_with_parking"] is True

    # The car leaves at 23:30 through the barrier: 21:00-23:30 is 3 started hours x 500 = 1500 fen
    # of parking, plus the 1040 fen charge: 2540 fen owed, paid in one payment.
    r = await client.anpr(cam, PLATE, "out", yesterday("23:30"), "out-1", passed=True)
    assert r.json()["amount_due_fen"] == 2540
    r = await client.http.post(
        f"/v1/sessions/{session_id}/pay", headers={**driver.h, "Idempotency-Key": "pay-1"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["amount_fen"] == 2540
    # The resident who shares the charger gets 70 % of 1040 = 728 fen.
    r = await client.http.get(
        "/v1/operator/charging-revenue",
        params={"from": yesterday("00:00").isoformat(), "to": now_utc().isoformat()},
        headers=op.h,
    )
    assert [(x["charge_point_id"], x["sessions"], x["fee_fen"], x["owner_share_fen"]) for x in r.json()] == [
        ("CP-TEST-1", 1, 1040, 728)
    ]


async def test_the_handshake_refuses_unknown_chargers_and_wrong_passwords(make_client: Any) -> None:
    client: Client = await make_client(ocpp=True)
    _, _, password = await _setup(client)
    port = client.app.state.beidou.ocpp.port
    for cp_id, headers in [
        ("CP-TEST-1", _auth("CP-TEST-1", password + "x")),  # wrong password
        ("CP-NOBODY", _auth("CP-NOBODY", password)),  # unknown id
        ("CP-TEST-1", {}),  # no credentials at all (SteVe would accept this)
        ("CP-TEST-1", _auth("CP-OTHER", password)),  # another id's name in the credentials
    ]:
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ocpp/{cp_id}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers=headers,
            ):
                pass
        assert refused.value.response.status_code == 401


async def test_malformed_frames_get_call_errors_and_the_connection_goes_on(make_client: Any) -> None:
    client: Client = await make_client(ocpp=True)
    _, _, password = await _setup(client)
    port = client.app.state.beidou.ocpp.port
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/CP-TEST-1",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=_auth("CP-TEST-1", password),
    ) as ws:
        answers = []
        for frame in [
            "not json",
            '{"an": "object"}',
            '[2, "id-1", "Heartbeat"]',  # no payload
            '[2, "id-2", "StartTransaction", {"connectorId": "one"}]',  # off the schema
            '[2, "id-3", "FlyToTheMoon", {}]',  # no such action
            '[2, "id-4", ["Heartbeat"], {}]',  # an action that is not a string
            '[2, "id-5", "MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": '
            '[{"timestamp": "2999-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}]}]',  # the future
        ]:
            await ws.send(frame)
            answers.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        assert all(a[0] == 4 for a in answers), answers  # every one a CallError
        assert [a[1] for a in answers] == ["-1", "-1", "id-1", "id-2", "id-3", "id-4", "id-5"]
        assert answers[0][2] == "FormatViolation"
        assert answers[4][2] == "NotSupported"
        assert answers[6][2] == "PropertyConstraintViolation"
        await ws.send('[2, "ok", "Heartbeat", {}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer[:2] == [3, "ok"] and "currentTime" in answer[2]


async def test_remote_start_and_remote_stop_from_the_operator(make_client: Any) -> None:
    client: Client = await make_client(ocpp=True)
    op, lot, password = await _setup(client)
    cam = await client.device(op, lot["id"])
    await client.driver(plate=PLATE)
    await client.anpr(cam, PLATE, "in", now_utc() - timedelta(minutes=30), "in-1")
    points = (await client.http.get("/v1/operator/charge-points", headers=op.h)).json()
    point_id = points[0]["id"]
    async with connect(client, "CP-TEST-1", password) as (cp, _):
        await cp.call(call.BootNotification(charge_point_model="AC7", charge_point_vendor="Beidou"))
        r = await client.http.post(
            f"/v1/operator/charge-points/{point_id}/remote-start",
            json={"connector_id": 1, "id_tag": PLATE},
            headers=op.h,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "Accepted"}
        running: list[dict[str, Any]] = []
        for _ in range(200):  # the charger starts the transaction after answering
            running = await _sessions(client, op, lot["id"])
            if running:
                break
            await asyncio.sleep(0.05)
        assert [s["status"] for s in running] == ["charging"]
        r = await client.http.post(
            f"/v1/operator/charging-sessions/{running[0]['id']}/remote-stop", headers=op.h
        )
        assert r.json() == {"status": "Accepted"}
        done: list[dict[str, Any]] = []
        for _ in range(200):
            done = await _sessions(client, op, lot["id"])
            if done[0]["status"] == "finished":
                break
            await asyncio.sleep(0.05)
        assert (done[0]["status"], done[0]["energy_wh"], done[0]["stop_reason"]) == (
            "finished",
            1500,
            "Remote",
        )
        # stopping it again: it has stopped (409), and another operator cannot see it (404)
        r = await client.http.post(
            f"/v1/operator/charging-sessions/{running[0]['id']}/remote-stop", headers=op.h
        )
        assert r.status_code == 409
        other = await client.operator("Other")
        r = await client.http.post(
            f"/v1/operator/charge-points/{point_id}/remote-start",
            json={"connector_id": 1, "id_tag": PLATE},
            headers=other.h,
        )
        assert r.status_code == 404
    # the charger is gone: a command answers 409 charger_offline
    r = await client.http.post(
        f"/v1/operator/charge-points/{point_id}/remote-start",
        json={"connector_id": 1, "id_tag": PLATE},
        headers=op.h,
    )
    assert r.status_code == 409 and r.json()["code"] == "charger_offline"


async def test_a_charger_that_reconnects_mid_transaction_has_one_effect(make_client: Any) -> None:
    client: Client = await make_client(ocpp=True)
    op, lot, password = await _setup(client)
    cam = await client.device(op, lot["id"])
    await client.anpr(cam, PLATE, "in", yesterday("09:00"), "in-1")
    start_msg = call.StartTransaction(
        connector_id=1, id_tag=PLATE, meter_start=0, timestamp=ocpp_time(yesterday("10:00"))
    )

    def values(tx: int, hhmm: str, wh: int) -> Any:
        return call.MeterValues(
            connector_id=1,
            transaction_id=tx,
            meter_value=[{"timestamp": ocpp_time(yesterday(hhmm)), "sampledValue": [{"value": str(wh)}]}],
        )

    async with connect(client, "CP-TEST-1", password) as (cp, _):
        tx = (await cp.call(start_msg)).transaction_id
        await cp.call(values(tx, "10:30", 5_000))
    points: list[dict[str, Any]] = []
    for _ in range(200):  # the server notices the closed socket a moment later
        points = (await client.http.get("/v1/operator/charge-points", headers=op.h)).json()
        if not points[0]["online"]:
            break
        await asyncio.sleep(0.05)
    assert points[0]["online"] is False  # the socket died
    async with connect(client, "CP-TEST-1", password) as (cp, _):
        # the charger did not hear our answer before it lost the line: it sends the start again
        assert (await cp.call(start_msg)).transaction_id == tx
        await cp.call(values(tx, "10:30", 5_000))  # and its queued readings
        await cp.call(values(tx, "11:00", 10_000))
        await cp.call(
            call.StopTransaction(
                meter_stop=10_000, timestamp=ocpp_time(yesterday("11:00")), transaction_id=tx
            )
        )
    rows = await _sessions(client, op, lot["id"])
    # one session; 10 kWh, 10:00-11:00 in the day band: 10 x 120 = 1200 fen, no idle time
    assert [(s["transaction_id"], s["energy_wh"], s["fee_fen"]) for s in rows] == [(tx, 10_000, 1200)]
