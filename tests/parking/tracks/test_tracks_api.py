"""GNSS ingestion through the API, the TCP listener, the agent and the replayer, on real captures.

Expected numbers come from the capture text itself (sentences, distinct seconds), counted here
independently of the code under test.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support import Actor, Client, iso, now_utc

NMEA = Path(__file__).parents[2] / "data" / "gnss" / "nmea"
RTK_LOG = NMEA / "gpsd_nmea-rtk.log"  # Trimble 2020-03-18, GGA quality 2 x104 and 4 x18, 10 Hz


def rtk_capture_facts() -> tuple[int, int, set[str]]:
    """(sentences, GGA fixes, distinct GGA seconds) read straight off the capture's text."""
    text = RTK_LOG.read_text()
    sentences = [ln for ln in text.splitlines() if ln.startswith("$")]
    gga = [ln.split(",") for ln in sentences if ln[3:6] == "GGA" and ln.split(",")[6] != "0"]
    return len(sentences), len(gga), {g[1][:6] for g in gga}


def checksum(body: str) -> str:
    calc = 0
    for ch in body[1:]:
        calc ^= ord(ch)
    return f"{body}*{calc:02X}\r\n"


def ddmm(value: float, pos: str, neg: str, width: int) -> tuple[str, str]:
    v = abs(value)
    deg = int(v)
    return f"{deg:0{width}d}{(v - deg) * 60:011.8f}", pos if value >= 0 else neg


def epoch(t: datetime, lat: float, lon: float, quality: int = 4, sigma: float = 0.01) -> str:
    """GGA + RMC + GST of one epoch, as an RTK receiver would send them."""
    hms = t.strftime("%H%M%S.") + f"{t.microsecond // 10000:02d}"
    la, ns = ddmm(lat, "N", "S", 2)
    lo, ew = ddmm(lon, "E", "W", 3)
    return (
        checksum(f"$GNRMC,{hms},A,{la},{ns},{lo},{ew},0.0,,{t.strftime('%d%m%y')},,,R")
        + checksum(f"$GNGGA,{hms},{la},{ns},{lo},{ew},{quality},24,0.6,12.0,M,9.5,M,1.0,0001")
        + checksum(f"$GNGST,{hms},0.5,,,,{sigma},{sigma},{2 * sigma}")
    )


async def roadside(c: Client) -> tuple[Actor, dict[str, Any], Actor]:
    op = await c.operator()
    lot = await c.lot(op)
    return op, lot, await c.device(op, lot["id"], "gnss_receiver")


async def test_nmea_capture_is_stored_thinned_and_readable_by_its_operator(client: Client) -> None:
    op, _, rx = await roadside(client)
    sentences, fixes, seconds = rtk_capture_facts()
    body = RTK_LOG.read_bytes()
    r = await client.http.post("/v1/gnss/nmea", content=body, headers={**rx.h, "Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["accepted"], got["rejected"], got["fixes"]) == (sentences, 0, fixes)
    assert got["outliers"] == 0 and got["stored"] == len(seconds)  # one point per second of the capture
    # the same body again (a retry): nothing stored twice
    again = await client.http.post("/v1/gnss/nmea", content=body, headers=rx.h)
    assert again.status_code == 200 and again.json()["stored"] == 0
    # /metrics counts the stored points by quality: a second keeps its first fix (from the text)
    first_of_second: dict[str, str] = {}
    for line in RTK_LOG.read_text().splitlines():
        f = line.split(",")
        if line.startswith("$") and line[3:6] == "GGA" and f[6] != "0":
            first_of_second.setdefault(f[1][:6], f[6])
    by_quality = Counter(first_of_second.values())
    assert set(by_quality) == {"2", "4"}
    metrics = (await client.http.get("/metrics")).text
    assert f'beidou_gnss_fixes_total{{quality="rtk_fixed"}} {float(by_quality["4"])}' in metrics
    assert f'beidou_gnss_fixes_total{{quality="dgnss"}} {float(by_quality["2"])}' in metrics
    assert 'beidou_gnss_fixes_total{quality="rtk_float"} 0.0' in metrics
    assert 'beidou_gnss_fixes_total{quality="single"} 0.0' in metrics

    params = {"from": "2020-03-18T13:00:00+00:00", "to": "2020-03-18T14:00:00+00:00"}
    track = await client.http.get(f"/v1/operator/devices/{rx.id}/track", params=params, headers=op.h)
    assert track.status_code == 200, track.text
    feature = track.json()
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "LineString"
    assert feature["properties"]["count"] == got["stored"] == len(feature["geometry"]["coordinates"])
    times = feature["properties"]["times"]
    assert times == sorted(times) and len(set(times)) == len(times)
    # no window asked: the receiver's last hour of data, here the whole 2020 capture
    default = (await client.http.get(f"/v1/operator/devices/{rx.id}/track", headers=op.h)).json()
    assert default["properties"]["times"] == times
    assert {t[11:19].replace(":", "") for t in times} <= seconds
    assert set(feature["properties"]["quality"]) == {2, 4}
    # smoothed positions stay within a few metres of the raw fixes of this slow receiver
    for (slon, slat), (rlon, rlat, _) in zip(
        feature["geometry"]["coordinates"], feature["properties"]["raw"], strict=True
    ):
        assert abs(slat - rlat) * 111_000 < 5 and abs(slon - rlon) * 83_000 < 5

    pos = await client.http.get(f"/v1/operator/devices/{rx.id}/position", headers=op.h)
    assert pos.status_code == 200 and pos.json()["ts"].startswith("2020-03-18T13:39:01")
    assert pos.json()["lat"] == pytest.approx(41.5749, abs=1e-3)


async def test_gnss_access_rules(client: Client) -> None:
    op, lot, rx = await roadside(client)
    other_op = await client.operator("Other")
    camera = await client.device(op, lot["id"], "anpr_camera")
    driver = await client.driver("沪A12345")
    line = epoch(now_utc(), 31.3, 121.5).encode()
    assert (await client.http.post("/v1/gnss/nmea", content=line)).status_code == 401
    denied = await client.http.post("/v1/gnss/nmea", content=line, headers=camera.h)
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("application/problem+json")
    assert (await client.http.post("/v1/gnss/nmea", content=line, headers=driver.h)).status_code == 403
    assert (await client.http.post("/v1/gnss/nmea", content=line, headers=rx.h)).status_code == 200
    for who in (other_op, driver):
        r = await client.http.get(f"/v1/operator/devices/{rx.id}/track", headers=who.h)
        assert r.status_code == 404, (who, r.text)
    # a device token cannot read tracks; an unknown id is 404 for its would-be owner too
    assert (await client.http.get(f"/v1/operator/devices/{rx.id}/track", headers=rx.h)).status_code == 403
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.http.get(f"/v1/operator/devices/{missing}/track", headers=op.h)).status_code == 404


async def test_vehicle_receiver_of_a_driver(client: Client) -> None:
    driver = await client.driver("沪A12345")
    stranger = await client.driver("沪B99999", name="Stranger")
    r = await client.http.post(
        "/v1/me/receivers", json={"plate": "沪B99999", "name": "car"}, headers=driver.h
    )
    assert r.status_code == 422 and r.json()["code"] == "plate_not_yours"
    r = await client.http.post(
        "/v1/me/receivers", json={"plate": "沪a 12345", "name": "car"}, headers=driver.h
    )
    assert r.status_code == 201, r.text
    rx = Actor(**r.json())
    assert rx.token.startswith("dv_")
    listed = (await client.http.get("/v1/me/receivers", headers=driver.h)).json()
    assert [(x["id"], x["plate"]) for x in listed] == [(rx.id, "沪A12345")]
    t = now_utc() - timedelta(seconds=5)
    body = "".join(epoch(t + timedelta(seconds=i), 31.3003, 121.5136, quality=1, sigma=2.0) for i in range(3))
    r = await client.http.post("/v1/gnss/nmea", content=body.encode(), headers=rx.h)
    assert r.status_code == 200 and r.json()["stored"] == 3
    assert (await client.http.get(f"/v1/me/receivers/{rx.id}/track", headers=driver.h)).json()["properties"][
        "count"
    ] == 3
    assert (await client.http.get(f"/v1/me/receivers/{rx.id}/track", headers=stranger.h)).status_code == 404
    pos = await client.http.get(f"/v1/me/receivers/{rx.id}/position", headers=driver.h)
    assert pos.status_code == 200 and pos.json()["quality"] == 1
    # a vehicle receiver is bound to no lot: it cannot post a lot's sensor events
    sensor = await client.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "x", "space_code": "S00", "occupied": True, "ts": iso(now_utc())},
        headers=rx.h,
    )
    assert sensor.status_code == 403


def square(lat: float, lon: float, half_m: float = 1.5) -> dict[str, Any]:
    dlat = half_m / 111_195.0
    dlon = half_m / (111_195.0 * math.cos(math.radians(lat)))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


async def _lot_with_polygons(c: Client) -> tuple[Actor, dict[str, Any], list[dict[str, Any]]]:
    op = await c.operator()
    lot = await c.lot(op, kind="on_street", capacity=2)
    base = (31.3003, 121.5136)
    body = [
        {
            "code": f"P{i}",
            "lat": base[0],
            "lon": base[1] + i * 4e-5,
            "polygon": square(base[0], base[1] + i * 4e-5),
        }
        for i in range(2)
    ]
    r = await c.http.post(f"/v1/operator/lots/{lot['id']}/spaces", json=body, headers=op.h)
    assert r.status_code == 201, r.text
    return op, lot, r.json()


async def test_rtk_dwell_in_a_space_is_occupancy_evidence_and_checks_in_the_booking(client: Client) -> None:
    op, lot, spaces = await _lot_with_polygons(client)
    target = spaces[1]
    driver = await client.driver("沪A12345")
    rx = Actor(
        **(
            await client.http.post(
                "/v1/me/receivers", json={"plate": "沪A12345", "name": "car"}, headers=driver.h
            )
        ).json()
    )
    start = now_utc() + timedelta(minutes=5)
    r = await client.http.post(
        "/v1/bookings",
        json={
            "lot_id": lot["id"],
            "space_id": target["id"],
            "start": iso(start),
            "end": iso(start + timedelta(hours=1)),
            "plate": "沪A12345",
        },
        headers=driver.h,
    )
    assert r.status_code == 201, r.text
    booking_id = r.json()["id"]
    t0 = now_utc().replace(microsecond=0) - timedelta(seconds=40)
    # 20 s RTK-fixed in the space: not yet a stay
    first = "".join(epoch(t0 + timedelta(seconds=i), target["lat"], target["lon"]) for i in range(20))
    assert (await client.http.post("/v1/gnss/nmea", content=first.encode(), headers=rx.h)).status_code == 200
    spaces_now = (await client.http.get(f"/v1/operator/lots/{lot['id']}/spaces", headers=op.h)).json()
    assert {s["code"]: s["state_source"] for s in spaces_now}["P1"] != "gnss"
    # 15 s more: 34 s in the same space
    more = "".join(epoch(t0 + timedelta(seconds=i), target["lat"], target["lon"]) for i in range(20, 35))
    assert (await client.http.post("/v1/gnss/nmea", content=more.encode(), headers=rx.h)).status_code == 200
    spaces_now = (await client.http.get(f"/v1/operator/lots/{lot['id']}/spaces", headers=op.h)).json()
    p1 = next(s for s in spaces_now if s["code"] == "P1")
    assert p1["state_source"] == "gnss" and p1["state"] in ("occupied", "reserved")
    booking = (await client.http.get(f"/v1/bookings/{booking_id}", headers=driver.h)).json()
    assert booking["status"] == "checked_in"


async def test_gnss_evidence_never_overrides_a_newer_sensor_state(client: Client) -> None:
    op, lot, spaces = await _lot_with_polygons(client)
    sensor = await client.device(op, lot["id"], "occupancy_sensor")
    rx = await client.device(op, lot["id"], "gnss_receiver")
    target = spaces[0]
    t0 = now_utc().replace(microsecond=0) - timedelta(seconds=60)
    r = await client.http.post(
        "/v1/devices/occupancy",
        json={"event_id": "s1", "space_code": "P0", "occupied": False, "ts": iso(now_utc())},
        headers=sensor.h,
    )
    assert r.status_code == 201
    body = "".join(epoch(t0 + timedelta(seconds=i), target["lat"], target["lon"]) for i in range(35))
    assert (await client.http.post("/v1/gnss/nmea", content=body.encode(), headers=rx.h)).status_code == 200
    p0 = next(
        s
        for s in (await client.http.get(f"/v1/operator/lots/{lot['id']}/spaces", headers=op.h)).json()
        if s["code"] == "P0"
    )
    assert p0["state_source"] == "sensor" and p0["state"] == "free"


async def test_a_fix_between_two_spaces_or_not_rtk_fixed_is_no_evidence(client: Client) -> None:
    op, lot, spaces = await _lot_with_polygons(client)
    rx = await client.device(op, lot["id"], "gnss_receiver")
    t0 = now_utc().replace(microsecond=0) - timedelta(seconds=60)
    between = (spaces[0]["lat"], (spaces[0]["lon"] + spaces[1]["lon"]) / 2)
    body = "".join(epoch(t0 + timedelta(seconds=i), *between) for i in range(35))
    body += "".join(
        epoch(t0 + timedelta(seconds=i), spaces[0]["lat"], spaces[0]["lon"], quality=5, sigma=0.3)
        for i in range(35, 70)
    )
    assert (await client.http.post("/v1/gnss/nmea", content=body.encode(), headers=rx.h)).status_code == 200
    states = {
        s["code"]: s["state_source"]
        for s in (await client.http.get(f"/v1/operator/lots/{lot['id']}/spaces", headers=op.h)).json()
    }
    assert "gnss" not in states.values()


async def test_nmea_body_with_only_noise_is_answered_not_failed(client: Client) -> None:
    _, _, rx = await roadside(client)
    r = await client.http.post("/v1/gnss/nmea", content=bytes(range(256)) * 4, headers=rx.h)
    assert r.status_code == 200
    assert r.json()["accepted"] == 0 and r.json()["bytes_skipped"] > 0 and r.json()["stored"] == 0
