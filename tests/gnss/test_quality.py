"""gnss.quality: RTKLIB's solution status and the one mapping to the GGA quality scale."""

from __future__ import annotations

from gnss.nmea import Gns
from gnss.quality import GGA_QUALITY_OF_SOLUTION, FixQuality, SolutionQuality


def test_rtklib_q_values_are_rtklibs() -> None:
    assert [int(q) for q in SolutionQuality] == [0, 1, 2, 3, 4, 5, 6]  # SOLQ_NONE .. SOLQ_PPP


def test_solution_status_to_gga_quality() -> None:
    assert dict(GGA_QUALITY_OF_SOLUTION) == {1: 4, 2: 5, 3: 2, 4: 2, 5: 1, 6: 3}  # SBAS as DGNSS
    assert SolutionQuality.NONE not in GGA_QUALITY_OF_SOLUTION  # no position, no GGA
    assert GGA_QUALITY_OF_SOLUTION[SolutionQuality.FIX] is FixQuality.RTK_FIXED


def test_gns_takes_the_best_constellation_mode() -> None:
    def quality(mode: str) -> int:
        return Gns("GN", ["", "", "", "", "", mode]).quality

    assert quality("RFAN") == FixQuality.RTK_FIXED
    assert quality("NFDA") == FixQuality.RTK_FLOAT
    assert quality("AE") == FixQuality.SINGLE
    assert quality("NN") == quality("") == quality("XZ") == FixQuality.INVALID
    assert type(quality("R")) is int
