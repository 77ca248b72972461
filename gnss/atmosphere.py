"""Broadcast atmosphere models for single point positioning: Klobuchar ionosphere (GPS, and
BeiDou's 8-parameter model has the same form) and Saastamoinen troposphere with a standard
atmosphere, as in IS-GPS-200 20.3.3.5.2.5 and RTKLIB's ``tropmodel``: metres of delay along the
line of sight, vectorised over satellites."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
C_MPS: Final = 299_792_458.0


def saastamoinen_m(lat_rad: float, h_m: float, el_rad: ArrayLike, humidity: float = 0.7) -> F64:
    """Tropospheric delay (hydrostatic + wet) for a receiver at ``h_m`` ellipsoidal height."""
    el = np.asarray(el_rad, dtype=np.float64)
    if h_m < -100.0 or h_m > 1e4:
        return np.zeros_like(el)
    hgt = max(h_m, 0.0)
    pres = 1013.25 * (1.0 - 2.2557e-5 * hgt) ** 5.2568
    temp = 15.0 - 6.5e-3 * hgt + 273.16
    e = 6.108 * humidity * np.exp((17.15 * temp - 4684.0) / (temp - 38.45))
    cos_z = np.cos(np.pi / 2 - np.clip(el, 1e-3, None))
    dry = 0.0022768 * pres / (1.0 - 0.00266 * np.cos(2 * lat_rad) - 0.00028 * hgt / 1e3) / cos_z
    wet = 0.002277 * (1255.0 / temp + 0.05) * e / cos_z
    return np.asarray(np.where(el > 0, dry + wet, 0.0), dtype=np.float64)


def klobuchar_m(
    alpha: ArrayLike,
    beta: ArrayLike,
    lat_rad: float,
    lon_rad: float,
    az_rad: ArrayLike,
    el_rad: ArrayLike,
    tow_s: float,
) -> F64:
    """L1 ionospheric delay from the broadcast Klobuchar coefficients (semicircle units inside,
    as the ICD writes it)."""
    a, b = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    az, el = np.asarray(az_rad, dtype=np.float64), np.asarray(el_rad, dtype=np.float64)
    e_sc = el / np.pi
    psi = 0.0137 / (e_sc + 0.11) - 0.022
    phi_i = np.clip(lat_rad / np.pi + psi * np.cos(az), -0.416, 0.416)
    lam_i = lon_rad / np.pi + psi * np.sin(az) / np.cos(phi_i * np.pi)
    phi_m = phi_i + 0.064 * np.cos((lam_i - 1.617) * np.pi)
    t = (43200.0 * lam_i + tow_s) % 86400.0
    amp = np.maximum(0.0, a[0] + phi_m * (a[1] + phi_m * (a[2] + phi_m * a[3])))
    per = np.maximum(72000.0, b[0] + phi_m * (b[1] + phi_m * (b[2] + phi_m * b[3])))
    x = 2 * np.pi * (t - 50400.0) / per
    f = 1.0 + 16.0 * (0.53 - e_sc) ** 3
    delay = np.where(np.abs(x) < 1.57, 5e-9 + amp * (1 - x**2 / 2 + x**4 / 24), 5e-9)
    return np.asarray(C_MPS * f * delay, dtype=np.float64)


BDS_SHELL_M: Final = 375_000.0
BDS_EARTH_RADIUS_M: Final = 6_378_000.0


def bds_klobuchar_m(
    alpha: ArrayLike,
    beta: ArrayLike,
    lat_rad: float,
    lon_rad: float,
    az_rad: ArrayLike,
    el_rad: ArrayLike,
    bdt_s_of_day: float,
) -> F64:
    """B1I ionospheric delay (m) from BeiDou's broadcast model (BDS-SIS-ICD-B1I 3.0, 5.2.4.7).

    Klobuchar's cosine in form, but not GPS's model: the pierce point is computed exactly on a
    375 km shell (GPS uses a 350 km approximation in semicircles), the coefficients take the
    pierce point's geographic latitude (GPS: geomagnetic), the period is clipped to
    [72000, 172800] s, the time is BDT, and the obliquity factor is the shell's exact one."""
    a, b = np.asarray(alpha, dtype=np.float64), np.asarray(beta, dtype=np.float64)
    az, el = np.asarray(az_rad, dtype=np.float64), np.asarray(el_rad, dtype=np.float64)
    k = BDS_EARTH_RADIUS_M / (BDS_EARTH_RADIUS_M + BDS_SHELL_M) * np.cos(el)
    psi = np.pi / 2 - el - np.arcsin(k)
    phi_m = np.arcsin(np.sin(lat_rad) * np.cos(psi) + np.cos(lat_rad) * np.sin(psi) * np.cos(az))
    lam_m = lon_rad + np.arcsin(np.clip(np.sin(psi) * np.sin(az) / np.cos(phi_m), -1.0, 1.0))
    x = np.abs(phi_m / np.pi)
    amp = np.maximum(0.0, a[0] + x * (a[1] + x * (a[2] + x * a[3])))
    per = np.clip(b[0] + x * (b[1] + x * (b[2] + x * b[3])), 72000.0, 172800.0)
    t = (bdt_s_of_day + lam_m * 43200.0 / np.pi) % 86400.0
    zenith = np.where(
        np.abs(t - 50400.0) < per / 4.0, 5e-9 + amp * np.cos(2 * np.pi * (t - 50400.0) / per), 5e-9
    )
    return np.asarray(C_MPS * zenith / np.sqrt(1.0 - k * k), dtype=np.float64)


# Niell (1996) hydrostatic mapping: average and seasonal-amplitude coefficients a, b, c at
# latitudes 15, 30, 45, 60, 75 degrees, and the height correction's a, b, c.
_NMF_AVG: Final = np.array(
    [
        [1.2769934e-3, 1.2683230e-3, 1.2465397e-3, 1.2196049e-3, 1.2045996e-3],
        [2.9153695e-3, 2.9152299e-3, 2.9288445e-3, 2.9022565e-3, 2.9024912e-3],
        [62.610505e-3, 62.837393e-3, 63.721774e-3, 63.824265e-3, 64.258455e-3],
    ]
)
_NMF_AMP: Final = np.array(
    [
        [0.0, 1.2709626e-5, 2.6523662e-5, 3.4000452e-5, 4.1202191e-5],
        [0.0, 2.1414979e-5, 3.0160779e-5, 7.2562722e-5, 11.723375e-5],
        [0.0, 9.0128400e-5, 4.3497037e-5, 84.795348e-5, 170.37206e-5],
    ]
)
_NMF_HEIGHT: Final = (2.53e-5, 5.49e-3, 1.14e-3)


def _continued_fraction(sin_el: F64, a: float, b: float, c: float) -> F64:
    return np.asarray(
        (1.0 + a / (1.0 + b / (1.0 + c))) / (sin_el + a / (sin_el + b / (sin_el + c))), dtype=np.float64
    )


def niell_hydrostatic(lat_rad: float, h_m: float, el_rad: ArrayLike, day_of_year: float) -> F64:
    """Niell's hydrostatic mapping function: zenith delay -> slant delay. Used with the
    hydrostatic zenith delay by the RTK filter, as RTKLIB's ``tropmapf`` (NMF) does: at low
    elevations it departs from 1/sin(el) by centimetres, which base and rover see alike only
    when their elevations match, so both engines must map the same way to agree."""
    el = np.asarray(el_rad, dtype=np.float64)
    lat_deg = abs(np.degrees(lat_rad))
    season = np.cos(2 * np.pi * ((day_of_year - 28.0) / 365.25 + (0.5 if lat_rad < 0 else 0.0)))
    grid = np.array([15.0, 30.0, 45.0, 60.0, 75.0])
    coef = [
        float(np.interp(lat_deg, grid, _NMF_AVG[i]) - np.interp(lat_deg, grid, _NMF_AMP[i]) * season)
        for i in range(3)
    ]
    sin_el = np.sin(np.clip(el, 1e-3, None))
    height = (1.0 / sin_el - _continued_fraction(sin_el, *_NMF_HEIGHT)) * h_m / 1e3
    return np.asarray(np.where(el > 0, _continued_fraction(sin_el, *coef) + height, 0.0), dtype=np.float64)
