"""The tariff contract, case by case, with every expected fee worked out by hand.

Tariff used unless stated: 15 free minutes; 30-minute units; 08:00-20:00 at 500 fen a unit,
20:00-08:00 at 200 fen; at most 6000 fen per 24 hours counted from entry. Times are Shanghai
wall-clock (UTC+8).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import Invalid
from parking.tariff import Band, Tariff, fee_fen, price_fen_per_hour

T = Tariff.from_dict(
    {
        "free_minutes": 15,
        "unit_minutes": 30,
        "bands": [
            {"start": "08:00", "end": "20:00", "unit_fen": 500},
            {"start": "20:00", "end": "08:00", "unit_fen": 200},
        ],
        "daily_cap_fen": 6000,
    }
)


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


@pytest.mark.parametrize(
    ("entry", "exit", "expected"),
    [
        # exactly the free 15 minutes -> 0
        ("2026-03-02T09:00", "2026-03-02T09:15", 0),
        # 16 minutes -> charged from entry: 1 unit starting 09:00 (day) -> 500
        ("2026-03-02T09:00", "2026-03-02T09:16", 500),
        # 70 minutes -> 3 units (09:00, 09:30, 10:00), the last partial counts whole: 3 x 500 = 1500
        ("2026-03-02T09:00", "2026-03-02T10:10", 1500),
        # units straddling 20:00: starts 19:15 and 19:45 are day (2 x 500), 20:15 night (200) -> 1200
        ("2026-03-02T19:15", "2026-03-02T20:30", 1200),
        # unit starting 19:59 is priced by its start (day) even though it runs into the night: 500
        ("2026-03-02T19:59", "2026-03-02T20:29", 500),
        # crossing midnight at night rate: 23:00 -> 01:00 = 4 units x 200 = 800
        ("2026-03-02T23:00", "2026-03-03T01:00", 800),
        # 07:00 -> 09:00: starts 07:00, 07:30 night (2 x 200) + 08:00, 08:30 day (2 x 500) = 1400
        ("2026-03-02T07:00", "2026-03-02T09:00", 1400),
        # a whole day 08:00 -> 08:00 would be 24 x 500 + 24 x 200 = 16800, capped at 6000
        ("2026-03-02T08:00", "2026-03-03T08:00", 6000),
        # 24 h + 1 min: period 1 capped at 6000; period 2 holds one unit starting 08:00 next day (500)
        ("2026-03-02T08:00", "2026-03-03T08:01", 6500),
        # 50 hours from 09:00: periods 1 and 2 capped (2 x 6000); period 3 = 09:00-11:00 day,
        # 4 units x 500 = 2000 -> 14000
        ("2026-03-02T09:00", "2026-03-04T11:00", 14000),
        # 30 h from 20:00: period 1 capped 6000; period 2 = 20:00-02:00 night, 12 units x 200 = 2400
        ("2026-03-02T20:00", "2026-03-04T02:00", 8400),
    ],
)
def test_fee_cases(entry: str, exit: str, expected: int) -> None:
    assert fee_fen(T, sh(entry), sh(exit)) == expected


def test_zone_of_the_input_does_not_matter() -> None:
    # 01:00 UTC is 09:00 in Shanghai; 70 minutes from there -> 3 day units = 1500, as above
    entry_utc = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    entry_ny = entry_utc.astimezone(timezone(timedelta(hours=-5)))
    exit_utc = entry_utc + timedelta(minutes=70)
    assert fee_fen(T, entry_utc, exit_utc) == 1500
    assert fee_fen(T, entry_ny, exit_utc) == 1500


def test_no_cap_and_whole_day_band() -> None:
    flat = Tariff.from_dict(
        {
            "free_minutes": 0,
            "unit_minutes": 60,
            "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 300}],
        }
    )
    # 49 hours, no free time, no cap: 49 units x 300 = 14700
    assert fee_fen(flat, sh("2026-03-02T10:00"), sh("2026-03-04T11:00")) == 14700
    # a 1-second stay with no free minutes is one started unit: 300
    assert fee_fen(flat, sh("2026-03-02T10:00"), sh("2026-03-02T10:00") + timedelta(seconds=1)) == 300
    assert fee_fen(flat, sh("2026-03-02T10:00"), sh("2026-03-02T10:00")) == 0


def test_price_per_hour() -> None:
    assert price_fen_per_hour(T, sh("2026-03-02T10:00")) == 1000  # 2 x 500
    assert price_fen_per_hour(T, sh("2026-03-02T19:30")) == 700  # 19:30 at 500 + 20:00 at 200
    assert price_fen_per_hour(T, sh("2026-03-02T23:00")) == 400  # 2 x 200


def test_invalid_inputs() -> None:
    with pytest.raises(Invalid):
        fee_fen(T, datetime(2026, 3, 2, 9), sh("2026-03-02T10:00"))  # naive
    with pytest.raises(Invalid):
        fee_fen(T, sh("2026-03-02T10:00"), sh("2026-03-02T09:00"))  # exit before entry


@pytest.mark.parametrize(
    "bad",
    [
        {"unit_minutes": 0, "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 1}]},
        {"unit_minutes": True, "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 1}]},
        {"unit_minutes": 30, "bands": []},
        {"unit_minutes": 30, "bands": [{"start": "8:00", "end": "20:00", "unit_fen": 1}]},
        {"unit_minutes": 30, "bands": [{"start": "08:00", "end": "25:00", "unit_fen": 1}]},
        {"unit_minutes": 30, "bands": [{"start": "08:00", "end": "20:00", "unit_fen": 1}]},  # gap
        {
            "unit_minutes": 30,
            "bands": [
                {"start": "08:00", "end": "21:00", "unit_fen": 1},
                {"start": "20:00", "end": "08:00", "unit_fen": 1},
            ],
        },  # overlap 20:00-21:00
        {"unit_minutes": 30, "bands": [{"start": "00:00", "end": "00:00", "unit_fen": -1}]},
        {
            "unit_minutes": 30,
            "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 1}],
            "daily_cap_fen": 1.5,
        },
        {"unit_minutes": 30, "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 1}], "surprise": 1},
    ],
)
def test_invalid_tariffs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(Invalid):
        Tariff.from_dict(bad)


def test_round_trip_and_band_wrap() -> None:
    assert Tariff.from_dict(T.to_dict()) == T
    assert T.to_dict()["bands"][1] == {"start": "20:00", "end": "08:00", "unit_fen": 200}
    night = Band(20 * 60, 8 * 60, 200)
    assert night.contains(23 * 60) and night.contains(0) and not night.contains(12 * 60)
    end_of_day = Tariff.from_dict(
        {
            "unit_minutes": 60,
            "bands": [
                {"start": "00:00", "end": "12:00", "unit_fen": 1},
                {"start": "12:00", "end": "24:00", "unit_fen": 2},
            ],
        }
    )
    assert end_of_day.unit_fen_at(sh("2026-03-02T23:59")) == 2


stays = st.tuples(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=6 * 24 * 60),
    st.integers(min_value=0, max_value=600),
)


@given(stays)
def test_fee_is_monotone_and_bounded_by_the_caps(stay: tuple[datetime, int, int]) -> None:
    entry, minutes, extra = stay
    exit = entry + timedelta(minutes=minutes)
    fee = fee_fen(T, entry, exit)
    assert fee <= fee_fen(T, entry, exit + timedelta(minutes=extra))
    periods = max(1, -(-minutes // (24 * 60)))
    assert 0 <= fee <= periods * 6000
