"""A fix's measurement noise: one sigma per E/N/U axis, from the receiver's own GST estimate
where it sent one, else from a table by GGA fix quality scaled by HDOP."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from gnss.geodesy import FloatArray
from gnss.quality import FixQuality

# One-sigma horizontal position error (m) at HDOP = 1 by GGA fix quality. Typical receiver
# performance: RTK fixed ~2 cm, RTK float a few decimetres, DGNSS/SBAS under a metre, an
# autonomous single-frequency fix 2-3 m; dead reckoning drifts, so it is trusted least.
# 0 (invalid), 7 (manual input) and 8 (simulator) are not measurements of the vehicle: NaN.
GGA_QUALITY_SIGMA_M: Final[Mapping[FixQuality, float]] = MappingProxyType(
    {
        FixQuality.SINGLE: 2.5,  # autonomous GNSS
        FixQuality.DGNSS: 0.7,  # DGNSS / SBAS
        FixQuality.PPS: 2.5,  # PPS mode: a standard fix
        FixQuality.RTK_FIXED: 0.02,
        FixQuality.RTK_FLOAT: 0.3,
        FixQuality.ESTIMATED: 10.0,  # dead reckoning
    }
)
VERTICAL_SIGMA_FACTOR: Final = 2.0  # satellites are all above the antenna: VDOP ~ 1.5-2 x HDOP
MIN_HDOP: Final = 0.5  # below this HDOP the table's sigmas would be optimistic; clip
MIN_SIGMA_M: Final = 0.005  # a floor so that R never becomes singular on a too-proud receiver


def measurement_sigma(
    quality: ArrayLike, hdop: ArrayLike | None = None, gst_sigma: ArrayLike | None = None
) -> FloatArray:
    """One-sigma E/N/U measurement noise ``(k, 3)`` in metres for ``k`` fixes.

    ``gst_sigma`` is ``(k, 3)`` in GST's own order - latitude, longitude, altitude error sigma
    (m), i.e. N, E, U; the output is reordered to E/N/U - and is used where all three are finite
    and positive: the receiver's own error estimate beats a table.
    Elsewhere the GGA fix quality gives the horizontal sigma at HDOP 1 (see
    ``GGA_QUALITY_SIGMA_M``), scaled by HDOP (missing/NaN HDOP counts as 1, values below
    ``MIN_HDOP`` are clipped) and by ``VERTICAL_SIGMA_FACTOR`` for height. Quality 0 (no fix) and
    unknown qualities give NaN rows, which ``TrackSmoother.update`` ignores.
    """
    q = np.atleast_1d(np.asarray(quality, dtype=np.int64))
    k = q.shape[0]
    base = np.full(k, np.nan)
    for code, sigma in GGA_QUALITY_SIGMA_M.items():
        base[q == code] = sigma
    if hdop is None:
        dop = np.ones(k)
    else:
        dop = np.broadcast_to(np.asarray(hdop, dtype=np.float64), (k,)).copy()
        dop[~np.isfinite(dop)] = 1.0
        dop = np.maximum(dop, MIN_HDOP)
    horizontal = base * dop
    out = np.stack([horizontal, horizontal, VERTICAL_SIGMA_FACTOR * horizontal], axis=-1)
    if gst_sigma is not None:
        gst = np.asarray(gst_sigma, dtype=np.float64).reshape(k, 3)
        usable = np.all(np.isfinite(gst) & (gst > 0.0), axis=1) & np.isfinite(base)
        out[usable] = gst[usable][:, [1, 0, 2]]  # (lat, lon, alt) = (N, E, U) -> E, N, U
    return np.where(np.isfinite(out), np.maximum(out, MIN_SIGMA_M), np.nan)
