"""A real browser for the pages: Playwright driving the system's Chromium (Playwright's own
browser download cannot reach its host here). Missing Chromium fails the run: `make test`
installs it, and the pages are not tested otherwise."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright

CHROMIUM = os.environ.get("BEIDOU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FOUND = Path(CHROMIUM).exists()
SCREENSHOTS = Path(os.environ.get("BEIDOU_SCREENSHOTS", "var/screenshots"))
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
# as the machine's notes advise: no background networking (its connections are refused offline)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_FOUND:
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: `make test` installs the Debian package", pytrace=False
        )
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


class OffsiteRequests(list[str]):
    """Every request a page made to a host other than the server's (and that was blocked)."""


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[tuple[Page, OffsiteRequests]]:
    context = await browser.new_context(locale="en-US")
    offsite = OffsiteRequests()

    async def guard(route: Route, request: Request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host in {"127.0.0.1", "localhost"}:
            await route.continue_()
        else:
            offsite.append(request.url)
            await route.abort()

    await context.route("**/*", guard)
    pg = await context.new_page()
    yield pg, offsite
    await context.close()


async def screenshot(pg: Page, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    await pg.screenshot(path=str(path), full_page=False)
    return path
