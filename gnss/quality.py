"""Fix quality: the GGA quality indicator (NMEA 0183), the one scale every part of the platform
speaks - receivers' NMEA, the RTK engine's solutions, stored tracks, metrics.

The RTK engine and the ``.pos`` files it must match speak RTKLIB's solution status (``Q``)
instead; it is named here beside the GGA scale, with the one mapping between the two, so no
module keeps its own copy of either."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Final


class FixQuality(IntEnum):
    INVALID = 0
    SINGLE = 1  # autonomous (single point)
    DGNSS = 2  # code differential (DGPS, SBAS)
    PPS = 3
    RTK_FIXED = 4  # carrier phase, integer ambiguities fixed: centimetres
    RTK_FLOAT = 5  # carrier phase, float ambiguities: decimetres
    ESTIMATED = 6  # dead reckoning
    MANUAL = 7
    SIMULATION = 8


class SolutionQuality(IntEnum):
    """RTKLIB's solution status: the ``Q`` column of a ``.pos`` file (``SOLQ_*`` in rtklib.h)."""

    NONE = 0  # no solution
    FIX = 1
    FLOAT = 2
    SBAS = 3
    DGPS = 4
    SINGLE = 5
    PPP = 6


# RTKLIB's GGA quality for each Q (outnmea_gga's nmea_solq); SBAS, which RTKLIB leaves at 0
# ("invalid"), is differential in NMEA's terms, so it gets DGNSS. NONE has no position: no GGA.
GGA_QUALITY_OF_SOLUTION: Final[Mapping[int, FixQuality]] = MappingProxyType(
    {
        SolutionQuality.FIX: FixQuality.RTK_FIXED,
        SolutionQuality.FLOAT: FixQuality.RTK_FLOAT,
        SolutionQuality.SBAS: FixQuality.DGNSS,
        SolutionQuality.DGPS: FixQuality.DGNSS,
        SolutionQuality.SINGLE: FixQuality.SINGLE,
        SolutionQuality.PPP: FixQuality.PPS,
    }
)

# the names metrics and dashboards use (beidou_gnss_fixes_total{quality=...})
METRIC_LABELS: Final[dict[int, str]] = {
    FixQuality.RTK_FIXED: "rtk_fixed",
    FixQuality.RTK_FLOAT: "rtk_float",
    FixQuality.DGNSS: "dgnss",
    FixQuality.SINGLE: "single",
}
OTHER_LABEL: Final = "other"


def metric_label(quality: int) -> str:
    return METRIC_LABELS.get(quality, OTHER_LABEL)
