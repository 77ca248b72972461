from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StateDep
from api.state import app_state
from core.db import is_connection_error, ping
from parking.ntrip import live as ntrip_live
from parking.tracks import service as positions

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
        await ping(state.engine)
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
async def metrics(request: Request) -> Response:
    """This worker's HTTP metrics, plus what the live store holds for the whole district: the
    NTRIP caster's mounts (its live snapshot) and the stored GNSS fixes by quality."""
    store = app_state(request).live_store
    snapshot = await ntrip_live.live_snapshot(store)
    fixes = await positions.stored_fix_counts(store)
    text = ntrip_metrics(snapshot) + fix_metrics(fixes)
    return Response(generate_latest() + text.encode(), media_type=CONTENT_TYPE_LATEST)


def fix_metrics(counts: dict[str, int] | None) -> str:
    lines = [
        "# HELP beidou_gnss_fixes_total GNSS fixes stored in tracks, by GGA quality",
        "# TYPE beidou_gnss_fixes_total counter",
    ]
    for label, n in (counts or {}).items():
        lines.append(f'beidou_gnss_fixes_total{{quality="{label}"}} {float(n)}')
    return "\n".join(lines) + "\n"


NTRIP_GAUGES = (
    ("online", "beidou_ntrip_mount_online", "gauge", "1 while a source feeds the mount"),
    ("clients", "beidou_ntrip_mount_clients", "gauge", "connected rovers"),
    ("bytes_in", "beidou_ntrip_mount_bytes_in_total", "counter", "bytes received from the source"),
    ("bytes_out", "beidou_ntrip_mount_bytes_out_total", "counter", "bytes sent to rovers"),
    ("frames", "beidou_ntrip_mount_frames_total", "counter", "RTCM frames relayed"),
    (
        "frames_dropped",
        "beidou_ntrip_mount_frames_dropped_total",
        "counter",
        "frames dropped for slow rovers",
    ),
    ("clients_dropped", "beidou_ntrip_mount_clients_dropped_total", "counter", "rovers cut off for lagging"),
    ("last_frame_age_s", "beidou_ntrip_mount_last_frame_age_seconds", "gauge", "age of the last frame"),
    ("bitrate", "beidou_ntrip_mount_bitrate_bps", "gauge", "bits per second from the source"),
)


def ntrip_metrics(snapshot: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for key, name, kind, help_ in NTRIP_GAUGES:
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for m in snapshot:
            value = m.get(key)
            if value is not None:
                lines.append(f'{name}{{mount="{_label(m["mount"])}"}} {float(value)}')
    lines += [
        "# HELP beidou_ntrip_mount_message_period_seconds seconds between messages of a type",
        "# TYPE beidou_ntrip_mount_message_period_seconds gauge",
    ]
    for m in snapshot:
        mount = _label(m["mount"])
        for msg_type, period in (m.get("message_rates_s") or {}).items():
            labels = f'mount="{mount}",type="{msg_type}"'
            lines.append(f"beidou_ntrip_mount_message_period_seconds{{{labels}}} {float(period)}")
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
