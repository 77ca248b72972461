"""OCPP 1.6 meter values as energy register readings (Wh), free of any transport.

A ``MeterValue`` is ``{"timestamp", "sampledValue": [{"value", "measurand"?, "unit"?, "phase"?,
"context"?, "format"?}]}``; the energy register is the sampled value whose measurand is
``Energy.Active.Import.Register`` (the default when absent) with no phase (the total), in ``Wh``
(the default) or ``kWh``. Other measurands (power, current, SoC) are not billed and are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from core.errors import Invalid

REGISTER = "Energy.Active.Import.Register"


def _timestamp(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise Invalid("a meter value needs a timestamp", code="bad_meter_value")
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(f"meter value timestamp {raw!r} is not RFC 3339", code="bad_meter_value") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise Invalid("meter value timestamps carry a UTC offset", code="bad_meter_value")
    return ts


def parse_timestamp(raw: object) -> datetime:
    """An OCPP dateTime (RFC 3339 with an offset), aware."""
    return _timestamp(raw)


def register_readings(meter_values: Iterable[Mapping[str, Any]]) -> list[tuple[datetime, int]]:
    """``(instant, Wh)`` of every energy register reading, in the order given (the wire's
    camelCase keys, or the snake_case ones the ``ocpp`` package hands over)."""
    readings: list[tuple[datetime, int]] = []
    for entry in meter_values:
        ts = _timestamp(entry.get("timestamp"))
        samples = entry.get("sampledValue", entry.get("sampled_value"))
        if samples is not None and not isinstance(samples, list):
            raise Invalid("sampledValue is a list", code="bad_meter_value")
        for sample in samples or []:
            if not isinstance(sample, Mapping):
                raise Invalid("a sampled value is an object", code="bad_meter_value")
            if sample.get("measurand", REGISTER) != REGISTER or sample.get("phase") is not None:
                continue
            if sample.get("format", "Raw") != "Raw":
                continue
            try:
                value = float(sample["value"])
            except (KeyError, TypeError, ValueError):
                raise Invalid("a sampled value is a decimal number", code="bad_meter_value") from None
            unit = sample.get("unit", "Wh")
            if unit not in ("Wh", "kWh") or not math.isfinite(value) or value < 0 or value > 2e9:
                raise Invalid(f"energy register {value} {unit} cannot be billed", code="bad_meter_value")
            readings.append((ts, round(value * 1000 if unit == "kWh" else value)))
    return readings
