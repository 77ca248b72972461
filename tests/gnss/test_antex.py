"""ANTEX reading and the receiver antenna model against RTKLIB 2.4.3 b34 itself.

``data/gnss/antex/rtklib_antmodel.json`` holds what RTKLIB 2.4.3 b34 (pyrtklib 0.2.7) computes on
``data/gnss/rinex/test.atx`` (the css078 receivers' antennas): the tables ``readpcv`` keeps, the
antenna ``searchpcv`` picks for a set of type strings, and ``antmodel``'s range corrections over
an azimuth x elevation grid, with and without PCV and antenna delta. ``make_rtklib_antmodel.py``
beside it made it; these tests need only the JSON. Azimuth grids, which RTKLIB does not use, are
checked against values read off the file's own rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

from gnss.antex import AntexError, find_receiver, pcv_m, range_correction_m, read_antex, receiver_model
from gnss.rinex import read_obs
from gnss.rtk.antennas import receiver_antennas
from gnss.rtk.options import RtkOptions

DATA = Path(__file__).parents[1] / "data" / "gnss"
ATX = DATA / "rinex" / "test.atx"
RTKLIB: Final[dict[str, Any]] = json.loads((DATA / "antex" / "rtklib_antmodel.json").read_text())
JAVAD, TRIMBLE = "JAVRINGANT_DM   SCIS", "TRM59800.80     NONE"


@pytest.fixture(scope="module")
def antennas() -> list[Any]:
    return read_antex(ATX)


def test_reads_both_receiver_antennas(antennas: list[Any]) -> None:
    assert [a.type for a in antennas] == [JAVAD, TRIMBLE]
    for a in antennas:
        assert not a.is_satellite
        assert a.dazi_deg == 5.0
        np.testing.assert_array_equal(a.zen_deg, np.arange(0.0, 91.0, 5.0))  # ZEN1 / ZEN2 / DZEN 0 90 5
        assert list(a.frequencies) == ["G01", "G02", "R01", "R02"]
        for block in a.frequencies.values():
            assert block.noazi_m.shape == (19,)
            assert block.grid_m is not None
            assert block.grid_m.shape == (73, 19)  # 0:5:360 degrees
    javad = antennas[0]
    assert (javad.model, javad.radome) == ("JAVRINGANT_DM", "SCIS")
    np.testing.assert_allclose(javad.frequencies["G01"].neu_m, [0.51e-3, 0.83e-3, 85.44e-3])  # N E U


@pytest.mark.parametrize("case", range(len(RTKLIB["receivers"])))
def test_rtklib_view_of_the_antenna_equals_readpcv(antennas: list[Any], case: int) -> None:
    """Offsets (east, north, up) and NOAZI PCV per slot as RTKLIB keeps them: GPS blocks only,
    the third slot copied from L2."""
    theirs = RTKLIB["receivers"][case]
    mine = receiver_model(find_receiver(antennas, theirs["type"]), RTKLIB["nfreq"])
    np.testing.assert_allclose(mine.offset_enu_m, theirs["off_enu_m"], rtol=0, atol=1e-15)
    np.testing.assert_allclose(mine.pcv_m, theirs["var_m"], rtol=0, atol=1e-15)


@pytest.mark.parametrize("query", list(RTKLIB["searchpcv"]))
def test_lookup_as_searchpcv(antennas: list[Any], query: str) -> None:
    found = find_receiver(antennas, query)
    assert (None if found is None else found.type) == RTKLIB["searchpcv"][query]


@pytest.mark.parametrize(
    "case",
    RTKLIB["cases"],
    ids=[
        f"{c['antenna'].split()[0]}-pcv{c['pcv']}-delta{int(any(c['delta_enu_m']))}" for c in RTKLIB["cases"]
    ],
)
def test_range_correction_equals_antmodel(antennas: list[Any], case: dict[str, Any]) -> None:
    az = np.radians(np.repeat(RTKLIB["az_deg"], len(RTKLIB["el_deg"])))
    el = np.radians(np.tile(RTKLIB["el_deg"], len(RTKLIB["az_deg"])))
    model = receiver_model(
        find_receiver(antennas, case["antenna"]),
        RTKLIB["nfreq"],
        tuple(case["delta_enu_m"]),
        apply_pcv=bool(case["pcv"]),
    )
    np.testing.assert_allclose(range_correction_m(model, az, el), case["dant_m"], rtol=0, atol=1e-12)


def test_fewer_slots_are_the_first_ones(antennas: list[Any]) -> None:
    three = receiver_model(antennas[0], 3, apply_pcv=True)
    two = receiver_model(antennas[0], 2, apply_pcv=True)
    az, el = np.radians([30.0, 200.0]), np.radians([20.0, 70.0])
    np.testing.assert_array_equal(range_correction_m(two, az, el), range_correction_m(three, az, el)[:, :2])


def test_delta_alone_moves_the_marker_to_the_arp() -> None:
    """No antenna model: the range correction is the delta's projection, -(delta . e)."""
    model = receiver_model(None, 2, (0.0, 0.0, 1.5))
    np.testing.assert_allclose(
        range_correction_m(model, np.zeros(2), np.radians([90.0, 30.0])), [[-1.5] * 2, [-0.75] * 2]
    )


def test_azimuth_grid_interpolation(antennas: list[Any]) -> None:
    """Values off the JAVRINGANT_DM G01 rows of the file: azimuth 10, zenith 0/5/10/15 are
    +0.00 -0.36 -1.40 -2.96 mm; azimuth 15, zenith 10 is -1.41 mm."""
    javad = antennas[0]
    az, el = np.radians([10.0, 10.0, 12.5, 370.0]), np.radians([80.0, 77.5, 80.0, 80.0])
    np.testing.assert_allclose(
        pcv_m(javad, "G01", az, el), np.array([-1.40, (-1.40 - 2.96) / 2, (-1.40 - 1.41) / 2, -1.40]) * 1e-3
    )


SMALL_ATX: Final = b"""\
     1.4            M                                       ANTEX VERSION / SYST
                                                            END OF HEADER
                                                            START OF ANTENNA
TEST_ANT        NONE                                        TYPE / SERIAL NO
     0.0                                                    DAZI
     0.0  10.0   5.0                                        ZEN1 / ZEN2 / DZEN
   G01                                                      START OF FREQUENCY
      1.00      2.00     50.00                              NORTH / EAST / UP
   NOAZI    0.00   -1.00   -3.00
   G01                                                      END OF FREQUENCY
   G01                                                      START OF FREQ RMS
      0.10      0.10      0.20                              NORTH / EAST / UP
   NOAZI    0.05    0.05    0.05
   G01                                                      END OF FREQ RMS
                                                            END OF ANTENNA
"""


def test_freq_rms_blocks_are_skipped_and_noazi_without_grid() -> None:
    (ant,) = read_antex(SMALL_ATX)
    block = ant.frequencies["G01"]
    np.testing.assert_allclose(block.neu_m, [1e-3, 2e-3, 50e-3])
    assert block.grid_m is None
    # zenith 7.5 (elevation 82.5): halfway between -1.00 and -3.00 mm; beyond ZEN2 the last value
    np.testing.assert_allclose(pcv_m(ant, "G01", np.zeros(2), np.radians([82.5, 10.0])), [-2e-3, -3e-3])


def test_noazi_not_fitting_the_zenith_grid_is_an_error() -> None:
    bad = SMALL_ATX.replace(b"NOAZI    0.00   -1.00   -3.00", b"NOAZI    0.00   -1.00")
    with pytest.raises(AntexError, match="NOAZI"):
        read_antex(bad)


# --- the two receivers of a run ---------------------------------------------------------------------


def test_header_antennas_unknown_to_the_file_give_no_model() -> None:
    """``*`` takes type and delta from the headers: css078's say "Unknown" and nothing, with zero
    deltas (the reason the reference conf names the antennas), so there is nothing to apply."""
    rover, base = (read_obs(DATA / "rinex" / f).header for f in ("SEPT078M1.21O", "3034078M1.21O"))
    options = RtkOptions(antex_path=ATX, rover_antenna="*", base_antenna="*")
    assert receiver_antennas(options, 2, rover, base) == (None, None)


def test_named_antennas_and_deltas() -> None:
    options = RtkOptions(antex_path=ATX, rover_antenna=JAVAD, base_delta_enu_m=(0.0, 0.0, 2.0))
    rover, base = receiver_antennas(options, 2)
    assert rover is not None and base is not None
    np.testing.assert_allclose(rover.offset_enu_m[0], [0.83e-3, 0.51e-3, 85.44e-3])
    np.testing.assert_allclose(base.offset_enu_m, [[0.0, 0.0, 2.0]] * 2)  # no antenna: the delta only
    assert receiver_antennas(RtkOptions(), 2) == (None, None)


def test_named_antenna_needs_the_file_and_must_be_in_it() -> None:
    with pytest.raises(ValueError, match="needs an ANTEX file"):
        receiver_antennas(RtkOptions(rover_antenna=JAVAD), 2)
    with pytest.raises(ValueError, match="no receiver antenna"):
        receiver_antennas(RtkOptions(antex_path=ATX, base_antenna="LEIAR25.R4      LEIT"), 2)


def test_star_takes_type_and_delta_from_the_header() -> None:
    """RTKLIB's ``*``: the header's ``ANT # / TYPE`` (columns 21-40) and ``ANTENNA: DELTA H/E/N``
    (height, east, north), the delta replacing the configured one."""
    head = (DATA / "rinex" / "3034078M1.21O").read_bytes().split(b"END OF HEADER")[0] + b"END OF HEADER\n"
    head = head.replace(
        b"                                                            ANT # / TYPE        ",
        b"                    TRM59800.80     NONE                    ANT # / TYPE        ",
    ).replace(
        b"        0.0000        0.0000        0.0000                  ANTENNA: DELTA H/E/N",
        b"        1.2000        0.0300       -0.0400                  ANTENNA: DELTA H/E/N",
    )
    header = read_obs(head).header
    assert header.antenna == TRIMBLE
    options = RtkOptions(antex_path=ATX, base_antenna="*", base_delta_enu_m=(9.0, 9.0, 9.0))
    _, base = receiver_antennas(options, 2, None, header)
    assert base is not None
    # test.atx, TRM59800.80 NONE, G01: NORTH / EAST / UP 1.04 0.70 89.51 mm
    trimble_l1_enu = np.array([0.70e-3, 1.04e-3, 89.51e-3])
    np.testing.assert_allclose(base.offset_enu_m[0], trimble_l1_enu + np.array([0.03, -0.04, 1.2]))
