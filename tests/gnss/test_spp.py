"""Single point positioning on real measurements against the station's surveyed position.

The NovAtel capture's 1005 message gives the antenna's ECEF position (the truth); its MSM7
epochs give pseudoranges on two frequencies per satellite, so the ionosphere-free combination
removes the ionosphere without a model. A position within a few metres of the surveyed point is
what SPP delivers; RAIM is checked by corrupting one satellite's pseudorange.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gnss.atmosphere import bds_klobuchar_m, klobuchar_m, saastamoinen_m
from gnss.orbits import C_MPS, KeplerArrays, transmit_states
from gnss.rtcm.decode import decode
from gnss.rtcm.ephemeris import KeplerEphemeris
from gnss.rtcm.framing import RtcmFramer
from gnss.rtcm.msm import MsmEpoch
from gnss.rtcm.station import StationArp
from gnss.spp import SppFailed, az_el, geometry, iono_free_pair, solve

CAPTURE = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
BDT_OFFSET_S = 14.0  # BDT = GPST - 14 s


@pytest.fixture(scope="module")
def capture() -> tuple[np.ndarray, list[object]]:
    records = [r for r in (decode(f) for f in RtcmFramer().feed(CAPTURE.read_bytes())) if r is not None]
    arp = next(r for r in records if isinstance(r, StationArp))
    return np.asarray(arp.ecef_m, dtype=np.float64), records


def iono_free_epoch(records: list[object], epoch_gps_s: float) -> tuple[np.ndarray, ...]:
    """Satellite positions, clocks, ionosphere-free pseudoranges and systems at one GPS epoch."""
    ephs = {(r.system, r.prn): r for r in records if isinstance(r, KeplerEphemeris)}
    rows, pr_if, systems, seen = [], [], [], set()
    for m in records:
        if not isinstance(m, MsmEpoch) or m.system not in "GECJ":
            continue
        t = m.epoch_s + (BDT_OFFSET_S if m.system == "C" else 0.0)
        if abs(t - epoch_gps_s) > 1e-3:
            continue
        for prn in np.unique(m.prn):
            key = (m.system, int(prn))
            if key not in ephs or key in seen:
                continue
            cells = np.flatnonzero((m.prn == prn) & np.isfinite(m.pr_m))
            freqs = np.round(C_MPS / m.wavelength_m[cells] / 1e3) * 1e3  # Hz, to the kHz
            pair = iono_free_pair(m.system, ephs[key].msg_type)
            if not all(np.any(freqs == f) for f in pair):
                continue
            p1, p2 = (float(m.pr_m[cells[np.flatnonzero(freqs == f)[0]]]) for f in pair)
            if m.system == "C":  # BDS clocks refer to B3I: B1I carries TGD1 more
                p1 -= C_MPS * ephs[key].tgd_s[0]
            f1, f2 = pair
            seen.add(key)
            pr_if.append((f1**2 * p1 - f2**2 * p2) / (f1**2 - f2**2))
            rows.append(ephs[key])
            systems.append(m.system)
    eph = KeplerArrays.from_records(rows)
    t_rx = np.array([epoch_gps_s - (BDT_OFFSET_S if s == "C" else 0.0) for s in systems])
    pr = np.array(pr_if)
    pos, clock = transmit_states(eph, t_rx, pr)
    return pos, clock, pr, np.array(systems)


def gps_epochs(records: list[object]) -> list[float]:
    return sorted({m.epoch_s for m in records if isinstance(m, MsmEpoch) and m.system == "G"})


def test_spp_within_metres_of_the_surveyed_antenna(capture: tuple[np.ndarray, list[object]]) -> None:
    truth, records = capture
    errors = []
    for t in gps_epochs(records)[::6]:
        pos, clock, pr, systems = iono_free_epoch(records, t)
        sol = solve(pos, clock, pr, systems, error_factor=3.0)
        assert set(sol.clock_m) == {"G", "E", "J", "C"}  # one clock per system
        assert sol.n_used >= 15
        assert sol.dop["pdop"] < 3.0
        errors.append(float(np.linalg.norm(sol.ecef_m - truth)))
    assert len(errors) >= 8
    # ionosphere-free code on four systems at a surveyed station: 1.2-1.4 m over the minute
    assert np.median(errors) < 2.5, errors
    assert max(errors) < 4.0, errors


def test_raim_excludes_a_corrupted_satellite(capture: tuple[np.ndarray, list[object]]) -> None:
    truth, records = capture
    pos, clock, pr, systems = iono_free_epoch(records, gps_epochs(records)[10])
    bad = pr.copy()
    bad[3] += 150.0
    without = solve(pos, clock, bad, systems, error_factor=3.0, raim=False)
    with_raim = solve(pos, clock, bad, systems, error_factor=3.0)
    assert with_raim.excluded == [3]
    assert not with_raim.used[3]
    assert np.linalg.norm(with_raim.ecef_m - truth) < 4.0
    assert np.linalg.norm(without.ecef_m - truth) > np.linalg.norm(with_raim.ecef_m - truth)


def test_too_few_satellites_is_a_clear_error(capture: tuple[np.ndarray, list[object]]) -> None:
    _, records = capture
    pos, clock, pr, systems = iono_free_epoch(records, gps_epochs(records)[0])
    with pytest.raises(SppFailed):
        solve(pos[:3], clock[:3], pr[:3], systems[:3])


def test_atmosphere_models_against_published_values() -> None:
    # Saastamoinen at sea level, zenith, standard atmosphere: about 2.3-2.5 m in all
    zenith = saastamoinen_m(np.radians(45.0), 0.0, np.array([np.pi / 2]))[0]
    assert 2.3 < zenith < 2.6
    low = saastamoinen_m(np.radians(45.0), 0.0, np.array([np.radians(10.0)]))[0]
    assert low == pytest.approx(zenith / np.sin(np.radians(10.0)), rel=0.02)
    # Klobuchar at night is the 5 ns floor times the obliquity factor
    alpha, beta = [1e-8, 0.0, 0.0, 0.0], [72000.0, 0.0, 0.0, 0.0]
    lat, lon = np.radians(35.0), np.radians(135.0)
    night = klobuchar_m(alpha, beta, lat, lon, np.array([0.0]), np.array([np.pi / 2]), 0.0)
    assert night[0] == pytest.approx(5e-9 * C_MPS * (1 + 16 * (0.53 - 0.5) ** 3), rel=1e-9)


def test_a_system_whose_satellites_are_all_below_the_mask_has_no_clock(
    capture: tuple[np.ndarray, list[object]],
) -> None:
    """The system whose highest satellite is lowest, all masked out: its clock is no unknown, and
    the solution and DOPs are those of the epoch without that system at all."""
    _, records = capture
    pos, clock, pr, systems = iono_free_epoch(records, gps_epochs(records)[10])
    first = solve(pos, clock, pr, systems, error_factor=3.0)
    el = np.degrees(az_el(first.ecef_m, geometry(first.ecef_m, pos)[1])[1])
    highest = {str(s): float(el[systems == s].max()) for s in np.unique(systems)}
    low = min(highest, key=highest.__getitem__)
    mask = highest[low] + 0.5
    others = systems != low
    assert (others & (el >= mask)).sum() >= 6  # enough of the others stay above it
    masked = solve(pos, clock, pr, systems, error_factor=3.0, elev_mask_deg=mask)
    alone = solve(
        pos[others], clock[others], pr[others], systems[others], error_factor=3.0, elev_mask_deg=mask
    )
    assert low not in masked.clock_m or not masked.used[~others].any()
    np.testing.assert_allclose(masked.ecef_m, alone.ecef_m, atol=1e-6)
    assert masked.dop == pytest.approx(alone.dop)


def _bds_icd(
    alpha: list[float], beta: list[float], lat: float, lon: float, az: float, el: float, t: float
) -> float:
    """BDS-SIS-ICD-B1I 3.0, 5.2.4.7, written out step by step with scalar math (the test's own
    reading of the ICD, independent of the vectorised kernel)."""
    r, h = 6378.0, 375.0  # km, as the ICD gives them
    psi = math.pi / 2 - el - math.asin(r / (r + h) * math.cos(el))
    phi_m = math.asin(math.sin(lat) * math.cos(psi) + math.cos(lat) * math.sin(psi) * math.cos(az))
    lam_m = lon + math.asin(math.sin(psi) * math.sin(az) / math.cos(phi_m))
    semi = abs(phi_m / math.pi)
    a2 = max(0.0, sum(a * semi**n for n, a in enumerate(alpha)))
    a4 = sum(b * semi**n for n, b in enumerate(beta))
    a4 = 172800.0 if a4 >= 172800.0 else 72000.0 if a4 < 72000.0 else a4
    tt = (t + lam_m * 43200.0 / math.pi) % 86400.0
    iz = 5e-9 + a2 * math.cos(2 * math.pi * (tt - 50400.0) / a4) if abs(tt - 50400.0) < a4 / 4 else 5e-9
    return C_MPS * iz / math.sqrt(1.0 - (r / (r + h) * math.cos(el)) ** 2)


# BeiDou's own broadcast coefficients (a RINEX 3 BDSA/BDSB pair of a 2016 CDDIS BRDM file, the
# same lines test_rtk_e2e writes into a navigation file), not GPS's relabelled
BDS_ALPHA = [0.1397e-07, 0.0, -0.5960e-07, 0.5960e-07]
BDS_BETA = [0.1106e06, -0.3277e05, -0.2621e06, 0.1966e06]


def test_beidou_broadcast_ionosphere_follows_its_icd() -> None:
    alpha, beta = BDS_ALPHA, BDS_BETA
    lat, lon = math.radians(31.3), math.radians(121.5)  # Shanghai
    az = np.radians([0.0, 90.0, 200.0, 315.0])
    el = np.radians([90.0, 45.0, 15.0, 5.0])
    for t in (0.0, 21600.0, 50400.0, 64000.0):  # BDT seconds of day: night, morning, peak, evening
        got = bds_klobuchar_m(alpha, beta, lat, lon, az, el, t)
        want = [_bds_icd(alpha, beta, lat, lon, float(a), float(e), t) for a, e in zip(az, el, strict=True)]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # the period is clipped to [72000, 172800] s (GPS: only the 72000 s floor); a period
    # polynomial of 250000 s at every latitude must be taken as 172800 s
    long_beta = [250000.0, 0.0, 0.0, 0.0]
    for t in (30000.0, 50400.0, 70000.0):
        got = bds_klobuchar_m(alpha, long_beta, lat, lon, az, el, t)
        want = [
            _bds_icd(alpha, long_beta, lat, lon, float(a), float(e), t) for a, e in zip(az, el, strict=True)
        ]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # night (BDT 16:54, local 01:00 at 121.5 E): the 5 ns floor; at the zenith no obliquity
    night = bds_klobuchar_m(alpha, beta, lat, lon, np.array([0.0]), np.array([np.pi / 2]), 60840.0)
    assert night[0] == pytest.approx(5e-9 * C_MPS, rel=1e-12)
