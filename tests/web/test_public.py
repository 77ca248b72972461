"""The public parking page at ``/`` and the driver's pages, in a real browser."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page, expect

from parking import demo
from parking.lots.schemas import LotKind
from tests.conftest import Backend
from tests.support import iso, now_utc
from tests.web.conftest import OffsiteRequests, screenshot
from tests.web.support import load_demo


def shared_open_now() -> bool:
    """The demo's sharing windows, worked out by hand: weekdays 08:30-17:30, and Saturday and
    Sunday from 20:00 to 08:00 the next morning (Asia/Shanghai)."""
    local = now_utc().astimezone(ZoneInfo("Asia/Shanghai"))
    day, minute = local.weekday(), local.hour * 60 + local.minute
    weekday = day <= 4 and 8 * 60 + 30 <= minute < 17 * 60 + 30
    weekend_night = (day in (5, 6) and minute >= 20 * 60) or (day in (6, 0) and minute < 8 * 60)
    return weekday or weekend_night


def expected_free(spec: demo.DemoLot) -> int:
    """Free now in a freshly loaded demo: a garage counts places (its capacity: nobody inside,
    the demo booking starts in the future); a sensed lot counts its spaces (none occupied),
    shared residential spaces only inside their windows."""
    if spec.kind == LotKind.GARAGE:
        return spec.capacity
    if spec.kind == LotKind.RESIDENTIAL_SHARED:
        return spec.spaces if shared_open_now() else 0
    return spec.spaces


async def test_public_page_shows_every_lot_with_free_counts_without_login(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, offsite = page
    creds = await load_demo(backend, live_server.url)
    response = await pg.goto(f"{live_server.url}/")
    assert response is not None and response.status == 200
    cards = pg.locator("li.lot-card[data-lot-id]")
    await expect(cards).to_have_count(len(demo.LOTS))
    by_name = {spec.name: spec for spec in demo.LOTS}
    for lot in creds["lots"]:
        card = pg.locator(f'li.lot-card[data-lot-id="{lot["id"]}"]')
        free = expected_free(by_name[lot["name"]])
        await expect(card).to_have_attribute("data-free-spaces", str(free))
        await expect(card.locator(".free")).to_have_text(str(free))
        await expect(card).to_contain_text(lot["name"])
    # the map drew one marker per lot, and the live stream connected
    await expect(pg.locator("path.lot-marker")).to_have_count(len(demo.LOTS))
    await expect(pg.locator("body")).to_have_attribute("data-live", "on")
    # the shared residential spaces show their windows (weekdays 08:30-17:30, weekend nights)
    shared = next(lot for lot in creds["lots"] if lot["kind"] == LotKind.RESIDENTIAL_SHARED)
    shared_card = pg.locator(f'li.lot-card[data-lot-id="{shared["id"]}"] .shared')
    await expect(shared_card).to_contain_text("08:30–17:30")
    await expect(shared_card).to_contain_text("20:00–08:00")
    await screenshot(pg, "public-map")
    assert offsite == [], offsite


async def test_a_sensor_event_changes_the_free_count_on_the_open_page(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, _ = page
    creds = await load_demo(backend, live_server.url)
    lot = next(lot for lot in creds["lots"] if lot["name"] == demo.DEMO_BOOKING_LOT)
    spaces = next(s.spaces for s in demo.LOTS if s.name == demo.DEMO_BOOKING_LOT)
    await pg.goto(f"{live_server.url}/")
    await expect(pg.locator("body")).to_have_attribute("data-live", "on")
    card = pg.locator(f'li.lot-card[data-lot-id="{lot["id"]}"]')
    await expect(card).to_have_attribute("data-free-spaces", str(spaces))
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        r = await http.post(
            "/v1/devices/occupancy",
            json={
                "event_id": "web-1",
                "space_code": lot["space_codes"][0],
                "occupied": True,
                "ts": iso(now_utc()),
            },
            headers={"Authorization": f"Bearer {lot['sensor_token']}"},
        )
        assert r.status_code == 201, r.text
    # one space taken: one fewer free, on the page that was already open (no reload)
    await expect(card).to_have_attribute("data-free-spaces", str(spaces - 1), timeout=2000)
    await expect(card.locator(".free")).to_have_text(str(spaces - 1), timeout=2000)
    await expect(pg.locator(f'path.lot-marker[data-lot-id="{lot["id"]}"]')).to_have_attribute(
        "data-free-spaces", str(spaces - 1), timeout=2000
    )


async def test_nearest_lot_with_free_spaces(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, _ = page
    creds = await load_demo(backend, live_server.url)
    # standing at the Daxue Road lot (31.3056, 121.5060): it is the nearest, at 0 km
    await pg.goto(f"{live_server.url}/?lat=31.3056&lon=121.5060")
    daxue = next(lot for lot in creds["lots"] if lot["name"] == demo.DEMO_BOOKING_LOT)
    await expect(pg.locator("[data-nearest-lot]")).to_have_attribute("data-nearest-lot", daxue["id"])
    # in downtown Terre Haute (where the test network was imported) the nearest is the demo's
    # downtown garage, and the map draws the streets around it from the OSM import
    await pg.goto(f"{live_server.url}/?lat=39.4665&lon=-87.4130")
    downtown = next(lot for lot in creds["lots"] if lot["name"] == demo.TRIP_DEMO_LOTS[0].name)
    await expect(pg.locator("[data-nearest-lot]")).to_have_attribute("data-nearest-lot", downtown["id"])
    await expect(pg.locator("#lot-map")).to_have_attribute("data-streets", re.compile(r"^[1-9]\d*$"))
    assert await pg.locator("#lot-map path.leaflet-interactive, #lot-map svg path").count() > len(demo.LOTS)
    await screenshot(pg, "public-nearest-streets")


async def test_the_demo_driver_signs_in_books_and_pays(
    live_server: Any, backend: Backend, page: tuple[Page, OffsiteRequests]
) -> None:
    pg, offsite = page
    creds = await load_demo(backend, live_server.url)
    driver = creds["driver"]
    await pg.goto(f"{live_server.url}/signin")
    await pg.fill("input[name=token]", driver["token"])
    await pg.click("button[type=submit]")
    await pg.wait_for_url(f"{live_server.url}/me")
    # the cookie is the session, never the token itself
    cookies = {c["name"]: c for c in await pg.context.cookies()}
    session = cookies["beidou_driver"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert driver["token"] not in session["value"]
    # the demo's own booking is listed, confirmed and unpaid
    row = pg.locator(f'tr[data-booking-id="{driver["booking_id"]}"]')
    await expect(row).to_have_attribute("data-status", "confirmed")
    await expect(row).to_have_attribute("data-paid-fen", "0")
    # book another from the map page: the Changyang garage, 2 hours from the default start
    garage = next(lot for lot in creds["lots"] if lot["name"] == "Changyang Campus Garage")
    await pg.goto(f"{live_server.url}/")
    card = pg.locator(f'li.lot-card[data-lot-id="{garage["id"]}"]')
    await card.locator("details.book summary").click()
    await card.locator("input[name=hours]").fill("2")
    await card.locator("button[type=submit]").click()
    await pg.wait_for_url(f"{live_server.url}/me*")
    rows = pg.locator("tr[data-booking-id]")
    await expect(rows).to_have_count(2)
    new = pg.locator("tr[data-booking-id]").filter(has_text="Changyang Campus Garage")
    await expect(new).to_have_attribute("data-status", "confirmed")
    booking_id = await new.get_attribute("data-booking-id")
    # pay it through the sandbox checkout, then the booking shows paid
    await new.locator("button.pay").click()
    await pg.wait_for_url("**/checkout/**")
    amount = await pg.locator("[data-amount-fen]").get_attribute("data-amount-fen")
    await screenshot(pg, "driver-checkout")
    await pg.click("button[value=succeeded]")
    await expect(pg.locator("dl[data-status]")).to_have_attribute("data-status", "succeeded")
    await pg.click("a[href='/me']")
    paid = pg.locator(f'tr[data-booking-id="{booking_id}"]')
    await expect(paid).to_have_attribute("data-paid-fen", str(amount))
    await expect(paid.locator(".paid")).to_be_visible()
    await screenshot(pg, "driver-bookings")
    # and the API agrees: the booking was paid ahead in full
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        money = (
            await http.get(
                f"/v1/bookings/{booking_id}/payments", headers={"Authorization": f"Bearer {driver['token']}"}
            )
        ).json()
    assert money["paid_fen"] == money["price_fen"] == int(str(amount)) > 0
    assert offsite == [], offsite


async def test_chinese_by_accept_language_and_switchable(
    live_server: Any, backend: Backend, browser: Browser
) -> None:
    await load_demo(backend, live_server.url)
    context = await browser.new_context(locale="zh-CN")
    try:
        pg = await context.new_page()
        await pg.goto(f"{live_server.url}/")
        await expect(pg.locator("html")).to_have_attribute("lang", "zh-CN")
        await expect(pg.get_by_role("heading", name="停车场", exact=True)).to_have_count(1)
        await expect(pg.locator("li.lot-card").first).to_contain_text("空位")
        await screenshot(pg, "public-map-zh")
        await pg.click("a.lang")  # to English, and it stays English on the next page
        await expect(pg.locator("html")).to_have_attribute("lang", "en")
        await pg.goto(f"{live_server.url}/signin")
        await expect(pg.locator("h1")).to_have_text("Driver sign-in")
        await pg.click("a.lang")
        await expect(pg.locator("h1")).to_have_text("车主登录")
    finally:
        await context.close()
