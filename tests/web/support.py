"""Helpers of the page tests: the demo district loaded into a running test server."""

from __future__ import annotations

from typing import Any

import httpx

from core.db import make_engine, make_sessionmaker
from parking import demo
from parking.unit import transaction
from tests.conftest import Backend, settings_for
from tests.support import ADMIN_TOKEN, bearer


async def load_demo(backend: Backend, base_url: str, http: Any = None) -> dict[str, Any]:
    """``beidou demo load`` against the server's database, then the server's live store rebuilt
    (as ``beidou serve`` does at start-up)."""
    engine = make_engine(backend.database_url)
    try:
        async with transaction(make_sessionmaker(engine), settings_for(backend)) as ctx:
            credentials = await demo.load(ctx)
    finally:
        await engine.dispose()
    if http is None:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            r = await client.post("/v1/admin/live/rebuild", headers=bearer(ADMIN_TOKEN))
    else:
        r = await http.post("/v1/admin/live/rebuild", headers=bearer(ADMIN_TOKEN))
    assert r.status_code == 200, r.text
    return credentials
