"""Off-peak sharing windows: weekly patterns in Shanghai time, crossing midnight, joining."""

from __future__ import annotations

from datetime import datetime

from parking.lots.sharing import covers, open_at, openings


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


# 2026-03-02 is a Monday (weekday 0)
WEEKDAYS = {"days": [0, 1, 2, 3, 4], "start": "08:30", "end": "17:30"}
WEEKEND_NIGHTS = {"days": [5, 6], "start": "20:00", "end": "08:00"}


def test_shared_windows() -> None:
    windows = [WEEKDAYS, WEEKEND_NIGHTS]
    assert covers(windows, sh("2026-03-02T09:00"), sh("2026-03-02T17:30"))
    assert not covers(windows, sh("2026-03-02T08:00"), sh("2026-03-02T09:00"))
    # Saturday 22:00 -> Sunday 07:00 lies in the overnight window that starts on Saturday
    assert covers(windows, sh("2026-03-07T22:00"), sh("2026-03-08T07:00"))
    # Sunday 20:00 -> Monday 08:00 continues into Monday morning (window of Sunday), but not to 09:00
    assert covers(windows, sh("2026-03-08T21:00"), sh("2026-03-09T08:00"))
    assert not covers(windows, sh("2026-03-08T21:00"), sh("2026-03-09T09:00"))
    assert open_at(windows, sh("2026-03-03T12:00")) and not open_at(windows, sh("2026-03-03T18:00"))


def test_touching_windows_join() -> None:
    evening = {"days": [0], "start": "19:00", "end": "24:00"}
    morning = {"days": [1], "start": "00:00", "end": "07:00"}
    assert covers([evening, morning], sh("2026-03-02T22:00"), sh("2026-03-03T02:00"))
    spans = openings([evening, morning], sh("2026-03-02T20:00"), sh("2026-03-03T01:00"))
    assert spans == [(sh("2026-03-02T19:00"), sh("2026-03-03T07:00"))]
