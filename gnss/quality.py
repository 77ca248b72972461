"""Fix quality: the GGA quality indicator (NMEA 0183), the one scale every part of the platform
speaks - receivers' NMEA, the RTK engine's solutions, stored tracks, metrics."""

from __future__ import annotations

from enum import IntEnum
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
