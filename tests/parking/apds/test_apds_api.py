"""The APDS export over HTTP, on both backends: every body validated against the APDS description,
the mapping checked with real values, tenancy of sessions, and no plate in clear anywhere.

Expected values come from what was created (the tariff's JSON, the lot's coordinates) and from the
APDS field definitions (money in the currency's major unit: ISO 4217 gives CNY two minor-unit
digits, so fen / 100; GeoJSON positions are [lon, lat]; instants in UTC), not from the mapping.

Validation (``spec.validate``): jsonschema's Draft 4 validator, the dialect OpenAPI 3.0 schemas
are written in (boolean ``exclusiveMinimum``, ``$ref`` siblings ignored), ``nullable``
translated to a null alternative, formats checked (RFC 3339 date-times), every ``$ref`` resolved
over the whole document, and the draft's five self-contradictions corrected minimally; the
details and the proof of each defect are in ``spec.py`` and ``test_spec.py``.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from parking.identity.plates import plate_hash
from tests.parking.apds import spec
from tests.support import TARIFF, Actor, Client, iso, now_utc

SH = "+08:00"
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[121.5130, 31.3000], [121.5140, 31.3000], [121.5140, 31.3008], [121.5130, 31.3000]]],
}
SPACE_POLYGON = {
    "type": "Polygon",
    "coordinates": [
        [
            [121.51360, 31.30030, 4.0],
            [121.51363, 31.30030, 4.0],
            [121.51363, 31.30035, 4.0],
            [121.51360, 31.30030, 4.0],
        ]
    ],
}
CLOSED_A, OPEN_A, CLOSED_B = "沪A12345", "沪C54321", "苏E99887"
PLATES = (CLOSED_A, OPEN_A, CLOSED_B)


@dataclass
class District:
    op_a: Actor
    op_b: Actor
    sensed: dict[str, Any]
    garage: dict[str, Any]
    other: dict[str, Any]
    sensor: Actor
    camera: Actor
    driver: Actor


async def _get(c: Client, path: str, who: Actor | None, **params: Any) -> httpx.Response:
    r = await c.http.get(f"/v1/apds{path}", params=params, headers=who.h if who else {})
    return r


async def _export(c: Client, path: str, who: Actor, **params: Any) -> dict[str, Any]:
    """A 200 body, validated against the APDS response schema of ``GET path`` (occupancy is
    ``/places`` with its occupancy)."""
    r = await _get(c, path, who, **params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    spec.validate("/places" if path == "/occupancy" else path, body)
    return body


async def _district(c: Client) -> District:
    op_a, op_b = await c.operator("Yangpu Parking Co."), await c.operator("浦东停车管理有限公司")
    r = await c.http.post(
        "/v1/operator/lots",
        json={
            "name": "五角场 Surface Lot",
            "lat": 31.3003,
            "lon": 121.5136,
            "kind": "surface",
            "capacity": 3,
            "tariff": TARIFF,
            "polygon": POLYGON,
            "address": "Songhu Rd & Handan Rd, Wujiaochang",
        },
        headers=op_a.h,
    )
    assert r.status_code == 201, r.text
    sensed = r.json()
    spaces = [
        {"code": "S00", "lat": 31.30030, "lon": 121.51360, "kind": "standard"},
        {"code": "S01", "lat": 31.30031, "lon": 121.51361, "kind": "ev", "polygon": SPACE_POLYGON},
        {"code": "S02", "lat": 31.30032, "lon": 121.51362, "kind": "accessible"},
    ]
    r = await c.http.post(f"/v1/operator/lots/{sensed['id']}/spaces", json=spaces, headers=op_a.h)
    assert r.status_code == 201, r.text
    sensed["spaces"] = {s["code"]: s for s in r.json()}
    garage = await c.lot(
        op_a, kind="garage", capacity=50, name="Daxue Road Garage", lat=31.3056, lon=121.5060
    )
    other = await c.lot(op_b, kind="garage", capacity=20, name="Lujiazui Garage", lat=31.2397, lon=121.4998)
    camera, camera_b = await c.device(op_a, garage["id"]), await c.device(op_b, other["id"])
    sensor = await c.device(op_a, sensed["id"], "occupancy_sensor")
    driver = await c.driver(CLOSED_A)
    # 09:00-10:10 Shanghai = 70 min -> 3 units of 30 min in the 08:00-20:00 band at 500 -> 1500 fen
    for cam, plate, entry, leave, n in (
        (camera, CLOSED_A, f"2026-03-02T09:00:00{SH}", f"2026-03-02T10:10:00{SH}", "a"),
        # 20:00-08:00 = 24 night units at 200 = 4800 fen, under the 6000 cap
        (camera_b, CLOSED_B, f"2026-03-02T20:00:00{SH}", f"2026-03-03T08:00:00{SH}", "b"),
    ):
        for direction, ts in (("in", entry), ("out", leave)):  # out: driven through, owed after
            r = await c.anpr(
                cam,
                plate,
                direction,
                datetime.fromisoformat(ts),
                f"{n}-{direction}",
                passed=direction == "out",
            )
            assert r.status_code == 201, r.text
    r = await c.anpr(camera, OPEN_A, "in", now_utc() - timedelta(minutes=50), "open-in")
    assert r.status_code == 201, r.text
    return District(op_a, op_b, sensed, garage, other, sensor, camera, driver)


# --- places -----------------------------------------------------------------------------------


async def test_places_are_lots_with_their_spaces(client: Client) -> None:
    d = await _district(client)
    body = await _export(client, "/places", d.driver)
    assert body["meta"]["total"] == 3 + 3 == len(body["data"])
    by_id = {e["id"]: e for e in body["data"]}
    lot = by_id[d.sensed["id"]]
    assert (lot["type"], lot["layer"], lot["timeZone"]) == ("parkingPlace", 0, "Asia/Shanghai")
    assert lot["name"] == [{"language": "zh", "string": "五角场 Surface Lot"}]
    assert lot["indicativePlacePointLocation"] == [{"type": "Point", "coordinates": [121.5136, 31.3003]}]
    assert lot["placeBoundedZone"] == [{"type": "MultiPolygon", "coordinates": [POLYGON["coordinates"]]}]
    address = lot["placeStreetAddress"][0]
    assert address["countryCode"] == "cn"
    assert address["addressLines"][0]["text"][0]["string"] == "Songhu Rd & Handan Rd, Wujiaochang"
    assert lot["contacts"] == [
        {
            "id": d.op_a.id,
            "version": 1,
            "type": "operator",
            "organisationName": [{"language": "en", "string": "Yangpu Parking Co."}],
            "shareWithPublic": True,
        }
    ]
    # three spaces: one of each kind
    assert lot["characteristics"] == [
        {
            "disabledAccess": True,
            "evChargingPoints": 1,
            "openToPublic": True,
            "spacesNonDedicated": 1,
            "spacesTotal": 3,
            "structureType": "offStreetSurface",
        }
    ]
    assert lot["hierarchyElementReference"]["supply"] == [
        {"supplyViewType": "spaceView", "supplyQuantity": 3}
    ]
    spaces = d.sensed["spaces"]
    assert {c["id"] for c in lot["childIds"]} == {s["id"] for s in spaces.values()}
    ev = by_id[spaces["S01"]["id"]]
    assert (ev["type"], ev["layer"], ev["parentId"]["id"]) == ("space", 1, d.sensed["id"])
    assert ev["name"] == ev["operatorDefinedReference"] == [{"language": "en", "string": "S01"}]
    assert ev["indicativePointLocation"] == {"type": "Point", "coordinates": [121.51361, 31.30031]}
    # APDS positions are 2D: the height goes
    assert ev["spaceBoundedZone"]["coordinates"] == [[[p[:2] for p in SPACE_POLYGON["coordinates"][0]]]]
    assert ev["operatingRestrictions"] == [{"operatingRestriction": "electricVehicleOnly"}]
    assert ev["detection"] == "spaceSensor"
    accessible = by_id[spaces["S02"]["id"]]
    assert accessible["operatingRestrictions"] == [{"operatingRestriction": "disabledPersonPermitOnly"}]
    assert "operatingRestrictions" not in by_id[spaces["S00"]["id"]]
    garage = by_id[d.garage["id"]]
    assert garage["characteristics"] == [
        {
            "accessControlled": True,
            "openToPublic": True,
            "spacesTotal": 50,
            "structureType": "offStreetStructure",
        }
    ]
    assert "childIds" not in garage and "placeBoundedZone" not in garage
    other = by_id[d.other["id"]]
    assert other["contacts"][0]["organisationName"] == [{"language": "zh", "string": "浦东停车管理有限公司"}]
    created = datetime.fromisoformat(other["hierarchyElementRecord"]["creationTime"])
    assert created.utcoffset() == timedelta(0) and abs(created - now_utc()) < timedelta(minutes=5)


async def test_places_filters(client: Client) -> None:
    d = await _district(client)
    lots = await _export(client, "/places", d.driver, type="parkingPlace")
    assert {e["type"] for e in lots["data"]} == {"parkingPlace"} and lots["meta"]["total"] == 3
    assert (await _export(client, "/places", d.driver, layer=0))["meta"]["total"] == 3
    spaces = await _export(client, "/places", d.driver, type="space")
    assert {e["id"] for e in spaces["data"]} == {s["id"] for s in d.sensed["spaces"].values()}
    # 1 km around the surface lot: it (and its spaces) and the garage 900 m away, not Lujiazui
    near = await _export(client, "/places", d.driver, latitude=31.3003, longitude=121.5136, radius=1000)
    assert {e["id"] for e in near["data"] if e["type"] == "parkingPlace"} == {d.sensed["id"], d.garage["id"]}
    named = await _export(client, "/places", d.driver, name="daxue")
    assert [e["id"] for e in named["data"]] == [d.garage["id"]]
    r = await _get(client, "/places", d.driver, type="campus")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    r = await _get(client, "/places", d.driver, latitude=31.3)
    assert r.status_code == 422 and r.json()["code"] == "incomplete_area"


async def test_pages_follow_the_reference_instant(client: Client) -> None:
    d = await _district(client)
    first = await _export(client, "/places", d.driver, page_size=4)
    meta = first["meta"]
    assert (meta["offset"], meta["pageSize"], meta["total"], len(first["data"])) == (0, 4, 6, 4)
    assert abs(meta["referenceInstant"] - now_utc().timestamp()) < 60
    # the pages list what existed by the end of the reference second: create one after it
    await asyncio.sleep(max(0.0, meta["referenceInstant"] + 1.05 - now_utc().timestamp()))
    await client.lot(d.op_b, name="Created after the first page")
    second = await _export(
        client, "/places", d.driver, offset=4, page_size=4, reference_instant=meta["referenceInstant"]
    )
    assert second["meta"]["total"] == 6 and second["meta"]["referenceInstant"] == meta["referenceInstant"]
    ids = [e["id"] for e in first["data"] + second["data"]]
    assert len(ids) == len(set(ids)) == 6
    fresh = await _export(client, "/places", d.driver, type="parkingPlace")
    assert fresh["meta"]["total"] == 4
    r = await _get(client, "/places", d.driver, reference_instant=int(now_utc().timestamp()) + 3600)
    assert r.status_code == 422
    assert (await _get(client, "/places", d.driver, page_size=1001)).status_code == 422


# --- rates ------------------------------------------------------------------------------------


def _yuan(fen: int) -> float:
    return float(Decimal(fen) / 100)  # ISO 4217: CNY has 2 minor-unit digits


async def test_a_tariff_maps_to_its_rate_table(client: Client) -> None:
    d = await _district(client)
    body = await _export(client, "/rates", d.driver, place=d.garage["id"])
    assert body["meta"]["total"] == 1
    (table,) = body["data"]
    assert table["id"] == d.garage["id"]
    assert table["rateResponsibleParty"] == {"id": d.op_a.id, "version": 1, "className": "Organisation"}
    assert table["availability"] == "public"
    free, charged = table["rateLineCollections"]
    minutes = f"PT{TARIFF['free_minutes']}M"
    for coll in (free, charged):
        assert (coll["applicableCurrency"], coll["relativeTimes"], coll["taxIncluded"]) == (
            "CNY",
            False,
            True,
        )
    # a stay up to the free minutes costs nothing...
    assert (free["collectionSequence"], free["minTime"], free["maxTime"]) == (1, "PT0S", minutes)
    assert [(line["rateLineType"], line["value"]) for line in free["rateLines"]] == [("flatRate", 0.0)]
    # ...a longer one is charged per unit by the time-of-day band of the unit's start, capped per day
    assert (charged["collectionSequence"], charged["minTime"]) == (2, minutes)
    assert charged["maxValueCollection"] == _yuan(TARIFF["daily_cap_fen"])
    bands = sorted(TARIFF["bands"], key=lambda b: b["start"])
    expected = [
        ("incrementingRate", _yuan(b["unit_fen"]), f"PT{TARIFF['unit_minutes']}M", b["start"], b["end"])
        for b in bands
    ]
    got = [
        (
            line["rateLineType"],
            line["value"],
            line["incrementPeriod"],
            line["durationStart"],
            line["durationEnd"],
        )
        for line in charged["rateLines"]
    ]
    assert got == expected
    assert [line["sequence"] for line in charged["rateLines"]] == list(range(1, len(bands) + 1))


async def test_amounts_are_exact_in_yuan(client: Client) -> None:
    op = await client.operator()
    tariff = {
        "unit_minutes": 15,
        "bands": [
            {"start": "07:30", "end": "22:00", "unit_fen": 1234},
            {"start": "22:00", "end": "07:30", "unit_fen": 1},
        ],
        "daily_cap_fen": 99999,
    }
    lot = await client.lot(op, tariff=tariff)
    r = await _get(client, "/rates", op, place=lot["id"])
    spec.validate("/rates", r.json())
    # no free minutes: one collection; numbers as written decimals, never 12.339999...
    assert '"value":12.34' in r.text and '"value":0.01' in r.text and '"maxValueCollection":999.99' in r.text
    (coll,) = r.json()["data"][0]["rateLineCollections"]
    assert (coll["minTime"], [line["durationStart"] for line in coll["rateLines"]]) == (
        "PT0M",
        ["07:30", "22:00"],
    )


def _price_fen(table: dict[str, Any], entry: datetime, leave: datetime) -> int:
    """What a consumer computes from the exported table alone, reading the collections as the
    README says: the first collection whose maxTime holds the stay applies; in the charged one,
    units of incrementPeriod from entry, each at the line whose local [durationStart,
    durationEnd) holds its start, at most maxValueCollection per resetTime (24 h) from entry."""
    stay = leave - entry
    collections = sorted(table["rateLineCollections"], key=lambda c: c["collectionSequence"])
    duration = {"PT0S": timedelta(0)}

    def minutes(iso_duration: str) -> timedelta:
        return duration.get(iso_duration) or timedelta(minutes=int(iso_duration[2:-1]))

    free = collections[0] if collections[0]["rateLines"][0]["rateLineType"] == "flatRate" else None
    if free is not None and stay <= minutes(free["maxTime"]):
        return 0
    charged = collections[-1]
    unit = minutes(charged["rateLines"][0]["incrementPeriod"])
    cap = charged.get("maxValueCollection")
    periods: dict[int, Decimal] = {}
    for k in range(math.ceil(stay / unit)):
        start = entry + k * unit
        local = start.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+08:00").tzinfo)
        hhmm = local.strftime("%H:%M")
        for line in charged["rateLines"]:
            a, b = line["durationStart"], line["durationEnd"]
            if a == b or (a <= hhmm < b if a < b else (hhmm >= a or hhmm < b)):
                period = int((start - entry) / timedelta(hours=24))
                periods[period] = periods.get(period, Decimal(0)) + Decimal(str(line["value"]))
                break
    total = sum((min(v, Decimal(str(cap))) if cap is not None else v for v in periods.values()), Decimal(0))
    return int(total * 100)


async def test_the_rate_table_prices_stays_as_the_gate_does(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op)
    (table,) = (await _export(client, "/rates", op, place=lot["id"]))["data"]
    # the hand-worked fees of the tariff contract (tests/parking/lots/test_tariff.py), Shanghai times
    for entry, leave, fee in (
        ("2026-03-02T09:00", "2026-03-02T09:15", 0),
        ("2026-03-02T09:00", "2026-03-02T09:16", 500),
        ("2026-03-02T09:00", "2026-03-02T10:10", 1500),
        ("2026-03-02T19:15", "2026-03-02T20:40", 1200),
        ("2026-03-02T07:50", "2026-03-02T08:30", 700),
        ("2026-03-02T20:00", "2026-03-03T20:00", 6000),
        ("2026-03-02T08:00", "2026-03-03T08:01", 6500),
        ("2026-03-02T19:00", "2026-03-04T21:00", 13400),
    ):
        start, end = datetime.fromisoformat(entry + SH), datetime.fromisoformat(leave + SH)
        assert _price_fen(table, start, end) == fee, (entry, leave)


# --- occupancy --------------------------------------------------------------------------------


async def test_occupancy_counts_from_the_live_snapshots(client: Client) -> None:
    d = await _district(client)
    spaces = d.sensed["spaces"]
    r = await client.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "s0", "space_code": "S00", "occupied": True, "ts": iso(now_utc())},
        headers=d.sensor.h,
    )
    assert r.status_code == 201, r.text
    r = await client.http.patch(
        f"/v1/operator/spaces/{spaces['S01']['id']}", json={"out_of_service": True}, headers=d.op_a.h
    )
    assert r.status_code == 200, r.text
    start = now_utc()
    r = await client.http.post(
        "/v1/bookings",
        json={
            "lot_id": d.sensed["id"],
            "space_id": spaces["S02"]["id"],
            "start": iso(start),
            "end": iso(start + timedelta(hours=2)),
            "plate": CLOSED_A,
        },
        headers=d.driver.h,
    )
    assert r.status_code == 201, r.text
    body = await _export(client, "/occupancy", d.driver)
    assert body["meta"]["total"] == 3
    by_id = {e["id"]: e for e in body["data"]}
    # surface lot: 3 spaces, S00 occupied, S01 out of service, S02 reserved -> nothing free
    lot = by_id[d.sensed["id"]]
    ref = lot["hierarchyElementReference"]
    assert lot["characteristics"] == [{"spacesTotal": 3}]
    assert ref["supply"] == [{"supplyViewType": "spaceView", "supplyQuantity": 2}]
    (table,) = ref["demandTable"]
    counts = {t["occupancyCalculation"]: (t["count"], t["percentage"]) for t in table["demandType"]}
    assert counts == {"counted": (1, 50.0), "derived": (2, 100.0)}
    assert lot["occupancyLevel"] == {"occupancyIndicator": {"entryDefinedValue": "full"}}
    assert abs(datetime.fromisoformat(table["timestamp"]) - now_utc()) < timedelta(minutes=5)
    # garage: 50 places, one car in (the open session), nothing booked
    garage = by_id[d.garage["id"]]["hierarchyElementReference"]
    assert garage["supply"] == [{"supplyViewType": "spaceView", "supplyQuantity": 50}]
    counts = {
        t["occupancyCalculation"]: (t["count"], t["percentage"])
        for t in garage["demandTable"][0]["demandType"]
    }
    assert counts == {"counted": (1, 2.0), "derived": (1, 2.0)}
    assert by_id[d.garage["id"]]["occupancyLevel"]["occupancyIndicator"]["entryDefinedValue"] == "available"
    only = await _export(client, "/occupancy", d.driver, place=d.other["id"])
    assert [e["id"] for e in only["data"]] == [d.other["id"]]


# --- sessions ---------------------------------------------------------------------------------

MARCH = {
    "end_after": int(datetime.fromisoformat(f"2026-03-01T00:00:00{SH}").timestamp()),
    "start_before": int(datetime.fromisoformat(f"2026-03-05T00:00:00{SH}").timestamp()),
}


async def test_sessions_of_own_lots_with_fees_and_hashed_plates(client: Client) -> None:
    d = await _district(client)
    key = client.app.state.beidou.settings.plate_hash_key.encode()
    body = await _export(client, "/sessions", d.op_a, **MARCH)
    assert body["meta"]["total"] == 1
    (stay,) = body["data"]
    assert datetime.fromisoformat(stay["actualStart"]) == datetime.fromisoformat(f"2026-03-02T09:00:00{SH}")
    assert stay["actualStart"].endswith("Z") and stay["actualEnd"].endswith("Z")  # instants in UTC
    assert datetime.fromisoformat(stay["actualEnd"]) == datetime.fromisoformat(f"2026-03-02T10:10:00{SH}")
    assert stay["hierachyElement"] == {"id": d.garage["id"], "version": 1, "className": "Place"}
    assert stay["initiator"] == {"id": d.op_a.id, "version": 1, "className": "Organisation"}
    credential = {
        "identifier": {"className": "PlateHmacSha256", "id": plate_hash(CLOSED_A, key)},
        "type": "licensePlate",
    }
    assert {k: stay["identifiedCredentials"][0][k] for k in credential} == credential
    (segment,) = stay["segments"]
    assert segment["validationType"] == ["licensePlate"]
    assert segment["assignedRight"]["monetaryValue"]["value"] == {
        "currencyType": "CNY",
        "currencyValue": 15.0,
    }
    # the open stay (entered 50 min ago) in the default window, the last 24 h: 2 units so far
    recent = await _export(client, "/sessions", d.op_a)
    (open_stay,) = recent["data"]
    assert "actualEnd" not in open_stay and "actualEnd" not in open_stay["segments"][0]
    assert open_stay["identifiedCredentials"][0]["identifier"]["id"] == plate_hash(OPEN_A, key)
    fee = open_stay["segments"][0]["assignedRight"]["monetaryValue"]["value"]["currencyValue"]
    assert fee in {_yuan(2 * b["unit_fen"]) for b in TARIFF["bands"]} | {
        _yuan(sum(b["unit_fen"] for b in TARIFF["bands"]))
    }


async def test_sessions_tenancy_and_roles(client: Client) -> None:
    d = await _district(client)
    key = client.app.state.beidou.settings.plate_hash_key.encode()

    def plates(body: dict[str, Any]) -> set[str]:
        return {s["identifiedCredentials"][0]["identifier"]["id"] for s in body["data"]}

    a, b = (
        await _export(client, "/sessions", d.op_a, **MARCH),
        await _export(client, "/sessions", d.op_b, **MARCH),
    )
    assert plates(a) == {plate_hash(CLOSED_A, key)} and plates(b) == {plate_hash(CLOSED_B, key)}
    assert plates(await _export(client, "/sessions", client.admin, **MARCH)) == plates(a) | plates(b)
    # another operator's lot named as a filter is just not among yours
    assert (await _export(client, "/sessions", d.op_b, place=d.garage["id"], **MARCH))["meta"]["total"] == 0
    # B's overnight stay 20:00-08:00: 24 night units at 200 fen -> 48.00 CNY
    (stay,) = b["data"]
    assert stay["segments"][0]["assignedRight"]["monetaryValue"]["value"]["currencyValue"] == 48.0
    for who in (d.driver, d.camera, d.sensor):
        r = await _get(client, "/sessions", who)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    r = await _get(client, "/sessions", None)
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


async def test_session_filters_and_window(client: Client) -> None:
    await _district(client)
    ended_by_10_30 = int(datetime.fromisoformat(f"2026-03-02T10:30:00{SH}").timestamp())
    started_after_9_30 = int(datetime.fromisoformat(f"2026-03-02T09:30:00{SH}").timestamp())
    assert (await _export(client, "/sessions", client.admin, end_before=ended_by_10_30, **MARCH))["meta"][
        "total"
    ] == 1
    assert (await _export(client, "/sessions", client.admin, start_after=started_after_9_30, **MARCH))[
        "meta"
    ]["total"] == 1
    r = await _get(client, "/sessions", client.admin, end_after=0)
    assert r.status_code == 422 and r.json()["code"] == "window_too_long"


# --- authorization and privacy ----------------------------------------------------------------


async def test_who_may_read_what(client: Client) -> None:
    d = await _district(client)
    for path in ("/places", "/rates", "/occupancy"):
        for who in (d.driver, d.camera, d.op_b, client.admin):
            assert (await _get(client, path, who)).status_code == 200
        r = await _get(client, path, None)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    # the APDS API's own header carries the same token
    r = await client.http.get("/v1/apds/places", headers={"X-MCC-Access-Token": d.driver.token})
    assert r.status_code == 200
    r = await client.http.get("/v1/apds/places", headers={"X-MCC-Access-Token": "dr_not-a-token"})
    assert r.status_code == 401


async def test_no_plate_in_clear_in_any_export(client: Client) -> None:
    d = await _district(client)
    key = client.app.state.beidou.settings.plate_hash_key.encode()
    texts = []
    for who in (client.admin, d.op_a, d.op_b, d.driver):
        for path in ("/places", "/rates", "/occupancy", "/sessions"):
            for params in ({}, MARCH):
                r = await _get(client, path, who, **params)
                if r.status_code == 200:
                    texts.append(r.text)
    blob = "\n".join(texts)
    for plate in PLATES:
        assert plate not in blob
        assert plate[1:] not in blob  # nor its letters and digits without the province
        assert plate.encode("unicode_escape").decode() not in blob
    assert plate_hash(CLOSED_A, key) in blob and plate_hash(OPEN_A, key) in blob
