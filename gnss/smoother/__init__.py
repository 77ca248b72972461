"""Constant-velocity Kalman filter and RTS smoother for many receivers at once, in local ENU.

Why a filter at all: raw fixes of a parked or slowly moving car scatter by their noise (2-3 m for
an autonomous fix, centimetres for RTK fixed), and an occasional multipath fix jumps by tens of
metres. The filter averages the noise, estimates velocity, rejects the jumps by an innovation
gate, and carries a covariance that the fix-to-space placement (``gnss.placement``) integrates.

State per receiver ``x = [e, n, u, ve, vn, vu]`` (metres, metres per second) in that receiver's
own ENU frame, whose origin is its first fix (and moves to the new fix on re-initialisation), so
the numbers stay small and "up" stays local. Positions enter and leave as lat/lon/h.

Model: white-noise acceleration (the continuous "nearly constant velocity" model, Bar-Shalom,
Li & Kirubarajan, *Estimation with Applications to Tracking and Navigation*, 6.2.2) with
spectral density ``q`` (m^2/s^3) per axis, giving per axis over a step ``dt``::

    F = [[1, dt], [0, 1]]        Q = q * [[dt^3/3, dt^2/2], [dt^2/2, dt]]

The default horizontal ``q = 1.0 m^2/s^3`` lets the velocity wander by ~1 m/s per sqrt(s), the
size of a car's braking, accelerating and turning in a car park or city street (accelerations of
1-3 m/s^2 lasting a second or two); vertical ``q = 0.1`` because roads and ramps climb slowly.

There is no Python loop over receivers anywhere; the covariance update is the Joseph form; an
innovation is gated by a chi-square test on its normalised innovation squared (3 dof).

The parts: :mod:`.measurement` (a fix's sigma from its quality, HDOP or GST), :mod:`.kernels`
(the model: slices, F, Q; its per-axis predict/update algebra is
:mod:`gnss.kalman`'s), :mod:`.track` (the online filter,
:class:`TrackSmoother`) and :mod:`.rts` (Rauch-Tung-Striebel smoothing of whole tracks).
"""

from gnss.smoother.kernels import (
    MEAS_DIM,
    POS,
    STATE_DIM,
    VEL,
    AxisCov,
    full_covariance,
    process_noise,
    transition,
)
from gnss.smoother.measurement import (
    GGA_QUALITY_SIGMA_M,
    MIN_HDOP,
    MIN_SIGMA_M,
    VERTICAL_SIGMA_FACTOR,
    measurement_sigma,
)
from gnss.smoother.rts import rts_smooth
from gnss.smoother.track import FixStatus, SmoothedFix, TrackSmoother

__all__ = [
    "GGA_QUALITY_SIGMA_M",
    "MEAS_DIM",
    "MIN_HDOP",
    "MIN_SIGMA_M",
    "POS",
    "STATE_DIM",
    "VEL",
    "VERTICAL_SIGMA_FACTOR",
    "AxisCov",
    "FixStatus",
    "SmoothedFix",
    "TrackSmoother",
    "full_covariance",
    "measurement_sigma",
    "process_noise",
    "rts_smooth",
    "transition",
]
