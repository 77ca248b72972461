"""The energy tariff: its JSON form, and what a charge costs from its meter readings (figures
derived by hand beside each case)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.errors import Invalid
from parking.lots.energy import EnergyTariff, bill
from parking.lots.tariff import Tariff, tariff_of
from tests.support import TARIFF, Client

SH = ZoneInfo("Asia/Shanghai")
ENERGY: dict[str, Any] = {
    "bands": [
        {"start": "08:00", "end": "22:00", "fen_per_kwh": 120},
        {"start": "22:00", "end": "08:00", "fen_per_kwh": 40},
    ],
    "idle_fen_per_min": 10,
    "idle_grace_min": 10,
}


def t(hhmm: str, day: int = 20) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, h, m, tzinfo=SH)


def test_the_energy_block_round_trips_and_refuses_what_cannot_be_priced() -> None:
    tariff = Tariff.from_dict({**TARIFF, "energy": ENERGY})
    assert tariff.to_dict()["energy"] == ENERGY
    assert tariff_of({**TARIFF, "energy": ENERGY}).energy == tariff.energy
    assert "energy" not in Tariff.from_dict(TARIFF).to_dict()  # lots without chargers keep their form
    for bad in (
        {**ENERGY, "bands": [{"start": "08:00", "end": "22:00", "fen_per_kwh": 120}]},  # 22:00-08:00 unpriced
        {
            **ENERGY,
            "bands": [*ENERGY["bands"], {"start": "21:00", "end": "23:00", "fen_per_kwh": 1}],
        },  # overlap
        {**ENERGY, "idle_fen_per_min": -1},
        {**ENERGY, "idle_fee": 5},  # a misspelt field is refused, not ignored
        {"bands": [{"start": "00:00", "end": "00:00", "fen_per_kwh": True}]},
    ):
        with pytest.raises(Invalid):
            EnergyTariff.from_dict(bad)


def test_energy_between_readings_is_spread_evenly_across_bands() -> None:
    energy = EnergyTariff.from_dict(ENERGY)
    # 21:00 -> 23:00, 0 -> 12,000 Wh with no reading between: 6 kWh fall in 21:00-22:00 (day,
    # 6 x 120 = 720 fen) and 6 kWh in 22:00-23:00 (night, 6 x 40 = 240 fen) = 960 fen; the meter
    # rose until the stop, so no idle time
    result = bill(energy, t("21:00"), t("23:00"), 0, 12_000, [])
    assert (result.energy_wh, result.energy_fee_fen, result.idle_fee_fen) == (12_000, 960, 0)


def test_readings_out_of_order_repeated_or_backwards_give_one_curve() -> None:
    energy = EnergyTariff.from_dict(ENERGY)
    readings = [
        (t("10:30"), 3_000),
        (t("10:10"), 1_000),
        (t("10:30"), 3_000),  # sent twice
        (t("10:20"), 900),  # lower than the 10:10 reading: held at 1,000
        (t("09:00"), 50),  # before the start: dropped
        (t("10:40"), 3_000),
    ]
    # 10:00 0 Wh -> 10:10 1,000 -> 10:20 1,000 -> 10:30 3,000 -> stop 11:00 at 3,000: 3 kWh in the
    # day band = 360 fen. Charging ended 10:30; idle 30 min - 10 grace = 20 min x 10 = 200 fen.
    result = bill(energy, t("10:00"), t("11:00"), 0, 3_000, readings)
    assert result.charge_end == t("10:30")
    assert (result.energy_fee_fen, result.idle_minutes, result.idle_fee_fen) == (360, 20, 200)
    assert bill(energy, t("10:00"), t("11:00"), 0, 3_000, list(reversed(readings))) == result


def test_fractions_of_a_fen_are_rounded_down_once() -> None:
    energy = EnergyTariff.from_dict({"bands": [{"start": "00:00", "end": "00:00", "fen_per_kwh": 157}]})
    # 333 Wh x 157 fen/kWh = 52.281 fen -> 52; a started idle minute would count whole, but the
    # tariff has no idle fee
    result = bill(energy, t("12:00"), t("12:00") + timedelta(minutes=5), 1_000, 1_333, [])
    assert (result.energy_fee_fen, result.fee_fen) == (52, 52)


async def test_a_lot_with_a_bad_energy_tariff_is_a_422(client: Client) -> None:
    op = await client.operator()
    body = {
        "name": "Lot",
        "lat": 31.3,
        "lon": 121.5,
        "kind": "surface",
        "capacity": 5,
        "tariff": {**TARIFF, "energy": {"bands": [{"start": "08:00", "end": "20:00", "fen_per_kwh": 100}]}},
    }
    r = await client.http.post("/v1/operator/lots", json=body, headers=op.h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_tariff"
