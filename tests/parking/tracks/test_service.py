"""The tracks room's rules that need no database: when a fix happened."""

from __future__ import annotations

from datetime import UTC, datetime

from gnss.fixes import PositionFix
from parking.tracks.service import fix_time


def _fix(tod: float, time: datetime | None = None) -> PositionFix:
    return PositionFix(
        tod=tod,
        time=time,
        lat=31.3,
        lon=121.5,
        height=5.0,
        quality=4,
        satellites=20,
        hdop=0.7,
        age_diff=1.0,
        station_id="1",
    )


def test_a_fix_without_a_date_takes_the_day_that_puts_it_nearest_now() -> None:
    now = datetime(2026, 12, 6, 0, 5, tzinfo=UTC)
    # 23:59 UTC is yesterday's, six minutes ago - not tonight's, almost a day ahead
    assert fix_time(_fix(86_340.0), now) == datetime(2026, 12, 5, 23, 59, tzinfo=UTC)
    assert fix_time(_fix(240.0), now) == datetime(2026, 12, 6, 0, 4, tzinfo=UTC)
    dated = datetime(2020, 3, 18, 13, 39, 1, tzinfo=UTC)
    assert fix_time(_fix(0.0, dated), now) == dated  # a stream that told its date keeps it
