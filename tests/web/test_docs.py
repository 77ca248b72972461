"""`/docs` and `/redoc` render in a real browser with no request to any other host."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.web.conftest import OffsiteRequests, screenshot


async def test_swagger_ui_renders_offline(live_server: Any, page: tuple[Page, OffsiteRequests]) -> None:
    pg, offsite = page
    response = await pg.goto(f"{live_server.url}/docs")
    assert response is not None and response.status == 200
    # Swagger UI built the operations from our OpenAPI: one block per operation
    await pg.wait_for_selector(".opblock", timeout=20_000)
    assert await pg.locator(".opblock").count() > 40
    title = await pg.locator(".information-container .title").inner_text()
    assert "beidou-mobility" in title
    assert await pg.get_by_text("/v1/sessions/{session_id}/pay", exact=True).count() >= 1
    await screenshot(pg, "docs-swagger")
    assert offsite == [], offsite


async def test_redoc_renders_offline(live_server: Any, page: tuple[Page, OffsiteRequests]) -> None:
    pg, offsite = page
    response = await pg.goto(f"{live_server.url}/redoc")
    assert response is not None and response.status == 200
    await pg.wait_for_selector(".api-content h1", timeout=30_000)
    assert "beidou-mobility" in await pg.locator(".api-content h1").first.inner_text()
    # the operations' menu is there, and ReDoc did not fall back to an error message
    assert await pg.locator("[role=menuitem]").count() > 20
    assert await pg.locator("text=Something went wrong").count() == 0
    await screenshot(pg, "docs-redoc")
    assert offsite == [], offsite
