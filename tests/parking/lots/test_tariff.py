"""The tariff contract, case by case, with every expected fee worked out by hand next to it.

Tariff ``T`` unless stated: 15 free minutes; 30-minute units; 08:00-20:00 at 500 fen a unit,
20:00-08:00 at 200 fen a unit; at most 6000 fen per 24 hours counted from entry. Times in the
cases are Shanghai wall-clock (UTC+8). A full 24-hour period of ``T`` holds 24 day units and
24 night units: 24 x 500 + 24 x 200 = 16800, so any full period is capped to 6000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import Invalid
from parking.demo import CENTRE_TARIFF
from parking.lots.tariff import SHANGHAI, Band, Tariff, fee_fen, price_fen_per_hour

T_JSON = CENTRE_TARIFF  # the demo's tariff: one definition for demo, tests and benchmarks
T = Tariff.from_dict(T_JSON)
FLAT = {"start": "00:00", "end": "00:00", "unit_fen": 100}


def sh(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. ``sh("2026-03-02 09:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def tariff(**changes: Any) -> Tariff:
    return Tariff.from_dict({**T_JSON, **changes})


# --- fees ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "exit", "expected"),
    [
        # 09:00-09:15 = exactly the 15 free minutes -> 0
        pytest.param("2026-03-02 09:00", "2026-03-02 09:15", 0, id="exactly-free-minutes"),
        # 09:00-09:16 = 16 min > 15, charged from entry (free minutes not deducted):
        # 1 unit starting 09:00, day band -> 500
        pytest.param("2026-03-02 09:00", "2026-03-02 09:16", 500, id="one-minute-past-free"),
        # 09:00-09:30 = 30 min -> exactly 1 unit (09:00) at 500 -> 500
        pytest.param("2026-03-02 09:00", "2026-03-02 09:30", 500, id="exactly-one-unit"),
        # 09:00-09:30:01 = 30 min 1 s -> 2 units (09:00, 09:30), the 1-second one counts whole: 2 x 500 = 1000
        pytest.param("2026-03-02 09:00", "2026-03-02 09:30:01", 1000, id="one-second-into-next-unit"),
        # 09:00-10:10 = 70 min -> 3 units of 30 min, starting 09:00, 09:30, 10:00,
        # all in the 08:00-20:00 band at 500 -> 1500
        pytest.param("2026-03-02 09:00", "2026-03-02 10:10", 1500, id="partial-last-unit"),
        # 19:15-20:40 = 85 min -> 3 units: 19:15 day 500, 19:45 day 500 (runs to 20:15 but is priced
        # by its start), 20:15 night 200 -> 1200
        pytest.param("2026-03-02 19:15", "2026-03-02 20:40", 1200, id="straddles-20:00"),
        # 07:50-08:30 = 40 min -> 2 units: 07:50 night 200, 08:20 day 500 -> 700
        pytest.param("2026-03-02 07:50", "2026-03-02 08:30", 700, id="straddles-08:00"),
        # 23:00-01:30 next day = 150 min -> 5 units 23:00, 23:30, 00:00, 00:30, 01:00, all night: 5 x 200 = 1000
        pytest.param("2026-03-02 23:00", "2026-03-03 01:30", 1000, id="crosses-midnight"),
        # 09:00-14:00 = 5 h -> 10 day units x 500 = 5000, under the 6000 cap -> 5000
        pytest.param("2026-03-02 09:00", "2026-03-02 14:00", 5000, id="under-cap"),
        # 09:00-15:00 = 6 h -> 12 day units x 500 = 6000, exactly the cap -> 6000
        pytest.param("2026-03-02 09:00", "2026-03-02 15:00", 6000, id="at-cap"),
        # 08:00-20:00 = 12 h -> 24 day units x 500 = 12000, capped -> 6000
        pytest.param("2026-03-02 08:00", "2026-03-02 20:00", 6000, id="capped-one-day"),
        # 20:00-08:00 = 12 h -> 24 night units x 200 = 4800, under the cap -> 4800
        pytest.param("2026-03-02 20:00", "2026-03-03 08:00", 4800, id="overnight-under-cap"),
        # 20:00-20:00 next day = one 24 h period spanning two calendar days: 16800 -> one cap, 6000
        pytest.param("2026-03-02 20:00", "2026-03-03 20:00", 6000, id="cap-counted-from-entry"),
        # 08:00 -> 08:01 next day: period 1 [03-02 08:00, 03-03 08:00) = 16800 -> 6000;
        # period 2 holds 1 unit starting 03-03 08:00, day 500 -> 6000 + 500 = 6500
        pytest.param("2026-03-02 08:00", "2026-03-03 08:01", 6500, id="one-unit-into-period-2"),
        # 50 h from 03-02 19:00 to 03-04 21:00 = 100 units.
        # period 1 [03-02 19:00, 03-03 19:00) = 48 units = 16800 -> 6000
        # period 2 [03-03 19:00, 03-04 19:00) = 48 units = 16800 -> 6000
        # period 3 [03-04 19:00, 21:00), unit by unit: 19:00 500 + 19:30 500 + 20:00 200 + 20:30 200 = 1400
        # total 6000 + 6000 + 1400 = 13400
        pytest.param("2026-03-02 19:00", "2026-03-04 21:00", 13400, id="fifty-hours"),
        # 70 h from 03-02 09:00 to 03-05 07:00: periods 1 and 2 full -> 2 x 6000 = 12000;
        # period 3 [03-04 09:00, 03-05 07:00) = 22 h: 09:00-20:00 22 day units x 500 = 11000 plus
        # 20:00-07:00 22 night units x 200 = 4400 -> 15400, capped -> 6000; total 18000
        pytest.param("2026-03-02 09:00", "2026-03-05 07:00", 18000, id="three-periods-all-capped"),
        # exit == entry -> 0
        pytest.param("2026-03-02 09:00", "2026-03-02 09:00", 0, id="zero-length"),
    ],
)
def test_fee(entry: str, exit: str, expected: int) -> None:
    assert fee_fen(T, sh(entry), sh(exit)) == expected


def test_no_free_minutes_no_cap_and_whole_day_band() -> None:
    flat = Tariff.from_dict({"free_minutes": 0, "unit_minutes": 60, "bands": [FLAT]})
    assert flat.daily_cap_fen is None
    # a 1-second stay with no free minutes is 1 started unit -> 100
    assert fee_fen(flat, sh("2026-03-02 10:00"), sh("2026-03-02 10:00:01")) == 100
    # 49 h, no cap -> 49 units x 100 = 4900
    assert fee_fen(flat, sh("2026-03-02 10:00"), sh("2026-03-04 11:00")) == 4900
    # exit == entry is 0 even without free minutes
    assert fee_fen(flat, sh("2026-03-02 10:00"), sh("2026-03-02 10:00")) == 0


def test_units_longer_than_the_day_split_and_odd_unit_lengths() -> None:
    # 45-minute units, 10 free minutes: 19:00-21:00 = 120 min -> 3 units: 19:00 day 500,
    # 19:45 day 500, 20:30 night 200 -> 1200
    t45 = tariff(unit_minutes=45, free_minutes=10)
    assert fee_fen(t45, sh("2026-03-02 19:00"), sh("2026-03-02 21:00")) == 1200
    # 1440-minute units, no cap: 07:00 -> 07:00 + 25 h = 2 units, starting 07:00 (night 200)
    # and 07:00 the next day (night 200) -> 400
    daily = tariff(unit_minutes=1440, daily_cap_fen=None)
    assert fee_fen(daily, sh("2026-03-02 07:00"), sh("2026-03-03 08:00")) == 400


def test_cap_of_zero_makes_parking_free() -> None:
    # every period sums to something, then min(sum, 0) = 0
    assert fee_fen(tariff(daily_cap_fen=0), sh("2026-03-02 09:00"), sh("2026-03-04 09:00")) == 0


def test_zone_of_the_inputs_does_not_matter() -> None:
    # 11:45 UTC = 19:45 Shanghai; 60 min -> 2 units: 19:45 day 500 + 20:15 night 200 = 700
    entry_utc = datetime(2026, 3, 2, 11, 45, tzinfo=UTC)
    exit_utc = entry_utc + timedelta(minutes=60)
    assert fee_fen(T, entry_utc, exit_utc) == 700
    # the same instants written in New York (06:45 EST) and at +05:30
    new_york = ZoneInfo("America/New_York")
    assert fee_fen(T, entry_utc.astimezone(new_york), exit_utc.astimezone(new_york)) == 700
    kolkata = timezone(timedelta(hours=5, minutes=30))
    assert fee_fen(T, entry_utc.astimezone(kolkata), exit_utc) == 700
    assert fee_fen(T, sh("2026-03-02 19:45"), exit_utc.astimezone(new_york)) == 700


def test_elapsed_time_not_wall_clock_in_a_daylight_saving_zone() -> None:
    # New York springs forward on 2026-03-08 at 02:00: 01:30 EST -> 03:30 EDT reads 2 h on the
    # wall but is 60 min elapsed (06:30Z -> 07:30Z = 14:30 -> 15:30 Shanghai):
    # 2 units 14:30, 15:00, day -> 2 x 500 = 1000 (not the 4 units a wall-clock difference would give)
    new_york = ZoneInfo("America/New_York")
    entry = datetime(2026, 3, 8, 1, 30, tzinfo=new_york)
    exit = datetime(2026, 3, 8, 3, 30, tzinfo=new_york)
    assert fee_fen(T, entry, exit) == 1000


def test_historic_shanghai_daylight_saving_is_local_time() -> None:
    # China kept summer time 1986-1991. On 1988-09-11 clocks went back from 02:00 (+09:00) to
    # 01:00 (+08:00), so the 01:00-02:00 local hour happened twice.
    hourly = Tariff.from_dict(
        {
            "unit_minutes": 60,
            "bands": [
                {"start": "01:00", "end": "02:00", "unit_fen": 10},
                {"start": "02:00", "end": "01:00", "unit_fen": 1},
            ],
        }
    )
    # 16:00Z -> 18:00Z: units start 16:00Z = 01:00+09:00 (10) and 17:00Z = 01:00+08:00 (10) -> 20
    entry = datetime(1988, 9, 10, 16, 0, tzinfo=UTC)
    assert fee_fen(hourly, entry, entry + timedelta(hours=2)) == 20
    # in mid-summer 1988, 22:30Z was 07:30+09:00: units 07:30 night 200 and 08:00 day 500 -> 700
    summer = datetime(1988, 6, 30, 22, 30, tzinfo=UTC)
    assert fee_fen(T, summer, summer + timedelta(minutes=60)) == 700


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 9, 0)
    with pytest.raises(Invalid, match="timezone-aware"):
        fee_fen(T, naive, sh("2026-03-02 10:00"))
    with pytest.raises(Invalid, match="timezone-aware"):
        fee_fen(T, sh("2026-03-02 09:00"), naive)
    with pytest.raises(Invalid, match="timezone-aware"):
        price_fen_per_hour(T, naive)
    with pytest.raises(Invalid, match="timezone-aware"):
        T.unit_fen_at(naive)


def test_exit_before_entry_is_refused() -> None:
    with pytest.raises(Invalid, match="before entry") as caught:
        fee_fen(T, sh("2026-03-02 10:00"), sh("2026-03-02 09:59:59"))
    assert caught.value.code == "exit_before_entry"


def test_a_month_of_one_minute_units() -> None:
    # 1-minute units, 10 fen 08:00-20:00, 5 fen otherwise, cap 5000: a full period is
    # 720 x 10 + 720 x 5 = 10800 -> 5000.
    minute = Tariff.from_dict(
        {
            "free_minutes": 0,
            "unit_minutes": 1,
            "bands": [
                {"start": "08:00", "end": "20:00", "unit_fen": 10},
                {"start": "20:00", "end": "08:00", "unit_fen": 5},
            ],
            "daily_cap_fen": 5000,
        }
    )
    entry = sh("2026-03-01 09:00")
    exit = entry + timedelta(days=30, minutes=10)
    # 30 full periods x 5000 = 150000, then period 31 = 10 units from 09:00 x 10 = 100 -> 150100
    assert fee_fen(minute, entry, exit) == 150100
    # without the cap: 30 x 10800 + 100 = 324100
    uncapped = Tariff(minute.free_minutes, minute.unit_minutes, minute.bands, None)
    assert fee_fen(uncapped, entry, exit) == 324100


# --- band prices and price per hour ------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-03-02 07:59", 200),
        ("2026-03-02 08:00", 500),
        ("2026-03-02 19:59:59", 500),
        ("2026-03-02 20:00", 200),
        ("2026-03-02 00:00", 200),
    ],
)
def test_unit_fen_at(at: str, expected: int) -> None:
    assert T.unit_fen_at(sh(at)) == expected


def test_unit_fen_at_any_zone() -> None:
    # 00:30 UTC = 08:30 Shanghai -> day 500; 23:59 UTC on 03-01 = 07:59 Shanghai -> night 200
    assert T.unit_fen_at(datetime(2026, 3, 2, 0, 30, tzinfo=UTC)) == 500
    assert T.unit_fen_at(datetime(2026, 3, 1, 23, 59, tzinfo=UTC)) == 200


def test_price_per_hour() -> None:
    # 10:00: units 10:00 and 10:30, both day -> 2 x 500 = 1000
    assert price_fen_per_hour(T, sh("2026-03-02 10:00")) == 1000
    # 19:30: unit 19:30 day 500 + unit 20:00 night 200 = 700
    assert price_fen_per_hour(T, sh("2026-03-02 19:30")) == 700
    # 23:00: units 23:00 and 23:30, both night -> 2 x 200 = 400
    assert price_fen_per_hour(T, sh("2026-03-02 23:00")) == 400
    # 07:45: unit 07:45 night 200 + unit 08:15 day 500 = 700
    assert price_fen_per_hour(T, sh("2026-03-02 07:45")) == 700
    # the same 19:30 given in UTC (11:30Z) -> 700
    assert price_fen_per_hour(T, datetime(2026, 3, 2, 11, 30, tzinfo=UTC)) == 700


def test_price_per_hour_ignores_free_minutes_and_cap_and_odd_units() -> None:
    # 45-minute units at 19:00: starts 19:00 (500) and 19:45 (500) fall in the hour; 20:30 does not -> 1000
    assert price_fen_per_hour(tariff(unit_minutes=45), sh("2026-03-02 19:00")) == 1000
    # 90-minute units: only the unit at 19:00 starts within the hour -> 500
    assert price_fen_per_hour(tariff(unit_minutes=90), sh("2026-03-02 19:00")) == 500
    # 1-minute units at 19:30: 30 day minutes x 500 + 30 night minutes x 200 = 15000 + 6000 = 21000,
    # above the 6000 cap, which price per hour does not apply
    assert price_fen_per_hour(tariff(unit_minutes=1), sh("2026-03-02 19:30")) == 21000


# --- bands, parsing, validation -----------------------------------------------------------------


def test_band_contains() -> None:
    day = Band(8 * 60, 20 * 60, 500)
    assert day.contains(8 * 60) and day.contains(20 * 60 - 1)
    assert not day.contains(20 * 60) and not day.contains(8 * 60 - 1)
    night = Band(20 * 60, 8 * 60, 200)  # wraps past midnight
    assert night.contains(20 * 60) and night.contains(23 * 60 + 59) and night.contains(0)
    assert night.contains(8 * 60 - 1) and not night.contains(8 * 60) and not night.contains(12 * 60)
    whole = Band(8 * 60, 8 * 60, 300)  # start == end covers the day
    assert all(whole.contains(m) for m in range(24 * 60))
    to_midnight = Band(12 * 60, 24 * 60, 1)  # "24:00" end does not wrap
    assert to_midnight.contains(23 * 60 + 59) and not to_midnight.contains(0)


def test_cancellation_rule() -> None:
    # the centre tariff: free until 60 min before the start, then 50 % rounded down to the fen
    start = sh("2026-03-02 10:00")
    assert T.cancel_fee_fen(1001, start, sh("2026-03-02 08:59")) == 0
    assert T.cancel_fee_fen(1001, start, sh("2026-03-02 09:00")) == 500  # 1001 * 50 // 100
    assert T.cancel_fee_fen(1001, start, sh("2026-03-02 11:00")) == 500
    # a tariff that names no rule: free until the start, the whole price after it
    bare = Tariff.from_dict({k: v for k, v in T_JSON.items() if k != "cancellation"})
    assert bare.cancel_fee_fen(1001, start, sh("2026-03-02 09:59")) == 0
    assert bare.cancel_fee_fen(1001, start, sh("2026-03-02 10:00")) == 1001


def test_round_trip() -> None:
    assert T.to_dict() == T_JSON
    assert Tariff.from_dict(T.to_dict()) == T
    minimal = Tariff.from_dict(
        {
            "unit_minutes": 60,
            "bands": [
                {"start": "00:00", "end": "12:00", "unit_fen": 1},
                {"start": "12:00", "end": "24:00", "unit_fen": 2},
            ],
        }
    )
    # absent free_minutes -> 0, absent cap -> null, absent cancellation -> free until the start
    # and the whole price after it; "24:00" survives the trip
    assert minimal.to_dict() == {
        "free_minutes": 0,
        "unit_minutes": 60,
        "bands": [
            {"start": "00:00", "end": "12:00", "unit_fen": 1},
            {"start": "12:00", "end": "24:00", "unit_fen": 2},
        ],
        "daily_cap_fen": None,
        "cancellation": {"free_until_min": 0, "fee_pct": 100},
    }
    assert Tariff.from_dict(minimal.to_dict()) == minimal
    assert minimal.unit_fen_at(sh("2026-03-02 23:59")) == 2
    assert Tariff.from_dict({**T_JSON, "daily_cap_fen": None}).daily_cap_fen is None


def test_direct_construction_is_validated_too() -> None:
    assert Tariff(15, 30, (Band(480, 1200, 500), Band(1200, 480, 200)), 6000, 60, 50) == T
    with pytest.raises(Invalid, match="uncovered"):
        Tariff(15, 30, (Band(480, 1200, 500),), 6000)
    with pytest.raises(Invalid, match="unit_minutes"):
        Tariff(15, 0, (Band(0, 0, 500),), None)
    with pytest.raises(Invalid):
        Band(0, 1441, 1)
    with pytest.raises(Invalid):
        Band(0, 0, True)


def _with_bands(*bands: tuple[object, object, object]) -> dict[str, Any]:
    return {"unit_minutes": 30, "bands": [{"start": s, "end": e, "unit_fen": u} for s, e, u in bands]}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        # bands
        pytest.param(
            _with_bands(("08:00", "21:00", 500), ("20:00", "08:00", 200)), "overlap at 20:00", id="overlap"
        ),
        pytest.param(
            _with_bands(("00:00", "00:00", 1), ("08:00", "09:00", 2)), "overlap", id="overlap-whole-day"
        ),
        pytest.param(
            _with_bands(("08:00", "20:00", 500), ("20:30", "08:00", 200)), "20:00 uncovered", id="gap"
        ),
        pytest.param(_with_bands(("08:00", "20:00", 500)), "uncovered", id="half-day"),
        pytest.param({"unit_minutes": 30, "bands": []}, "non-empty list of bands", id="no-bands"),
        pytest.param({"unit_minutes": 30}, "non-empty list of bands", id="bands-missing"),
        pytest.param({"unit_minutes": 30, "bands": "08:00-20:00"}, "list of bands", id="bands-not-list"),
        pytest.param({"unit_minutes": 30, "bands": [42]}, "must be an object", id="band-not-object"),
        # times
        pytest.param(
            _with_bands(("8:00", "20:00", 1), ("20:00", "08:00", 1)), "'HH:MM'", id="one-digit-hour"
        ),
        pytest.param(_with_bands(("08:00:00", "08:00", 1)), "'HH:MM'", id="seconds"),
        pytest.param(_with_bands(("ab:cd", "08:00", 1)), "'HH:MM'", id="letters"),
        pytest.param(_with_bands((800, "08:00", 1)), "'HH:MM'", id="int-time"),
        pytest.param(_with_bands(("08:00", None, 1)), "'HH:MM'", id="missing-end"),
        pytest.param(_with_bands(("12:60", "12:60", 1)), "00:00..23:59", id="minute-60"),
        pytest.param(_with_bands(("08:00", "25:00", 1)), "00:00..23:59 or 24:00", id="hour-25"),
        pytest.param(_with_bands(("08:00", "24:01", 1)), "24:00", id="past-24:00"),
        pytest.param(_with_bands(("24:00", "08:00", 1)), "00:00..23:59", id="start-24:00"),
        # numbers
        pytest.param({**_with_bands(("00:00", "00:00", 1)), "unit_minutes": 0}, "unit_minutes", id="unit-0"),
        pytest.param(
            {**_with_bands(("00:00", "00:00", 1)), "unit_minutes": 1441}, "unit_minutes", id="unit-1441"
        ),
        pytest.param({"bands": [FLAT]}, "unit_minutes is required", id="unit-missing"),
        pytest.param(
            {**_with_bands(("00:00", "00:00", 1)), "unit_minutes": 30.0}, "integer", id="unit-float"
        ),
        pytest.param({**_with_bands(("00:00", "00:00", 1)), "unit_minutes": True}, "integer", id="unit-bool"),
        pytest.param(
            {**_with_bands(("00:00", "00:00", 1)), "free_minutes": False}, "integer", id="free-bool"
        ),
        pytest.param(
            {**_with_bands(("00:00", "00:00", 1)), "free_minutes": -1}, "free_minutes", id="free-neg"
        ),
        pytest.param(_with_bands(("00:00", "00:00", True)), "integer", id="unit-fen-bool"),
        pytest.param(_with_bands(("00:00", "00:00", -1)), "unit_fen", id="unit-fen-neg"),
        pytest.param(_with_bands(("00:00", "00:00", 1.5)), "integer", id="unit-fen-float"),
        pytest.param(_with_bands(("00:00", "00:00", "100")), "integer", id="unit-fen-str"),
        pytest.param({**_with_bands(("00:00", "00:00", 1)), "daily_cap_fen": True}, "integer", id="cap-bool"),
        pytest.param(
            {**_with_bands(("00:00", "00:00", 1)), "daily_cap_fen": -1}, "daily_cap_fen", id="cap-neg"
        ),
        pytest.param(
            {**_with_bands(("00:00", "00:00", 1)), "daily_cap_fen": "6000"}, "integer", id="cap-str"
        ),
        # shape
        pytest.param({**_with_bands(("00:00", "00:00", 1)), "daily_cap": 6000}, "unknown", id="misspelt-cap"),
    ],
)
def test_invalid_tariffs_are_refused(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message) as caught:
        Tariff.from_dict(bad)
    assert caught.value.code == "invalid_tariff"


# --- properties ---------------------------------------------------------------------------------


def _hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


@st.composite
def tariffs(draw: st.DrawFn, *, capped: bool | None = None) -> Tariff:
    cuts = sorted(draw(st.sets(st.integers(0, 24 * 60 - 1), min_size=1, max_size=5)))
    bands = [
        {"start": _hhmm(cut), "end": _hhmm(cuts[(i + 1) % len(cuts)]), "unit_fen": draw(st.integers(0, 1000))}
        for i, cut in enumerate(cuts)
    ]
    caps: st.SearchStrategy[int | None] = st.integers(0, 20000)
    if capped is None:
        caps = st.none() | caps
    elif not capped:
        caps = st.none()
    return Tariff.from_dict(
        {
            "free_minutes": draw(st.integers(0, 60)),
            "unit_minutes": draw(st.sampled_from([1, 7, 15, 30, 45, 60, 90, 1440]) | st.integers(1, 24 * 60)),
            "bands": bands,
            "daily_cap_fen": draw(caps),
        }
    )


entries = st.datetimes(
    min_value=datetime(1985, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.astimezone(SHANGHAI))


def reference_fee(tariff: Tariff, entry: datetime, exit: datetime) -> int:
    """The contract read literally: walk unit by unit in datetimes, group by 24 h period, cap."""
    entry, exit = entry.astimezone(UTC), exit.astimezone(UTC)
    if exit - entry <= timedelta(minutes=tariff.free_minutes):
        return 0
    per_period: dict[int, int] = {}
    start = entry
    while start < exit:
        local = start.astimezone(SHANGHAI)
        minute = local.hour * 60 + local.minute
        (price,) = [band.unit_fen for band in tariff.bands if band.contains(minute)]
        period = (start - entry) // timedelta(hours=24)
        per_period[period] = per_period.get(period, 0) + price
        start += timedelta(minutes=tariff.unit_minutes)
    cap = tariff.daily_cap_fen
    return sum(s if cap is None else min(s, cap) for s in per_period.values())


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fee_matches_the_literal_reading_of_the_contract(data: st.DataObject) -> None:
    t = data.draw(tariffs())
    entry = data.draw(entries)
    # at most ~600 units so the literal walk stays quick; up to 4 days
    seconds = data.draw(st.integers(0, min(4 * 86400, t.unit_minutes * 60 * 600)))
    exit = entry + timedelta(seconds=seconds, microseconds=data.draw(st.integers(0, 999_999)))
    offset = timezone(timedelta(minutes=data.draw(st.integers(-12 * 60, 14 * 60))))
    expected = reference_fee(t, entry, exit)
    assert fee_fen(t, entry, exit) == expected
    assert fee_fen(t, entry.astimezone(offset), exit.astimezone(UTC)) == expected


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fee_is_monotone_in_exit_and_bounded_by_the_caps(data: st.DataObject) -> None:
    t = data.draw(st.just(T) | tariffs(capped=True))
    entry = data.draw(entries)
    stay = timedelta(minutes=data.draw(st.integers(0, 6 * 24 * 60)), seconds=data.draw(st.integers(0, 59)))
    more = timedelta(minutes=data.draw(st.integers(0, 24 * 60)), seconds=data.draw(st.integers(0, 59)))
    exit = entry + stay
    fee = fee_fen(t, entry, exit)
    assert fee <= fee_fen(t, entry, exit + more)
    started_periods = -(-stay // timedelta(hours=24))
    assert t.daily_cap_fen is not None
    assert 0 <= fee <= started_periods * t.daily_cap_fen
