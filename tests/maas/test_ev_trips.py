"""An EV driver's drive + park + charge itinerary: lots that price charging, their EV spaces, the
energy in the cost, and booking the itinerary holds a space with a charger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.support import TARIFF, Client, iso, now_utc

DOWNTOWN = {"lat": 39.4668, "lon": -87.4112}
SOUTH = {"lat": 39.4283, "lon": -87.4170}
# 500 fen per started hour, all day; charging 150 fen/kWh all day
CHARGING_TARIFF: dict[str, Any] = {
    "free_minutes": 0,
    "unit_minutes": 60,
    "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 500}],
    "energy": {"bands": [{"start": "00:00", "end": "00:00", "fen_per_kwh": 150}]},
}


async def test_drive_park_and_charge_is_planned_and_booked_on_a_charger(make_client: Any) -> None:
    trips: Client = await make_client()
    op = await trips.operator()
    plain = await trips.lot(op, spaces=2, lat=39.4660, lon=-87.4125, name="Plain Garage", tariff=TARIFF)
    charging = await trips.lot(
        op, spaces=2, lat=39.4662, lon=-87.4120, name="Charging Lot", tariff=CHARGING_TARIFF
    )
    r = await trips.http.post(
        "/v1/operator/charge-points",
        json={
            "lot_id": charging["id"],
            "space_code": "S01",
            "charge_point_id": "CP-TH-1",
            "connectors": [{"connector_id": 1, "type": "CCS2", "max_kw": 50}],
        },
        headers=op.h,
    )
    assert r.status_code == 201, r.text
    ev_space = next(s["id"] for s in charging["spaces"] if s["code"] == "S01")
    drv = await trips.driver("沪AD12345")
    depart = (now_utc() + dt.timedelta(days=2)).replace(microsecond=0)
    ask = {
        "from": SOUTH,
        "to": DOWNTOWN,
        "depart_at": iso(depart),
        "modes": ["car", "walk"],
        "stay_minutes": 90,
        "charge_kwh": 20,
    }
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert r.status_code == 200, r.text
    parked = [it for it in r.json()["itineraries"] if it["lot_id"] is not None]
    assert parked and {it["lot_id"] for it in parked} == {charging["id"]}  # the plain garage cannot charge
    it = parked[0]
    # 90 min = 2 started hours x 500 = 1000 fen of parking, 20 kWh x 150 = 3000 fen of energy
    assert it["cost_fen"] == 4000
    assert it["charging"] == {"kwh": 20, "cost_included": True}
    booked = await trips.http.post(f"/v1/trips/{it['id']}/book", headers=drv.h)
    assert booked.status_code == 201, booked.text
    assert booked.json()["charging"] is True and booked.json()["space_id"] == ev_space
    # its one charger is held for that window: no charging option left (the other space is free)
    r = await trips.http.post("/v1/trips/plan", json=ask, headers=drv.h)
    assert all(x["lot_id"] is None for x in r.json()["itineraries"])
    # without charging, parking is offered again (the standard spaces are free)
    r = await trips.http.post("/v1/trips/plan", json={**ask, "charge_kwh": None}, headers=drv.h)
    offered = {x["lot_id"] for x in r.json()["itineraries"]} & {plain["id"], charging["id"]}
    assert offered and all("charging" not in x for x in r.json()["itineraries"])
