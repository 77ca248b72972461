"""Off-peak sharing: when a private space is open to the public.

A window is a weekly pattern in Asia/Shanghai local time (0 = Monday). A window whose end is not
after its start crosses midnight and ends the next day. Windows that touch (Mon 19:00-24:00 and
Tue 00:00-08:00) join into one opening, so a booking may span them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from parking.lots.tariff import SHANGHAI


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def openings(
    windows: Sequence[Mapping[str, Any]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Merged local-time openings of the windows that overlap ``[start, end)`` (aware datetimes)."""
    local_start = start.astimezone(SHANGHAI)
    local_end = end.astimezone(SHANGHAI)
    first_day = (local_start - timedelta(days=1)).date()
    last_day = local_end.date()
    spans: list[tuple[datetime, datetime]] = []
    day = first_day
    while day <= last_day:
        midnight = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        for window in windows:
            if day.weekday() not in window["days"]:
                continue
            s, e = _minutes(window["start"]), _minutes(window["end"])
            if e <= s:
                e += 24 * 60
            spans.append((midnight + timedelta(minutes=s), midnight + timedelta(minutes=e)))
        day += timedelta(days=1)
    return _merge(spans)


def _merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def covers(windows: Sequence[Mapping[str, Any]], start: datetime, end: datetime) -> bool:
    """True when one opening contains the whole ``[start, end)``."""
    return any(s <= start and end <= e for s, e in openings(windows, start, end))


def open_at(windows: Sequence[Mapping[str, Any]], at: datetime) -> bool:
    return any(s <= at < e for s, e in openings(windows, at, at))
