"""gnss.nmea's field tables: attributes read their field on access, converted, never eagerly."""

from __future__ import annotations

from datetime import date

import pytest

from gnss.nmea import Angle, Field, Gga, Gll, Gsv, Rmc, parse_sentence

GGA = "$GNGGA,092725.00,4717.11399,N,00833.91590,E,4,08,1.01,499.6,M,48.0,M,1.5,0123*6A"


def test_the_table_names_field_indices() -> None:
    assert isinstance(Gga.hdop, Field) and Gga.hdop.index == 7
    assert isinstance(Gga.lat, Angle) and Gga.lat.index == 1
    assert isinstance(Rmc.lat, Angle) and Rmc.lat.index == 2


def test_a_gga_reads_in_our_units() -> None:
    gga = parse_sentence(GGA)
    assert isinstance(gga, Gga)
    assert gga.tod == pytest.approx(9 * 3600 + 27 * 60 + 25.0)
    assert gga.lat == pytest.approx(47 + 17.11399 / 60)
    assert gga.lon == pytest.approx(8 + 33.91590 / 60)
    assert (gga.quality, gga.satellites, gga.hdop) == (4, 8, 1.01)
    assert gga.height == pytest.approx(499.6 + 48.0)
    assert (gga.age_diff, gga.station_id) == (1.5, "0123")


def test_fields_are_read_on_access_not_when_the_record_is_built() -> None:
    fields = ["", "", "", "", "", "0", "", "garbage"]
    gga = Gga("GN", fields)  # nothing is converted yet, so nothing can fail yet
    assert gga.hdop is None
    fields[7] = "0.9"
    assert gga.hdop == 0.9


def test_missing_and_empty_fields() -> None:
    short = Gga("GP", ["123519"])
    assert short.tod == pytest.approx(12 * 3600 + 35 * 60 + 19)
    assert (short.lat, short.quality, short.satellites, short.station_id, short.height) == (
        None,
        0,
        None,
        None,
        None,
    )
    assert Gsv("GB", []).messages == 0


def test_hemispheres_status_and_converted_units() -> None:
    rmc = Rmc("GN", ["000000", "A", "3113.0000", "S", "12130.0000", "W", "10.0", "", "060124", "", "", "D"])
    assert rmc.valid and rmc.mode == "D" and rmc.day == date(2024, 1, 6)
    assert rmc.lat == pytest.approx(-(31 + 13 / 60)) and rmc.lon == pytest.approx(-(121 + 30 / 60))
    assert rmc.speed_m_s == pytest.approx(10.0 * 1852 / 3600)
    assert not Gll("GN", ["", "", "", "", "", "V"]).valid
