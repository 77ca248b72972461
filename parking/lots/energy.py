"""The energy part of a lot's tariff: fen per kWh by Asia/Shanghai time band, and an idle fee.

Semantics (the contract with operators, in the tariff's ``energy`` block):

* ``bands`` tile the day like the parking bands; energy delivered between two meter readings is
  spread evenly over the time between them, and each part costs the ``fen_per_kwh`` of the band
  it falls in (a charge across 22:00 pays the day rate before and the night rate after);
* the charge's energy fee is rounded down to the fen once, at the end (in the driver's favour);
* charging ends at the first reading at which the meter shows its final value; from then until
  the transaction stops the car only occupies the charger: after ``idle_grace_min`` minutes, each
  started minute costs ``idle_fen_per_min``.

Readings may arrive in any order and more than once: they are sorted by time, and a reading
lower than an earlier one (a meter cannot run backwards) is held at the earlier value.
Nothing here knows about HTTP, storage or OCPP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import Invalid

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_MIN = 24 * 60
_FIELDS = frozenset({"bands", "idle_fen_per_min", "idle_grace_min"})
_BAND_FIELDS = frozenset({"start", "end", "fen_per_kwh"})
_US = timedelta(microseconds=1)


def _refuse(detail: str) -> Invalid:
    return Invalid(detail, code="invalid_tariff")


def _int(value: object, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(f"tariff energy.{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        raise _refuse(f"tariff energy.{name} out of range: {value}")
    return value


def _hhmm(value: object, name: str) -> int:
    if (
        not isinstance(value, str)
        or len(value) != 5
        or value[2] != ":"
        or not value.replace(":", "").isdigit()
    ):
        raise _refuse(f"tariff energy.{name} must be a time 'HH:MM', got {value!r}")
    minutes = int(value[:2]) * 60 + int(value[3:])
    if int(value[3:]) > 59 or minutes > DAY_MIN:
        raise _refuse(f"tariff energy.{name} must be within 00:00..24:00, got {value!r}")
    return minutes


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class EnergyBand:
    start_min: int
    end_min: int  # not after start: the band crosses midnight; equal: the whole day
    fen_per_kwh: int

    def contains(self, minute: int) -> bool:
        start, end = self.start_min, self.end_min % DAY_MIN
        if start == end:
            return True
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end


@dataclass(frozen=True, slots=True)
class EnergyTariff:
    bands: tuple[EnergyBand, ...]
    idle_fen_per_min: int = 0
    idle_grace_min: int = 0
    _prices: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owner: list[int | None] = [None] * DAY_MIN
        for band in self.bands:
            for minute in range(DAY_MIN):
                if band.contains(minute):
                    if owner[minute] is not None:
                        raise _refuse(f"tariff energy bands overlap at {_fmt(minute)}")
                    owner[minute] = band.fen_per_kwh
        missing = [m for m, p in enumerate(owner) if p is None]
        if missing:
            raise _refuse(f"tariff energy bands leave {_fmt(missing[0])} uncovered")
        object.__setattr__(self, "_prices", tuple(p for p in owner if p is not None))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnergyTariff:
        if not isinstance(data, Mapping):
            raise _refuse("tariff energy must be an object")
        unknown = set(data) - _FIELDS
        if unknown:
            raise _refuse(f"unknown tariff energy fields: {', '.join(sorted(map(str, unknown)))}")
        raw_bands = data.get("bands")
        if not isinstance(raw_bands, list | tuple) or not raw_bands:
            raise _refuse("tariff energy needs a non-empty list of bands")
        bands = []
        for i, raw in enumerate(raw_bands):
            if not isinstance(raw, Mapping) or set(raw) - _BAND_FIELDS:
                raise _refuse(f"tariff energy.bands[{i}] is an object of start, end and fen_per_kwh")
            start = _hhmm(raw.get("start"), f"bands[{i}].start")
            if start == DAY_MIN:
                raise _refuse(f"tariff energy.bands[{i}].start must be before 24:00")
            bands.append(
                EnergyBand(
                    start_min=start,
                    end_min=_hhmm(raw.get("end"), f"bands[{i}].end"),
                    fen_per_kwh=_int(raw.get("fen_per_kwh"), f"bands[{i}].fen_per_kwh", low=0, high=100_000),
                )
            )
        return cls(
            bands=tuple(bands),
            idle_fen_per_min=_int(data.get("idle_fen_per_min", 0), "idle_fen_per_min", low=0, high=100_000),
            idle_grace_min=_int(data.get("idle_grace_min", 0), "idle_grace_min", low=0, high=DAY_MIN),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "bands": [
                {"start": _fmt(b.start_min), "end": _fmt(b.end_min), "fen_per_kwh": b.fen_per_kwh}
                for b in self.bands
            ],
            "idle_fen_per_min": self.idle_fen_per_min,
            "idle_grace_min": self.idle_grace_min,
        }

    def fen_per_kwh_at(self, at: datetime) -> int:
        local = at.astimezone(SHANGHAI)
        return self._prices[local.hour * 60 + local.minute]


@dataclass(frozen=True, slots=True)
class ChargeBill:
    energy_wh: int
    energy_fee_fen: int
    idle_minutes: int  # billed idle minutes (after the grace)
    idle_fee_fen: int
    charge_end: datetime  # when the meter reached its final value

    @property
    def fee_fen(self) -> int:
        return self.energy_fee_fen + self.idle_fee_fen


def readings_curve(
    start: datetime, meter_start_wh: int, readings: Iterable[tuple[datetime, int]]
) -> list[tuple[datetime, int]]:
    """The meter as a non-decreasing curve from the start: one value per instant (the highest
    given), readings before the start dropped, a reading below an earlier one held level."""
    by_ts: dict[datetime, int] = {start: meter_start_wh}
    for ts, wh in readings:
        if ts < start:
            continue
        by_ts[ts] = max(by_ts.get(ts, wh), wh)
    curve: list[tuple[datetime, int]] = []
    level = meter_start_wh
    for ts in sorted(by_ts):
        level = max(level, by_ts[ts])
        curve.append((ts, level))
    return curve


def _energy_fee(tariff: EnergyTariff, curve: Sequence[tuple[datetime, int]]) -> Fraction:
    """Fen (exact) for the energy of the curve, each interval spread evenly over its time."""
    total = Fraction(0)
    prices = tariff._prices
    for (t0, w0), (t1, w1) in pairwise(curve):
        energy = w1 - w0
        if energy <= 0:
            continue
        span_us = (t1 - t0) // _US
        cursor = t0
        while cursor < t1:
            local = cursor.astimezone(SHANGHAI)
            minute = local.hour * 60 + local.minute
            price = prices[minute]
            # the end of this run of equally priced minutes (at most a day ahead)
            edge = cursor.replace(second=0, microsecond=0) + timedelta(minutes=1)
            steps = 1
            while edge < t1 and steps < DAY_MIN and prices[(minute + steps) % DAY_MIN] == price:
                edge += timedelta(minutes=1)
                steps += 1
            piece_end = min(edge, t1)
            share = Fraction((piece_end - cursor) // _US, span_us)
            total += energy * share * price / 1000
            cursor = piece_end
    return total


def bill(
    tariff: EnergyTariff,
    start: datetime,
    stop: datetime,
    meter_start_wh: int,
    meter_stop_wh: int,
    readings: Iterable[tuple[datetime, int]],
) -> ChargeBill:
    """What a charge from ``start`` to ``stop`` costs, from its meter readings (Wh, register)."""
    if start.tzinfo is None or stop.tzinfo is None:
        raise Invalid("charge times must be timezone-aware", code="naive_datetime")
    start, stop = start.astimezone(UTC), stop.astimezone(UTC)
    stop = max(stop, start)
    inside = [(ts.astimezone(UTC), wh) for ts, wh in readings if ts.astimezone(UTC) <= stop]
    curve = readings_curve(start, meter_start_wh, [*inside, (stop, meter_stop_wh)])
    final = curve[-1][1]
    charge_end = next(ts for ts, wh in curve if wh == final)
    if final == meter_start_wh:
        charge_end = start  # nothing delivered: the whole connection was idle
    energy_fen = _energy_fee(tariff, curve)
    idle = stop - charge_end - timedelta(minutes=tariff.idle_grace_min)
    idle_minutes = 0 if idle <= timedelta(0) else -(-idle // timedelta(minutes=1))
    return ChargeBill(
        energy_wh=final - meter_start_wh,
        energy_fee_fen=int(energy_fen),  # floor: the driver never pays a part of a fen
        idle_minutes=idle_minutes,
        idle_fee_fen=idle_minutes * tariff.idle_fen_per_min,
        charge_end=charge_end,
    )
