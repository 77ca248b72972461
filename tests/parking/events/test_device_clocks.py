"""Device clocks are not trusted: events from the future are refused and counted, never applied;
timestamps are RFC 3339 text (no epoch integers); overlong stays are held for review; a space whose
state went wrong can be reset by its operator."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from parking.lots import repository as lots_repo
from tests.support import Actor, Client, iso, now_utc


async def _devices(c: Client, op: Actor) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in (await c.http.get("/v1/operator/devices", headers=op.h)).json()}


async def test_a_future_plate_read_is_refused_counted_and_changes_nothing(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=10)
    cam = await client.device(op, lot["id"])
    skew = client.app.state.beidou.settings.device_clock_skew_s
    assert skew == 300  # BEIDOU_DEVICE_CLOCK_SKEW_S default, as the issue names it
    entry = await client.anpr(cam, "沪A12345", "in", now_utc() - timedelta(hours=1), "in-1")
    sid = entry.json()["session_id"]
    # an exit dated 2099 would have closed the stay at a fee of ~150 million fen
    for event_id, ts in (
        ("out-2099", datetime(2099, 1, 1, tzinfo=UTC)),
        ("out-6min", now_utc() + timedelta(minutes=6)),
    ):
        r = await client.anpr(cam, "沪A12345", "out", ts, event_id)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "future_timestamp"
    session = (await client.http.get(f"/v1/sessions/{sid}", headers=op.h)).json()
    assert session["status"] == "open" and session["exit_ts"] is None
    assert (await _devices(client, op))[cam.id]["rejected_future_events"] == 2
    # a clock a little fast (within the skew) is a normal device: accepted
    ok = await client.anpr(cam, "沪A12345", "out", now_utc() + timedelta(seconds=200), "out-ok", passed=True)
    assert ok.status_code == 201 and ok.json()["session_id"] == sid
    # the refused event_id was never stored: the device may send it again once its clock is right
    again = await client.anpr(cam, "沪B54321", "in", now_utc(), "out-2099")
    assert again.status_code == 201


async def test_a_future_sensor_event_is_refused_and_later_events_apply(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="surface", capacity=2, spaces=2)
    sensor = await client.device(op, lot["id"], kind="occupancy_sensor")

    def event(event_id: str, occupied: bool, ts: datetime) -> dict[str, Any]:
        return {"event_id": event_id, "space_code": "S00", "occupied": occupied, "ts": iso(ts)}

    r = await client.http.post(
        "/v1/devices/occupancy", json=event("f", True, datetime(2099, 1, 1, tzinfo=UTC)), headers=sensor.h
    )
    assert r.status_code == 422 and r.json()["code"] == "future_timestamp"
    # the space is not stuck: a real reading now applies
    r = await client.http.post("/v1/devices/occupancy", json=event("r", True, now_utc()), headers=sensor.h)
    assert r.status_code == 201 and r.json()["applied"] is True and r.json()["state"] == "occupied"
    assert (await _devices(client, op))[sensor.id]["rejected_future_events"] == 1


async def test_an_operator_resets_a_stuck_space(client: Client) -> None:
    op = await client.operator()
    other = await client.operator("Other")
    lot = await client.lot(op, kind="surface", capacity=2, spaces=2)
    sensor = await client.device(op, lot["id"], kind="occupancy_sensor")
    space_id = lot["spaces"][0]["id"]
    # a state dated 2099, as the platform stored before such events were refused
    state = client.app.state.beidou
    async with state.sessionmaker() as db:
        assert await lots_repo.apply_space_state(
            db, uuid.UUID(space_id), True, datetime(2099, 1, 1, tzinfo=UTC), "sensor"
        )
        await db.commit()
    body = {"event_id": "e1", "space_code": "S00", "occupied": False, "ts": iso(now_utc())}
    r = await client.http.post("/v1/devices/occupancy", json=body, headers=sensor.h)
    assert r.json()["applied"] is False  # stuck: every real reading is older than the stored one
    # another operator cannot, and learns nothing about the space
    theirs = await client.http.post(
        f"/v1/operator/spaces/{space_id}/state", json={"occupied": False}, headers=other.h
    )
    unknown = await client.http.post(
        f"/v1/operator/spaces/{uuid.uuid4()}/state", json={"occupied": False}, headers=other.h
    )
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"] == unknown.json()["detail"] == "space not found"
    r = await client.http.post(
        f"/v1/operator/spaces/{space_id}/state", json={"occupied": False}, headers=op.h
    )
    assert r.status_code == 200 and r.json()["state"] == "free"
    detail = (await client.http.get(f"/v1/lots/{lot['id']}", headers=op.h)).json()
    assert detail["free_spaces"] == 2
    body = {
        "event_id": "e2",
        "space_code": "S00",
        "occupied": True,
        "ts": iso(now_utc() + timedelta(seconds=1)),
    }
    r = await client.http.post("/v1/devices/occupancy", json=body, headers=sensor.h)
    assert r.json()["applied"] is True and r.json()["state"] == "occupied"


async def test_timestamps_are_text_never_numbers(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=10, spaces=1)
    cam = await client.device(op, lot["id"])
    drv = await client.driver("沪A12345")
    for ts in (5, "5", 1893456000, "1893456000", "2026-12-06T10:00:00"):  # numbers, and no offset
        r = await client.http.post(
            "/v1/devices/anpr",
            json={"event_id": f"n{ts}", "plate": "沪A12345", "direction": "in", "ts": ts},
            headers=cam.h,
        )
        assert r.status_code == 422 and r.json()["code"] == "validation", (ts, r.text)
    start = 1893456000  # 2030-01-01 as an epoch: once booked for 2030
    r = await client.http.post(
        "/v1/bookings",
        json={"lot_id": lot["id"], "plate": "沪A12345", "start": start, "end": start + 3600},
        headers=drv.h,
    )
    assert r.status_code == 422 and r.json()["code"] == "validation"
    r = await client.http.get("/v1/lots", params={"lat": 31.3, "lon": 121.5, "at": "5"})
    assert r.status_code == 422
    sessions = (await client.http.get("/v1/operator/sessions", headers=op.h)).json()
    assert sessions == []


async def test_an_overlong_stay_is_held_for_review_not_billed(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, kind="garage", capacity=10)
    cam = await client.device(op, lot["id"])
    max_stay_h = client.app.state.beidou.settings.max_stay_h
    entry = now_utc() - timedelta(hours=max_stay_h + 2)
    sid = (await client.anpr(cam, "沪A12345", "in", entry, "in-1")).json()["session_id"]
    r = await client.anpr(cam, "沪A12345", "out", now_utc(), "out-1")
    assert r.status_code == 201
    assert (r.json()["gate"], r.json()["reason"], r.json()["flagged"]) == ("hold", "review", True)
    session = (await client.http.get(f"/v1/sessions/{sid}", headers=op.h)).json()
    assert session["status"] == "open" and "overlong_stay" in session["flags"]
    flags = (await client.http.get("/v1/operator/flags", headers=op.h)).json()
    assert [f["kind"] for f in flags] == ["overlong_stay"]
    assert (await client.http.get("/v1/operator/receivables", headers=op.h)).json() == []
