"""``/console`` in a real browser: sign-in, tenancy on the map, live counts, the flags queue."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from parking import demo
from tests.conftest import Backend
from tests.parking.tracks.test_tracks_api import epoch
from tests.support import ADMIN_TOKEN, TARIFF, bearer, iso, now_utc
from tests.web.conftest import OffsiteRequests, screenshot
from tests.web.support import load_demo


async def other_operator_lot(base_url: str) -> dict[str, Any]:
    """A second operator with one lot of its own, near the demo's Wujiaochang garage."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        r = await http.post(
            "/v1/admin/operators", json={"name": "Rival Parking"}, headers=bearer(ADMIN_TOKEN)
        )
        assert r.status_code == 201, r.text
        rival = r.json()
        r = await http.post(
            "/v1/operator/lots",
            json={
                "name": "Rival Lot",
                "lat": 31.301,
                "lon": 121.514,
                "kind": "garage",
                "capacity": 50,
                "tariff": TARIFF,
            },
            headers=bearer(rival["token"]),
        )
        assert r.status_code == 201, r.text
        lot: dict[str, Any] = r.json()
        return lot


async def login(pg: Page, base_url: str, token: str) -> None:
    await pg.goto(f"{base_url}/console")
    await pg.wait_for_url("**/console/login**")  # not signed in: to the login page
    await pg.fill("input[name=token]", token)
    await pg.click("button[type=submit]")
    await pg.wait_for_url(f"{base_url}/console")


async def test_operator_sees_only_its_lots_live_and_logs_out(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, offsite = page
    creds = await load_demo(backend, live_server.url)
    rival = await other_operator_lot(live_server.url)
    await login(pg, live_server.url, creds["operator_token"])
    cookie = {c["name"]: c for c in await pg.context.cookies()}["beidou_console"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert creds["operator_token"] not in cookie["value"]
    # its own lots on the map and in the list; the other operator's nowhere
    await expect(pg.locator("li.lot-card[data-lot-id]")).to_have_count(len(demo.LOTS))
    await expect(pg.locator("path.lot-marker")).to_have_count(len(demo.LOTS))
    assert await pg.locator(f'[data-lot-id="{rival["id"]}"]').count() == 0
    assert await pg.get_by_text("Rival Lot").count() == 0
    # a sensor event changes the lot's free count on the open console within 2 s
    await expect(pg.locator("body")).to_have_attribute("data-live", "on")
    lot = next(lot for lot in creds["lots"] if lot["name"] == "Yangpu Riverside On-street (Yangshupu Rd)")
    spaces = next(s.spaces for s in demo.LOTS if s.name == lot["name"])
    card = pg.locator(f'li.lot-card[data-lot-id="{lot["id"]}"]')
    await expect(card).to_have_attribute("data-free-spaces", str(spaces))
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        for i, code in enumerate(lot["space_codes"][:2]):
            r = await http.post(
                "/v1/devices/occupancy",
                json={"event_id": f"c-{i}", "space_code": code, "occupied": True, "ts": iso(now_utc())},
                headers=bearer(lot["sensor_token"]),
            )
            assert r.status_code == 201, r.text
    await expect(card).to_have_attribute("data-free-spaces", str(spaces - 2), timeout=2000)
    await screenshot(pg, "console-operator-map")
    # another operator's lot page is as unknown as a made-up one
    r = await pg.goto(f"{live_server.url}/console/lots/{rival['id']}")
    assert r is not None and r.status == 404
    # the lot page: the spaces grid shows the two occupied spaces and the sensor events
    await pg.goto(f"{live_server.url}/console/lots/{lot['id']}")
    await expect(pg.locator(".grid .space[data-state=occupied]")).to_have_count(2)
    await expect(pg.locator(".grid .space")).to_have_count(spaces)
    await expect(pg.locator("tr[data-event-source=sensor]")).to_have_count(2)
    await screenshot(pg, "console-lot")
    # logging out ends the session
    await pg.click("[data-logout]")
    await pg.wait_for_url("**/console/login")
    await pg.goto(f"{live_server.url}/console")
    await pg.wait_for_url("**/console/login**")
    assert offsite == [], offsite


async def test_operator_resolves_a_flag_with_a_reason(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, _ = page
    creds = await load_demo(backend, live_server.url)
    garage = creds["lots"][0]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        # a weak read (0.55, under the platform's 0.8) is held for review
        r = await http.post(
            "/v1/devices/anpr",
            json={
                "event_id": "weak-1",
                "plate": "沪B54321",
                "direction": "in",
                "ts": iso(now_utc()),
                "confidence": 0.55,
            },
            headers=bearer(garage["camera_token"]),
        )
        assert r.status_code in (200, 201), r.text
        flags = (await http.get("/v1/operator/flags", headers=bearer(creds["operator_token"]))).json()
    assert len(flags) >= 1
    flag = flags[0]
    await login(pg, live_server.url, creds["operator_token"])
    await pg.goto(f"{live_server.url}/console/flags")
    row = pg.locator(f'tr[data-flag-id="{flag["id"]}"]')
    await expect(row.locator("[data-plate]")).to_have_text("沪B54321")
    await expect(row.locator("[data-confidence]")).to_have_text("0.55")
    await screenshot(pg, "console-flags")
    await row.locator("input[name=reason]").fill("plate checked on the camera image")
    await row.locator("button[type=submit]").click()
    await expect(pg.locator(f'[data-resolved="{flag["id"]}"]')).to_be_visible()
    await expect(pg.locator(f'tr[data-flag-id="{flag["id"]}"]')).to_have_count(0)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        resolved = (
            await http.get("/v1/operator/flags?unresolved=false", headers=bearer(creds["operator_token"]))
        ).json()
    done = next(f for f in resolved if f["id"] == flag["id"])
    assert done["resolution"] == "plate checked on the camera image"
    assert done["resolved_at"] is not None


async def test_admin_sees_every_lot_and_creates_an_operator(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, offsite = page
    await load_demo(backend, live_server.url)
    rival = await other_operator_lot(live_server.url)
    await login(pg, live_server.url, ADMIN_TOKEN)
    await expect(pg.locator("li.lot-card[data-lot-id]")).to_have_count(len(demo.LOTS) + 1)
    await expect(pg.locator(f'li.lot-card[data-lot-id="{rival["id"]}"]')).to_have_count(1)
    await expect(pg.locator("path.lot-marker")).to_have_count(len(demo.LOTS) + 1)
    await screenshot(pg, "console-admin-map")
    await pg.goto(f"{live_server.url}/console/admin/operators")
    await expect(pg.locator("tr[data-operator-id]")).to_have_count(2)
    await pg.fill("input[name=name]", "Wujiaochang Parking Co.")
    await pg.click("form[action='/console/admin/operators'] button[type=submit]")
    token = await pg.locator("[data-new-token]").inner_text()
    await expect(pg.locator("tr[data-operator-id]")).to_have_count(3)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        me = (await http.get("/v1/me", headers=bearer(token.strip()))).json()
    assert me["role"] == "operator"
    # the admin's pages render: reports with their charts, positioning, devices
    await pg.goto(f"{live_server.url}/console/admin/district")
    # every lot: the demo's nine and the rival's 50-place garage; 24 hours and 14 days charted
    capacity = sum(spec.capacity for spec in demo.LOTS) + 50
    await expect(pg.locator("[data-capacity]")).to_have_attribute("data-capacity", str(capacity))
    await expect(pg.locator("#chart-occupancy")).to_have_attribute("data-points", "24", timeout=20_000)
    await expect(pg.locator("#chart-revenue")).to_have_attribute("data-points", "14")
    await screenshot(pg, "console-admin-district")
    for path in (
        "/console/reports",
        "/console/positioning",
        "/console/devices",
        "/console/sessions",
        "/console/bookings",
    ):
        r = await pg.goto(f"{live_server.url}{path}")
        assert r is not None and r.status == 200, path
    assert offsite == [], offsite


POS = (
    Path(__file__).resolve().parents[1]
    / "data"
    / "gnss"
    / "reference"
    / "geonet2005_kin_gps_l12_cont_B34.pos"
)


def pos_counts(path: Path) -> tuple[int, dict[int, int]]:
    """Epochs and epochs per quality flag (the Q column, 6th) read off the file by hand."""
    per_q: dict[int, int] = {}
    rows = [
        line.split() for line in path.read_text().splitlines() if line.strip() and not line.startswith("%")
    ]
    for row in rows:
        per_q[int(row[5])] = per_q.get(int(row[5]), 0) + 1
    return len(rows), per_q


async def test_reports_charts_and_a_pos_upload_plot(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, offsite = page
    creds = await load_demo(backend, live_server.url)
    driver = creds["driver"]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        # the demo driver pays the demo booking ahead through the sandbox: today's revenue
        r = await http.post(
            f"/v1/bookings/{driver['booking_id']}/pay",
            headers={**bearer(driver["token"]), "Idempotency-Key": "report-1"},
        )
        assert r.status_code == 201, r.text
        payment = r.json()
        r = await http.post(payment["checkout_url"], data={"outcome": "succeeded"})
        assert r.status_code == 200, r.text
    daxue = next(lot for lot in creds["lots"] if lot["name"] == demo.DEMO_BOOKING_LOT)
    await login(pg, live_server.url, creds["operator_token"])
    await pg.goto(f"{live_server.url}/console/reports?lot_id={daxue['id']}")
    row = pg.locator(f'tr[data-revenue-lot="{daxue["id"]}"]')
    await expect(row).to_have_attribute("data-revenue-fen", str(payment["amount_fen"]))
    # 14 days of revenue (the default) and 24 hourly occupancy buckets, drawn by uPlot
    await expect(pg.locator("#chart-revenue")).to_have_attribute("data-points", "14")
    await expect(pg.locator("#chart-occupancy")).to_have_attribute("data-points", "24")
    assert await pg.locator(".uplot canvas").count() == 2
    await screenshot(pg, "console-reports")
    # an RTK .pos file uploaded and drawn like `beidou rtk plot`
    await pg.goto(f"{live_server.url}/console/positioning")
    await pg.set_input_files("input[name=pos]", str(POS))
    await pg.click("form[action='/console/positioning/pos'] button[type=submit]")
    epochs, per_q = pos_counts(POS)
    await expect(pg.locator("[data-pos-epochs]")).to_have_attribute("data-pos-epochs", str(epochs))
    if 1 in per_q:  # RTKLIB's Q=1 is a fixed solution
        await expect(pg.locator("[data-quality=fix]")).to_contain_text(str(per_q[1]))
    natural = await pg.locator("img.pos-plot").evaluate("img => img.naturalWidth")
    assert natural > 500
    await pg.locator("img.pos-plot").scroll_into_view_if_needed()
    await screenshot(pg, "console-positioning-pos")
    assert offsite == [], offsite


async def test_a_vehicle_on_the_map_by_fix_quality_and_its_track(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, offsite = page
    creds = await load_demo(backend, live_server.url)
    car = creds["gnss"]["vehicles"][0]
    start = now_utc().replace(microsecond=0) - timedelta(seconds=30)
    # ten seconds downtown: five RTK-fixed epochs (quality 4), then five float (quality 5)
    body = "".join(
        epoch(start + timedelta(seconds=i), 39.4660 + i * 1e-5, -87.4125, quality=4 if i < 5 else 5)
        for i in range(10)
    )
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        r = await http.post(
            "/v1/gnss/nmea",
            content=body.encode(),
            headers={**bearer(car["token"]), "Content-Type": "text/plain"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 10
    await login(pg, live_server.url, creds["operator_token"])
    # the map's vehicle layer: one car has a position, its latest fix is float
    await expect(pg.locator("#lot-map")).to_have_attribute("data-vehicles", "1")
    await expect(pg.locator(f'path[data-vehicle="{car["id"]}"]')).to_have_attribute("data-fix", "float")
    await pg.goto(f"{live_server.url}/console/positioning?receiver={car['id']}")
    await expect(pg.locator("#track-map")).to_have_attribute("data-points", "10")
    await expect(pg.locator("#track-map")).to_have_attribute("data-streets", re.compile(r"^[1-9]\d*$"))
    await pg.locator("#track-map").scroll_into_view_if_needed()
    await screenshot(pg, "console-vehicle-track")
    assert offsite == [], offsite
