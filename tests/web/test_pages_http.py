"""The pages through the ASGI client: status, data hooks, cookies, CSRF, authorization."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import numpy as np

from api.web.auth import CSRF_COOKIE, DRIVER_COOKIE, session_key, sign, unsign
from core.security import hash_token
from tests.support import Client, iso, now_utc

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


async def csrf_of(client: Client, path: str = "/") -> str:
    r = await client.http.get(path)
    assert r.status_code == 200, r.text
    found = CSRF.search(r.text)
    assert found is not None
    return found.group(1)


async def test_public_page_lists_lots_with_hooks_and_security_headers(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=3, name="Three spaces")
    r = await client.http.get("/", headers={"accept-language": "en-GB,en;q=0.9"})
    assert r.status_code == 200
    assert f'data-lot-id="{lot["id"]}" data-free-spaces="3"' in r.text
    assert "Parking lots" in r.text  # English, as the browser asked
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert CSRF_COOKIE in r.cookies
    zh = await client.http.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert "停车场" in zh.text
    # the switch is remembered by a cookie, whatever the browser asks afterwards
    switched = await client.http.get("/?lang=en", headers={"accept-language": "zh-CN"})
    assert switched.cookies.get("beidou_lang") == "en"
    again = await client.http.get("/", headers={"accept-language": "zh-CN"})
    assert "Parking lots" in again.text


async def test_signin_needs_the_csrf_token_and_a_driver_token(client: Client) -> None:
    driver = await client.driver(plate="沪A12345")
    op = await client.operator()
    r = await client.http.post("/signin", data={"token": driver.token})
    assert r.status_code == 403
    assert r.json()["code"] == "csrf"
    csrf = await csrf_of(client, "/signin")
    r = await client.http.post("/signin", data={"token": "dr_not-a-token", "csrf": csrf})
    assert r.status_code == 401
    assert 'data-error="signin_failed"' in r.text
    # an operator's token does not sign in as a driver
    r = await client.http.post("/signin", data={"token": op.token, "csrf": csrf})
    assert r.status_code == 401
    # a form from another site is refused even with a token that would match
    r = await client.http.post(
        "/signin", data={"token": driver.token, "csrf": csrf}, headers={"origin": "https://evil.example"}
    )
    assert r.status_code == 403
    r = await client.http.post("/signin", data={"token": driver.token, "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/me"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert driver.token not in cookie
    me = await client.http.get("/me")
    assert me.status_code == 200
    assert 'data-plate="沪A12345"' in me.text and "data-booking-id" not in me.text  # no bookings yet


async def test_a_tampered_or_expired_session_cookie_is_no_session(client: Client) -> None:
    key = session_key(client.app.state.beidou.settings)
    digest = hash_token("dr_whatever")
    value = sign(key, DRIVER_COOKIE, "driver", digest, 2_000_000_000)
    assert unsign(key, DRIVER_COOKIE, value, 1_900_000_000) == ("driver", digest)
    assert unsign(key, DRIVER_COOKIE, value, 2_000_000_001) is None  # expired
    assert unsign(key, "beidou_console", value, 1_900_000_000) is None  # not this cookie's
    forged = value.replace("driver", "operator", 1)
    assert unsign(key, DRIVER_COOKIE, forged, 1_900_000_000) is None
    assert unsign("another key", DRIVER_COOKIE, value, 1_900_000_000) is None
    # a genuine cookie for a token nobody holds is no session either
    client.http.cookies.set(DRIVER_COOKIE, value)
    r = await client.http.get("/me")
    assert r.status_code == 303 and r.headers["location"] == "/signin"


async def test_streets_geojson_is_the_drivable_network_in_the_box(client: Client) -> None:
    box = (39.460, 39.470, -87.420, -87.405)  # downtown Terre Haute: min_lat, max_lat, min_lon, max_lon
    r = await client.http.get(f"/map/streets.geojson?bbox={box[2]},{box[0]},{box[3]},{box[1]}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    lines = r.json()["features"][0]["geometry"]["coordinates"]
    roads = client.app.state.beidou.network.roads
    # independently: every drivable segment with a shape point inside the box
    inside = (
        (roads.pt_lat >= box[0])
        & (roads.pt_lat <= box[1])
        & (roads.pt_lon >= box[2])
        & (roads.pt_lon <= box[3])
    )
    expected = sum(
        1
        for s in range(len(roads.seg_a))
        if inside[roads.seg_a[s] : roads.seg_b[s] + 1].any()
        and (np.isfinite(roads.seg_car_fwd_s[s]) or np.isfinite(roads.seg_car_bwd_s[s]))
    )
    assert len(lines) == expected > 50
    for line in lines:
        assert any(box[0] <= lat <= box[1] and box[2] <= lon <= box[3] for lon, lat in line)
    for bad in ("1,2,3", "a,b,c,d", "-87.4,39.5,-87.5,39.4", "-88,39,-87,40"):
        r = await client.http.get(f"/map/streets.geojson?bbox={bad}")
        assert r.status_code == 422, bad
        assert r.headers["content-type"] == "application/problem+json"
    # where the network does not reach, an empty collection
    r = await client.http.get("/map/streets.geojson?bbox=121.50,31.29,121.52,31.31")
    assert r.json() == {"type": "FeatureCollection", "features": []}


async def console_login(client: Client, token: str, next_path: str = "/console") -> httpx.Response:
    csrf = await csrf_of(client, "/console/login")
    return await client.http.post("/console/login", data={"token": token, "csrf": csrf, "next": next_path})


async def test_console_applies_the_api_tenancy_rules(client: Client) -> None:
    r = await client.http.get("/console/flags")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/flags"
    mine, theirs = await client.operator("Mine"), await client.operator("Theirs")
    own = await client.lot(mine, spaces=2, name="Own lot")
    other = await client.lot(theirs, spaces=2, name="Their lot")
    driver = await client.driver()
    assert (await console_login(client, driver.token)).status_code == 401  # drivers have no console
    r = await console_login(client, mine.token, next_path="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/console"  # never an open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and mine.token not in cookie
    home = await client.http.get("/console")
    assert f'data-lot-id="{own["id"]}"' in home.text
    assert other["id"] not in home.text and "Their lot" not in home.text
    assert (await client.http.get(f"/console/lots/{own['id']}")).status_code == 200
    r = await client.http.get(f"/console/lots/{other['id']}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert (await client.http.get("/console/admin/operators")).status_code == 403
    csrf = await csrf_of(client, "/console/devices")
    r = await client.http.post("/console/admin/operators", data={"name": "x", "csrf": csrf})
    assert r.status_code == 403
    # a device for another operator's lot: refused as the API refuses it, nothing created
    r = await client.http.post(
        "/console/devices", data={"lot_id": other["id"], "kind": "anpr_camera", "name": "cam", "csrf": csrf}
    )
    assert r.status_code == 404
    r = await client.http.post(
        "/console/devices", data={"lot_id": own["id"], "kind": "anpr_camera", "name": "cam"}
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf"  # no CSRF token: refused
    r = await client.http.post(
        "/console/devices", data={"lot_id": own["id"], "kind": "anpr_camera", "name": "cam", "csrf": csrf}
    )
    assert r.status_code == 201
    devices = (await client.http.get("/v1/operator/devices", headers=mine.h)).json()
    assert [d["name"] for d in devices] == ["cam"]


async def test_logout_and_flag_resolution_need_the_csrf_token(client: Client) -> None:
    op = await client.operator()
    await console_login(client, op.token)
    r = await client.http.post("/console/logout")
    assert r.status_code == 403
    assert (await client.http.get("/console")).status_code == 200  # still signed in
    r = await client.http.post(
        "/console/flags/00000000-0000-0000-0000-000000000000/resolve", data={"reason": "x"}
    )
    assert r.status_code == 403
    csrf = await csrf_of(client, "/console/flags")
    r = await client.http.post(
        "/console/flags/00000000-0000-0000-0000-000000000000/resolve", data={"reason": "x", "csrf": csrf}
    )
    assert r.status_code == 404  # an unknown flag, as the API answers
    r = await client.http.post("/console/logout", data={"csrf": csrf})
    assert r.status_code == 303
    assert (await client.http.get("/console")).status_code == 303


async def test_the_console_stream_carries_only_the_operators_lots(live_server: Any) -> None:
    """Through a real server (the ASGI test transport buffers whole responses, not streams)."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        client = Client(http, live_server.app)
        mine, theirs = await client.operator("Mine"), await client.operator("Theirs")
        own = await client.lot(mine, spaces=2, name="Own lot")
        other = await client.lot(theirs, spaces=3, name="Their lot")
        r = await console_login(client, mine.token)
        assert r.status_code == 303
        sensor = await client.device(theirs, other["id"], kind="occupancy_sensor")
        own_sensor = await client.device(mine, own["id"], kind="occupancy_sensor")
        async with http.stream("GET", "/console/live") as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            snapshot = await anext(line async for line in lines if line.startswith("data:"))
            assert json.loads(snapshot[5:]) == [
                {"lot_id": own["id"], "free_spaces": 2, "occupied": 0, "reserved": 0}
            ]
            for who, lot, event in ((sensor, other, "t-1"), (own_sensor, own, "o-1")):
                r = await http.post(
                    "/v1/devices/occupancy",
                    json={
                        "event_id": event,
                        "space_code": lot["spaces"][0]["code"],
                        "occupied": True,
                        "ts": iso(now_utc()),
                    },
                    headers=who.h,
                )
                assert r.status_code == 201, r.text
            # the other operator's change was sent first, yet the stream's next event is ours
            pushed = await asyncio.wait_for(
                anext(line async for line in lines if line.startswith("data:")), 10
            )
            assert json.loads(pushed[5:])["lot_id"] == own["id"]
            assert json.loads(pushed[5:])["free_spaces"] == 1


async def test_a_driver_adds_a_plate_then_the_lots_offer_booking(client: Client) -> None:
    op = await client.operator()
    lot = await client.lot(op, spaces=2, name="Bookable")
    driver = await client.driver()
    csrf = await csrf_of(client, "/signin")
    r = await client.http.post("/signin", data={"token": driver.token, "csrf": csrf})
    assert r.status_code == 303
    home = await client.http.get("/")
    assert 'action="/book"' not in home.text and 'href="/me"' in home.text  # no plate yet
    r = await client.http.post("/me/plates", data={"plate": "not a plate", "csrf": csrf})
    assert r.status_code == 422 and "data-error=" in r.text  # refused as the API refuses it
    r = await client.http.post("/me/plates", data={"plate": "沪A88888", "csrf": csrf})
    assert r.status_code == 303
    plates = (await client.http.get("/v1/me/plates", headers=driver.h)).json()
    assert [p["plate"] for p in plates] == ["沪A88888"]
    home = await client.http.get("/")
    assert f'name="lot_id" value="{lot["id"]}"' in home.text
