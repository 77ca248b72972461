"""RINEX observation and navigation files read into NumPy arrays (our own reader, no xarray).

``read_obs`` handles RINEX 2.10/2.11 and 3.0x observation files, ``read_nav`` RINEX 2.10 GPS
and 3.0x mixed navigation files. See :mod:`gnss.rinex.obs` and :mod:`gnss.rinex.nav` for the
array layouts and units.
"""

from gnss.rinex._common import RinexError, gps_week_tow
from gnss.rinex.nav import NavData, TimeCorrection, read_nav
from gnss.rinex.obs import Observations, ObsHeader, SignalObs, read_obs

__all__ = [
    "NavData",
    "ObsHeader",
    "Observations",
    "RinexError",
    "SignalObs",
    "TimeCorrection",
    "gps_week_tow",
    "read_nav",
    "read_obs",
]
