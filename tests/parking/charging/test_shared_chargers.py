"""A resident's private charger shared with the public: bookable with charging only inside its
owner's windows, a booked driver's car accepted at the charger, the owner's share reported."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import websockets
from ocpp.v16 import ChargePoint, call

from tests.support import Actor, Client, now_utc

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARIFF: dict[str, Any] = {
    "free_minutes": 0,
    "unit_minutes": 60,
    "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 300}],
    "energy": {"bands": [{"start": "00:00", "end": "00:00", "fen_per_kwh": 100}]},
}
PLATE = "沪AD54321"


def in_two_days(hhmm: str) -> datetime:
    day = (now_utc().astimezone(SHANGHAI) + timedelta(days=2)).date()
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=SHANGHAI)


async def _shared_charger(client: Client, windows: list[dict[str, Any]]) -> tuple[Actor, dict[str, Any], str]:
    op = await client.operator()
    lot = await client.lot(op, kind="residential_shared", spaces=2, tariff=TARIFF)
    r = await client.http.post(
        "/v1/operator/charge-points",
        json={
            "lot_id": lot["id"],
            "space_code": "S01",
            "charge_point_id": "CP-HOME-1",
            "connectors": [{"connector_id": 1, "type": "GB/T AC", "max_kw": 7}],
            "owner_name": "Resident Zhang",
            "owner_share_pct": 70,
        },
        headers=op.h,
    )
    assert r.status_code == 201, r.text
    password = r.json()["password"]
    for space in lot["spaces"]:
        r = await client.http.put(
            f"/v1/operator/spaces/{space['id']}/shared-windows", json=windows, headers=op.h
        )
        assert r.status_code == 200, r.text
    return op, lot, password


async def test_a_shared_charger_is_booked_only_inside_its_owners_windows(client: Client) -> None:
    _, lot, _ = await _shared_charger(
        client, [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "09:00", "end": "17:00"}]
    )
    driver = await client.driver(plate=PLATE)
    charger_space = next(s["id"] for s in lot["spaces"] if s["code"] == "S01")

    async def book(start: str, end: str, key: str) -> Any:
        return await client.http.post(
            "/v1/bookings",
            json={
                "lot_id": lot["id"],
                "start": in_two_days(start).isoformat(),
                "end": in_two_days(end).isoformat(),
                "plate": PLATE,
                "charging": True,
            },
            headers={**driver.h, "Idempotency-Key": key},
        )

    inside = await book("10:00", "12:00", "k1")
    assert inside.status_code == 201, inside.text
    assert inside.json()["space_id"] == charger_space and inside.json()["charging"] is True
    for start, end, key in [("18:00", "20:00", "k2"), ("16:00", "18:00", "k3"), ("07:00", "09:30", "k4")]:
        outside = await book(start, end, key)  # after, across the end, across the start of the window
        assert outside.status_code == 409, (start, end, outside.text)
        assert outside.json()["code"] == "no_space"
    # the other space has no charger: a booking with charging never lands there
    again = await book("13:00", "15:00", "k5")
    assert again.status_code == 201 and again.json()["space_id"] == charger_space


@contextlib.asynccontextmanager
async def _charger(client: Client, password: str) -> AsyncIterator[ChargePoint]:
    import asyncio

    port = client.app.state.beidou.ocpp.port
    auth = base64.b64encode(f"CP-HOME-1:{password}".encode()).decode()
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/CP-HOME-1",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Basic {auth}"},
    ) as ws:
        cp = ChargePoint("CP-HOME-1", ws)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()


async def test_a_booked_driver_charges_at_a_shared_charger_and_the_owner_gets_a_share(
    make_client: Any,
) -> None:
    client: Client = await make_client(ocpp=True)
    op, lot, password = await _shared_charger(
        client, [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}]
    )
    driver = await client.driver(plate=PLATE)
    now = now_utc().replace(microsecond=0)
    r = await client.http.post(
        "/v1/bookings",
        json={
            "lot_id": lot["id"],
            "start": now.isoformat(),
            "end": (now + timedelta(hours=2)).isoformat(),
            "plate": PLATE,
            "charging": True,
        },
        headers=driver.h,
    )
    assert r.status_code == 201, r.text
    booking_id = r.json()["id"]
    start = now - timedelta(minutes=1)
    async with _charger(client, password) as cp:
        # a car with neither a stay nor a booking here is refused; the booked one is accepted
        assert (await cp.call(call.Authorize(id_tag="沪B11111"))).id_tag_info["status"] == "Invalid"
        began = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag=PLATE, meter_start=2_000, timestamp=start.isoformat()
            )
        )
        assert began.id_tag_info["status"] == "Accepted"
        await cp.call(
            call.StopTransaction(
                meter_stop=9_000,
                timestamp=(start + timedelta(seconds=50)).isoformat(),
                transaction_id=began.transaction_id,
            )
        )
    rows = (await client.http.get(f"/v1/operator/charging-sessions?lot_id={lot['id']}", headers=op.h)).json()
    # 7 kWh x 100 fen = 700 fen (one band, no idle time)
    assert [(s["booking_id"], s["energy_wh"], s["fee_fen"]) for s in rows] == [(booking_id, 7000, 700)]
    mine = (await client.http.get("/v1/me/charging-sessions", headers=driver.h)).json()
    assert [s["transaction_id"] for s in mine] == [began.transaction_id]
    report = await client.http.get(
        "/v1/operator/charging-revenue",
        params={"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()},
        headers=op.h,
    )
    # the resident's 70 % of 700 fen
    assert [(x["owner_name"], x["fee_fen"], x["owner_share_fen"]) for x in report.json()] == [
        ("Resident Zhang", 700, 490)
    ]
    other = await client.operator("Other")
    hidden = await client.http.get(f"/v1/operator/charging-sessions?lot_id={lot['id']}", headers=other.h)
    assert hidden.status_code == 404
