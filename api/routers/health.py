from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import StateDep
from core.db import is_connection_error

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database and live store reachable",
    responses={503: {"description": "a dependency is down"}},
)
async def readyz(state: StateDep, response: Response) -> dict[str, object]:
    database = "ok"
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        database = "unavailable"
    live = "ok" if await state.live_store.ping() else "unavailable"
    ready = database == "ok"
    response.status_code = 200 if ready else 503
    return {
        "status": "ready" if ready else "not_ready",
        "database": database,
        "live_store": live,
        "live_store_kind": state.live_store.name,
        "live_degraded": state.live.degraded or live != "ok",
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
