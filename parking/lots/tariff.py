"""Parking tariffs: free minutes, fixed-length units priced by time-of-day band, a daily cap.

Semantics (the contract with operators, who publish tariffs in this JSON form):

* a stay of at most ``free_minutes`` costs nothing; a longer one is cut into ``unit_minutes``
  units from the entry instant (free minutes are not deducted, a last partial unit counts whole);
* each unit costs the ``unit_fen`` of the band holding the unit's *start* in Asia/Shanghai wall-clock
  time, because that is what the price board at the gate shows;
* the units starting within each 24-hour period counted from entry are capped at ``daily_cap_fen``,
  counted from entry rather than from midnight so that a stay cannot be charged two caps in one day.

Money is integer fen throughout so that sums never drift. Nothing here knows about HTTP or storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import Invalid
from parking.lots.energy import EnergyTariff

__all__ = ["SHANGHAI", "Band", "Tariff", "fee_fen", "price_fen_per_hour", "tariff_of", "validated"]

SHANGHAI = ZoneInfo("Asia/Shanghai")

DAY_MIN = 24 * 60
DAY_S = DAY_MIN * 60
_FIELDS = frozenset({"free_minutes", "unit_minutes", "bands", "daily_cap_fen", "cancellation", "energy"})
_CANCEL_FIELDS = frozenset({"free_until_min", "fee_pct"})
_BAND_FIELDS = frozenset({"start", "end", "unit_fen"})


def _refuse(detail: str) -> Invalid:
    return Invalid(detail, code="invalid_tariff")


def _int(value: object, name: str, *, low: int, high: int | None = None) -> int:
    # bool is a subclass of int, but ``true`` in a tariff is always a mistake, never a price
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(f"tariff {name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _refuse(f"tariff {name} must be {bound}, got {value}")
    return value


def _hhmm(value: object, name: str, *, allow_24: bool) -> int:
    # strict "HH:MM" so that "8:00" or "08:00:00" cannot mean something the operator did not intend
    if (
        not isinstance(value, str)
        or len(value) != 5
        or value[2] != ":"
        or not (value[:2] + value[3:]).isascii()
        or not (value[:2] + value[3:]).isdigit()
    ):
        raise _refuse(f"tariff {name} must be a time 'HH:MM', got {value!r}")
    hours, minutes = int(value[:2]), int(value[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes != 0 or not allow_24)):
        allowed = "00:00..23:59 or 24:00" if allow_24 else "00:00..23:59"
        raise _refuse(f"tariff {name} must be within {allowed}, got {value!r}")
    return hours * 60 + minutes


def _fmt(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


@dataclass(frozen=True, slots=True)
class Band:
    """A daily price band [start, end) in local minutes after midnight.

    ``end <= start`` wraps past midnight (20:00-08:00) so night rates need one band, not two;
    ``end == start`` covers the whole day, the natural spelling of a flat rate. ``end`` may be
    1440 ("24:00") so a band can run to the end of the day without wrapping.
    """

    start_min: int
    end_min: int
    unit_fen: int

    def __post_init__(self) -> None:
        _int(self.start_min, "band start", low=0, high=DAY_MIN - 1)
        _int(self.end_min, "band end", low=0, high=DAY_MIN)
        _int(self.unit_fen, "band unit_fen", low=0)

    def contains(self, minute_of_day: int) -> bool:
        start, end = self.start_min, self.end_min % DAY_MIN
        if start == end:
            return True
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


def _label(band: Band) -> str:
    return f"{_fmt(band.start_min)}-{_fmt(band.end_min)}"


def _minute_prices(bands: tuple[Band, ...]) -> tuple[int, ...]:
    """Price of a unit starting in each minute of the day.

    Building the table once both proves that the bands tile the day exactly (so every unit start
    has one and only one price) and makes pricing a unit a single index.
    """
    if not bands:
        raise _refuse("tariff needs at least one band")
    owner: list[Band | None] = [None] * DAY_MIN
    for band in bands:
        for minute in range(DAY_MIN):
            if band.contains(minute):
                other = owner[minute]
                if other is not None:
                    raise _refuse(
                        f"tariff bands {_label(other)} and {_label(band)} overlap at {_fmt(minute)}"
                    )
                owner[minute] = band
    prices: list[int] = []
    for minute, covering in enumerate(owner):
        if covering is None:
            raise _refuse(f"tariff bands leave {_fmt(minute)} uncovered; they must cover the whole day")
        prices.append(covering.unit_fen)
    return tuple(prices)


@dataclass(frozen=True, slots=True)
class Tariff:
    """A lot's validated tariff; constructing one that breaks the contract raises ``Invalid``."""

    free_minutes: int
    unit_minutes: int
    bands: tuple[Band, ...]
    daily_cap_fen: int | None
    # cancelling a booking: free until this many minutes before its start, then this % of its price
    cancel_free_until_min: int = 0
    cancel_fee_pct: int = 100
    # charging at the lot's chargers (fen per kWh by band, idle fee): see parking.lots.energy
    energy: EnergyTariff | None = None
    # derived from ``bands``; kept out of init, eq and hash so the public shape stays the four fields
    _prices: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _int(self.free_minutes, "free_minutes", low=0)
        _int(self.unit_minutes, "unit_minutes", low=1, high=DAY_MIN)
        if self.daily_cap_fen is not None:
            _int(self.daily_cap_fen, "daily_cap_fen", low=0)
        _int(self.cancel_free_until_min, "cancellation.free_until_min", low=0, high=7 * DAY_MIN)
        _int(self.cancel_fee_pct, "cancellation.fee_pct", low=0, high=100)
        if not isinstance(self.bands, tuple) or not all(isinstance(b, Band) for b in self.bands):
            raise _refuse("tariff bands must be a tuple of Band")
        object.__setattr__(self, "_prices", _minute_prices(self.bands))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tariff:
        """Parse the operator-facing JSON form.

        Unknown keys are refused rather than ignored: a misspelt ``daily_cap`` silently dropped
        would leave a lot uncapped. ``free_minutes`` and ``daily_cap_fen`` may be omitted (no free
        time, no cap).
        """
        if not isinstance(data, Mapping):
            raise _refuse("tariff must be an object")
        unknown = set(data) - _FIELDS
        if unknown:
            raise _refuse(f"unknown tariff fields: {', '.join(sorted(map(str, unknown)))}")
        if "unit_minutes" not in data:
            raise _refuse("tariff unit_minutes is required")
        bands_raw = data.get("bands")
        if not isinstance(bands_raw, list | tuple) or not bands_raw:
            raise _refuse("tariff needs a non-empty list of bands")
        bands: list[Band] = []
        for i, raw in enumerate(bands_raw):
            if not isinstance(raw, Mapping):
                raise _refuse(f"tariff bands[{i}] must be an object")
            extra = set(raw) - _BAND_FIELDS
            if extra:
                raise _refuse(f"unknown fields in tariff bands[{i}]: {', '.join(sorted(map(str, extra)))}")
            bands.append(
                Band(
                    start_min=_hhmm(raw.get("start"), f"bands[{i}].start", allow_24=False),
                    end_min=_hhmm(raw.get("end"), f"bands[{i}].end", allow_24=True),
                    unit_fen=_int(raw.get("unit_fen"), f"bands[{i}].unit_fen", low=0),
                )
            )
        cap = data.get("daily_cap_fen")
        cancel = data.get("cancellation") or {}
        if not isinstance(cancel, Mapping) or set(cancel) - _CANCEL_FIELDS:
            raise _refuse("tariff cancellation is an object of free_until_min and fee_pct")
        return cls(
            free_minutes=_int(data.get("free_minutes", 0), "free_minutes", low=0),
            unit_minutes=_int(data["unit_minutes"], "unit_minutes", low=1, high=DAY_MIN),
            bands=tuple(bands),
            daily_cap_fen=None if cap is None else _int(cap, "daily_cap_fen", low=0),
            cancel_free_until_min=_int(cancel.get("free_until_min", 0), "cancellation.free_until_min", low=0),
            cancel_fee_pct=_int(cancel.get("fee_pct", 100), "cancellation.fee_pct", low=0, high=100),
            energy=None if data.get("energy") is None else EnergyTariff.from_dict(data["energy"]),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "free_minutes": self.free_minutes,
            "unit_minutes": self.unit_minutes,
            "bands": [
                {"start": _fmt(b.start_min), "end": _fmt(b.end_min), "unit_fen": b.unit_fen}
                for b in self.bands
            ],
            "daily_cap_fen": self.daily_cap_fen,
            "cancellation": {"free_until_min": self.cancel_free_until_min, "fee_pct": self.cancel_fee_pct},
        }
        if self.energy is not None:  # absent rather than null: lots without chargers keep their form
            data["energy"] = self.energy.to_dict()
        return data

    def cancel_fee_fen(self, price_fen: int, start: datetime, at: datetime) -> int:
        """What cancelling a booking of ``price_fen`` starting at ``start`` costs at ``at``: nothing
        until ``free_until_min`` before the start, then ``fee_pct`` of the price (rounded down to
        the fen, in the driver's favour)."""
        if at < start - timedelta(minutes=self.cancel_free_until_min):
            return 0
        return price_fen * self.cancel_fee_pct // 100

    def unit_fen_at(self, at: datetime) -> int:
        local = _utc(at, "at").astimezone(SHANGHAI)
        return self._prices[local.hour * 60 + local.minute]


def _utc(value: datetime, name: str) -> datetime:
    # a naive time could be UTC or Shanghai depending on who wrote it: an 8-hour price error
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(f"{name} must be a timezone-aware datetime", code="naive_datetime")
    # in UTC, subtraction and ``+ timedelta`` measure elapsed time even when the caller's zone has
    # daylight saving (same-zone aware arithmetic in Python is wall-clock arithmetic)
    return value.astimezone(UTC)


def _local_second_of_day(instant: datetime) -> int:
    local = instant.astimezone(SHANGHAI)
    return local.hour * 3600 + local.minute * 60 + local.second


def fee_fen(tariff: Tariff, entry: datetime, exit: datetime) -> int:
    """What a stay from ``entry`` to ``exit`` costs, in fen.

    Work is done per 24-hour period: within a period the Shanghai UTC offset is checked to be
    constant (it has been +08:00 since 1991), so the local minute of each unit start is plain
    integer arithmetic from the period's first unit, and a period whose units start at the same
    local times as an earlier one reuses its sum. A month of one-minute units therefore costs
    roughly one day's worth of additions. Periods where the offset does change (historic daylight
    saving) fall back to converting every unit start.
    """
    start = _utc(entry, "entry")
    end = _utc(exit, "exit")
    if end < start:
        raise Invalid("exit is before entry", code="exit_before_entry")
    stay = end - start
    if stay <= timedelta(minutes=tariff.free_minutes):
        return 0
    unit = timedelta(minutes=tariff.unit_minutes)
    unit_s = tariff.unit_minutes * 60
    units = -(-stay // unit)  # a started unit counts whole
    prices = tariff._prices
    cap = tariff.daily_cap_fen
    sums: dict[tuple[int, int], int] = {}
    total = 0
    first = 0
    period = 0
    while first < units:
        # unit k starts k * unit_s seconds after entry, so period p holds k in [ceil(p*D/u), ceil((p+1)*D/u))
        stop = min(units, -(-(period + 1) * DAY_S // unit_s))
        first_start = start + first * unit
        last_start = start + (stop - 1) * unit
        if first_start.astimezone(SHANGHAI).utcoffset() == last_start.astimezone(SHANGHAI).utcoffset():
            key = (_local_second_of_day(first_start), stop - first)
            subtotal = sums.get(key)
            if subtotal is None:
                second0, count = key
                subtotal = sums[key] = sum(prices[(second0 + j * unit_s) % DAY_S // 60] for j in range(count))
        else:
            subtotal = sum(prices[_local_second_of_day(start + k * unit) // 60] for k in range(first, stop))
        total += subtotal if cap is None else min(subtotal, cap)
        first = stop
        period += 1
    return total


def price_fen_per_hour(tariff: Tariff, at: datetime) -> int:
    """The units starting within [at, at + 60 min) at their band prices.

    This is the "price per hour if you arrive now" shown in search results: free minutes and the
    daily cap are left out because they depend on how long the driver stays, which search does not
    know. With units longer than an hour this is the price of the one unit that starts at ``at``.
    """
    start = _utc(at, "at")
    unit = timedelta(minutes=tariff.unit_minutes)
    count = -(-60 // tariff.unit_minutes)
    return sum(tariff.unit_fen_at(start + k * unit) for k in range(count))


@lru_cache(maxsize=1024)
def _from_items(
    items: tuple[tuple[str, object], ...],
    bands: tuple[tuple[str, str, int], ...],
    cancellation: tuple[tuple[str, object], ...],
    energy: str | None = None,
) -> Tariff:
    data = dict(items)
    if energy is not None:
        data["energy"] = json.loads(energy)
    data["bands"] = [{"start": s, "end": e, "unit_fen": u} for s, e, u in bands]
    if cancellation:
        data["cancellation"] = dict(cancellation)
    return Tariff.from_dict(data)


def tariff_of(raw: Mapping[str, Any]) -> Tariff:
    """A stored tariff, parsed once per distinct tariff rather than on every request."""
    bands = tuple((b["start"], b["end"], int(b["unit_fen"])) for b in raw["bands"])
    items = tuple(sorted((k, v) for k, v in raw.items() if k not in ("bands", "cancellation", "energy")))
    cancellation = tuple(sorted((raw.get("cancellation") or {}).items()))
    energy = raw.get("energy")
    return _from_items(
        items, bands, cancellation, None if energy is None else json.dumps(energy, sort_keys=True)
    )


def validated(data: Mapping[str, Any]) -> dict[str, Any]:
    """An operator's tariff, checked and in its canonical form (what is stored)."""
    return Tariff.from_dict(data).to_dict()
