"""Parking tariffs: free minutes, fixed-length units priced by time-of-day band, a daily cap.

Semantics (the contract with operators): a stay of at most ``free_minutes`` costs nothing;
otherwise the whole stay is cut into ``unit_minutes`` units from the entry (a last partial unit
counts whole), each priced at the band containing the unit's start in Asia/Shanghai local time,
and the units starting within each 24-hour period counted from entry are capped at
``daily_cap_fen``. Money is integer fen throughout.

China has kept a fixed UTC+8 offset since 1991, so local wall-clock minutes advance with elapsed
minutes; that is what lets the fee be computed with integer arithmetic per unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import Invalid

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_MIN = 24 * 60


def _int(value: Any, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"tariff {name} must be an integer", code="invalid_tariff")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise Invalid(f"tariff {name} must be {bound}, got {value}", code="invalid_tariff")
    return value


def _hhmm(value: Any, name: str, *, allow_24: bool) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise Invalid(f"tariff {name} must be 'HH:MM', got {value!r}", code="invalid_tariff")
    hh, mm = value[:2], value[3:]
    if not (hh.isdigit() and mm.isdigit()):
        raise Invalid(f"tariff {name} must be 'HH:MM', got {value!r}", code="invalid_tariff")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) > 59 or minutes > DAY_MIN or (minutes == DAY_MIN and not allow_24):
        raise Invalid(f"tariff {name} is not a time of day: {value!r}", code="invalid_tariff")
    return minutes


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Band:
    """A daily time band [start, end) in local minutes; ``end <= start`` wraps past midnight."""

    start_min: int
    end_min: int
    unit_fen: int

    def contains(self, minute_of_day: int) -> bool:
        start, end = self.start_min, self.end_min % DAY_MIN
        if start == end:
            return True
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


@dataclass(frozen=True, slots=True)
class Tariff:
    free_minutes: int
    unit_minutes: int
    bands: tuple[Band, ...]
    daily_cap_fen: int | None
    _price_by_minute: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        prices: list[int | None] = [None] * DAY_MIN
        for band in self.bands:
            for minute in range(DAY_MIN):
                if band.contains(minute):
                    if prices[minute] is not None:
                        raise Invalid(f"tariff bands overlap at {_fmt(minute)}", code="invalid_tariff")
                    prices[minute] = band.unit_fen
        gaps = [m for m, p in enumerate(prices) if p is None]
        if gaps:
            raise Invalid(f"tariff bands leave {_fmt(gaps[0])} uncovered", code="invalid_tariff")
        object.__setattr__(self, "_price_by_minute", tuple(p for p in prices if p is not None))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tariff:
        if not isinstance(data, Mapping):
            raise Invalid("tariff must be an object", code="invalid_tariff")
        unknown = set(data) - {"free_minutes", "unit_minutes", "bands", "daily_cap_fen"}
        if unknown:
            raise Invalid(f"unknown tariff fields: {sorted(unknown)}", code="invalid_tariff")
        bands_raw = data.get("bands")
        if not isinstance(bands_raw, list) or not bands_raw:
            raise Invalid("tariff needs a non-empty list of bands", code="invalid_tariff")
        bands = []
        for i, raw in enumerate(bands_raw):
            if not isinstance(raw, Mapping):
                raise Invalid(f"tariff band {i} must be an object", code="invalid_tariff")
            bands.append(
                Band(
                    _hhmm(raw.get("start"), f"bands[{i}].start", allow_24=False),
                    _hhmm(raw.get("end"), f"bands[{i}].end", allow_24=True),
                    _int(raw.get("unit_fen"), f"bands[{i}].unit_fen", low=0),
                )
            )
        cap = data.get("daily_cap_fen")
        return cls(
            free_minutes=_int(data.get("free_minutes", 0), "free_minutes", low=0, high=DAY_MIN),
            unit_minutes=_int(data.get("unit_minutes"), "unit_minutes", low=1, high=DAY_MIN),
            bands=tuple(bands),
            daily_cap_fen=None if cap is None else _int(cap, "daily_cap_fen", low=0),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "free_minutes": self.free_minutes,
            "unit_minutes": self.unit_minutes,
            "bands": [
                {"start": _fmt(b.start_min), "end": _fmt(b.end_min), "unit_fen": b.unit_fen}
                for b in self.bands
            ],
            "daily_cap_fen": self.daily_cap_fen,
        }

    def unit_fen_at(self, at: datetime) -> int:
        local = _aware(at, "at").astimezone(SHANGHAI)
        return self._price_by_minute[local.hour * 60 + local.minute]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(f"{name} must be timezone-aware", code="naive_datetime")
    return value


def _local_second_of_day(at: datetime) -> int:
    local = at.astimezone(SHANGHAI)
    return local.hour * 3600 + local.minute * 60 + local.second


def fee_fen(tariff: Tariff, entry: datetime, exit: datetime) -> int:
    """What a stay from ``entry`` to ``exit`` costs, in fen."""
    _aware(entry, "entry")
    _aware(exit, "exit")
    if exit < entry:
        raise Invalid("exit is before entry", code="exit_before_entry")
    stay_s = (exit - entry).total_seconds()
    if stay_s <= tariff.free_minutes * 60:
        return 0
    unit_s = tariff.unit_minutes * 60
    units = math.ceil(stay_s / unit_s)
    base = _local_second_of_day(entry)
    prices = tariff._price_by_minute
    total = 0
    period_end_unit = 0
    period = 0
    while period_end_unit < units:
        # units whose start lies in [period * 24 h, (period + 1) * 24 h) from entry
        first = period_end_unit
        period_end_unit = min(units, math.ceil((period + 1) * 86400 / unit_s))
        subtotal = 0
        for k in range(first, period_end_unit):
            subtotal += prices[((base + k * unit_s) % 86400) // 60]
        if tariff.daily_cap_fen is not None:
            subtotal = min(subtotal, tariff.daily_cap_fen)
        total += subtotal
        period += 1
    return total


def price_fen_per_hour(tariff: Tariff, at: datetime) -> int:
    """The units starting within the hour from ``at`` at their band prices (no free time, no cap)."""
    _aware(at, "at")
    step = timedelta(minutes=tariff.unit_minutes)
    count = math.ceil(60 / tariff.unit_minutes)
    return sum(tariff.unit_fen_at(at + k * step) for k in range(count))
