"""Cycle slips from the Doppler: the one detector that works on a single frequency.

Between two epochs the carrier phase must change by the Doppler integrated over the interval
(RINEX signs: the phase moves with the range, the Doppler is positive for an approaching
satellite, so d(phase)/dt = -Doppler); the trapezoid of the two epochs' Dopplers integrates it to
a fraction of a cycle over a second. What is left is a slip - plus a term every satellite shares:
a receiver clock that jumped (receivers steer theirs in whole milliseconds, 300 km of phase), or
the clock drift the Doppler includes; it is removed as the median over satellites, in metres, as
RTKLIB demo5's ``detslp_dop`` does. Loss-of-lock flags and the geometry-free combination (in
:mod:`gnss.rtk.filter`) catch the rest on dual-frequency data.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]


def doppler_slips(
    phase_change_cyc: F64, mean_doppler_hz: F64, dt_s: float, wavelength_m: F64, threshold_m: float
) -> Mask:
    """``(n_sats, n_freqs)``: where the phase change disagrees with the Doppler's by more than
    ``threshold_m`` once the part common to all signals is taken out. NaN (not observed at both
    epochs, no Doppler) is never a slip."""
    r = wavelength_m * (phase_change_cyc + mean_doppler_hz * dt_s)
    ok = np.isfinite(r)
    if ok.sum() < 2:
        return np.zeros(r.shape, dtype=bool)
    common = float(np.median(r[ok]))
    return np.asarray(ok & (np.abs(r - common) > threshold_m))


class DopplerTracker:
    """One receiver's previous phase and Doppler, per satellite and frequency slot."""

    def __init__(self, n_sats: int, n_freqs: int) -> None:
        self.cp = np.full((n_sats, n_freqs), np.nan)
        self.dop = np.full((n_sats, n_freqs), np.nan)
        self.t: float | None = None

    def grow(self, n_new: int) -> None:
        pad = np.full((n_new, self.cp.shape[1]), np.nan)
        self.cp = np.vstack([self.cp, pad])
        self.dop = np.vstack([self.dop, pad])

    def update(self, t_s: float, cp_cyc: F64, dop_hz: F64, wavelength_m: F64, threshold_m: float) -> Mask:
        """Slips between the previous epoch and this one; this epoch becomes the previous.
        ``threshold_m`` is per second of interval: over longer ones the trapezoid misses more of
        a moving receiver's acceleration changes."""
        slips = np.zeros(cp_cyc.shape, dtype=bool)
        if self.t is not None and t_s - self.t > 0.0:
            dt = t_s - self.t
            mean_dop = 0.5 * (self.dop + dop_hz)
            slips = doppler_slips(cp_cyc - self.cp, mean_dop, dt, wavelength_m, threshold_m * max(1.0, dt))
        if self.t is None or t_s != self.t:
            self.cp, self.dop, self.t = cp_cyc.copy(), dop_hz.copy(), t_s
        return slips
