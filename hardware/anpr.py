"""Camera payload adapters: vendor webhook bodies -> our plate-read event.

OpenALPR / Rekor Scout agents post ``alpr_group`` (one vehicle, best read of several frames) and
``alpr_results`` (one frame) JSON webhooks. They carry no entry/exit notion, so the lane's
direction comes from the camera's configuration (a query parameter on the webhook URL).
Confidence is 0-100 there and 0-1 here; time is epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.errors import Invalid
from parking.events.schemas import AnprEventIn, Direction

# What the webhook must carry (the OpenAPI states it; from_openalpr checks it with clear errors)
OPENALPR_SCHEMA: dict[str, Any] = {
    "description": "An OpenALPR / Rekor Scout webhook: one vehicle (alpr_group) or one frame (alpr_results)",
    "oneOf": [
        {
            "type": "object",
            "title": "alpr_group",
            "required": ["data_type", "epoch_start", "best_confidence"],
            "properties": {
                "data_type": {"type": "string", "enum": ["alpr_group"]},
                "best_plate_number": {"type": "string", "minLength": 1},
                "best_plate": {"type": "object", "properties": {"plate": {"type": "string"}}},
                "best_uuid": {"type": "string", "minLength": 1},
                "uuids": {"type": "array", "items": {"type": "string"}},
                "epoch_start": {"type": "integer", "description": "epoch milliseconds"},
                "best_confidence": {"type": "number", "minimum": 0, "maximum": 100},
            },
            "description": "plate: best_plate_number or best_plate.plate; id: best_uuid or uuids[0]",
        },
        {
            "type": "object",
            "title": "alpr_results",
            "required": ["data_type", "uuid", "epoch_time", "results"],
            "properties": {
                "data_type": {"type": "string", "enum": ["alpr_results"]},
                "uuid": {"type": "string", "minLength": 1},
                "epoch_time": {"type": "integer", "description": "epoch milliseconds"},
                "results": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["plate", "confidence"],
                        "properties": {
                            "plate": {"type": "string", "minLength": 1},
                            "confidence": {"type": "number", "minimum": 0, "maximum": 100},
                        },
                    },
                },
            },
        },
    ],
}


def _epoch_ms(value: Any, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"{field} must be epoch milliseconds", code="bad_webhook")
    try:
        return datetime.fromtimestamp(value / 1000.0, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Invalid(f"{field} is out of range", code="bad_webhook") from exc


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise Invalid("confidence must be a number in 0..100", code="bad_webhook")
    return float(value) / 100.0


def from_openalpr(body: Any, direction: Direction) -> AnprEventIn:
    if not isinstance(body, dict):
        raise Invalid("webhook body must be a JSON object", code="bad_webhook")
    kind = body.get("data_type")
    if kind == "alpr_group":
        plate = body.get("best_plate_number") or (body.get("best_plate") or {}).get("plate")
        event_id = body.get("best_uuid") or (body.get("uuids") or [None])[0]
        ts = _epoch_ms(body.get("epoch_start"), "epoch_start")
        confidence = _confidence(body.get("best_confidence"))
    elif kind == "alpr_results":
        results = body.get("results") or []
        if not results or not isinstance(results[0], dict):
            raise Invalid("alpr_results carries no result", code="bad_webhook")
        best = max(results, key=lambda r: r.get("confidence", 0) if isinstance(r, dict) else 0)
        plate = best.get("plate")
        event_id = body.get("uuid")
        ts = _epoch_ms(body.get("epoch_time"), "epoch_time")
        confidence = _confidence(best.get("confidence"))
    else:
        raise Invalid(
            f"unsupported data_type {kind!r} (expected alpr_group or alpr_results)",
            code="bad_webhook",
        )
    if not isinstance(plate, str) or not plate:
        raise Invalid("webhook carries no plate", code="bad_webhook")
    if not isinstance(event_id, str) or not event_id:
        raise Invalid("webhook carries no uuid to deduplicate on", code="bad_webhook")
    try:
        return AnprEventIn(
            event_id=event_id[:128], plate=plate[:32], direction=direction, ts=ts, confidence=confidence
        )
    except ValidationError as exc:  # e.g. an epoch before 1970: the webhook is bad, not the server
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Invalid(f"webhook field {where}: {first['msg']}", code="bad_webhook") from None
