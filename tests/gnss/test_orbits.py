"""Broadcast orbits checked against the real world: a receiver's measured pseudoranges.

The NovAtel capture (Hiroshima, 2022-12-13) carries, in one minute, the station's surveyed
antenna position (1005), broadcast ephemerides of GPS, Galileo, QZSS and BeiDou (1019, 1045/1046,
1044, 1042) and MSM7 pseudoranges on two frequencies. With correct satellite positions and clocks,
every satellite's ionosphere-free pseudorange minus its geometric range plus its clock, less the
troposphere, is the same receiver clock offset - an independent, physical check of the orbit code:
a wrong constant or a missing BeiDou GEO rotation puts a satellite off by kilometres, a wrong
ephemeris field by tens of metres.

What is left once the clock is removed, and so the tolerance below (5 m): the broadcast orbit and
clock error of healthy satellites (the signal-in-space range error, about 1 m RMS for GPS,
Galileo and BeiDou MEO/IGSO in IGS comparisons; the GPS SPS Performance Standard bounds it at
7.8 m 95% worldwide, far above what a healthy constellation shows), the ionosphere-free
combination's code noise and multipath (about three times one frequency's, 1-3 m above 10
degrees), and the tropospheric model's error (decimetres). A satellite 10 m off fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gnss import orbits
from gnss.atmosphere import saastamoinen_m
from gnss.geodesy import ecef_to_geodetic
from gnss.orbits import (
    C_MPS,
    FRAME,
    KeplerArrays,
    earth_rotation,
    eccentric_anomaly,
    satellite_state,
    wrap_week,
)
from gnss.rtcm.decode import decode
from gnss.rtcm.ephemeris import KeplerEphemeris
from gnss.rtcm.framing import RtcmFramer
from gnss.rtcm.msm import MsmEpoch
from gnss.rtcm.station import StationArp

CAPTURE = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"


@pytest.fixture(scope="module")
def records() -> list[object]:
    out = []
    for frame in RtcmFramer().feed(CAPTURE.read_bytes()):
        rec = decode(frame)
        if rec is not None:
            out.append(rec)
    return out


def elevation_deg(rx: np.ndarray, sat: np.ndarray) -> np.ndarray:
    lat_deg, lon_deg, _ = ecef_to_geodetic(rx)
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    los = sat - rx
    return np.degrees(np.arcsin(los @ up / np.linalg.norm(los, axis=1)))


# The signal pair of each system whose combination the broadcast clock refers to: GPS and QZSS
# L1 C/A + L2 (the clock is for the L1/L2 P(Y) combination, C/A-P1 is decimetres), Galileo E1 +
# E5a (F/NAV), BeiDou B1I + B3I (the clock is B3I's: B1I is moved onto it with TGD1, as the
# BDS-SIS-ICD 5.2.4.10 says).
PAIRS = {"G": ("1C", "2W"), "J": ("1C", "2S"), "E": ("1C", "5Q"), "C": ("2I", "6I")}
SPREAD_M = 5.0


def residuals(records: list[object], msg_type: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prn, ionosphere-free pseudorange - range + c * clock - troposphere, elevation) for the
    last epoch of a message type."""
    arp = next(r for r in records if isinstance(r, StationArp))
    rx = np.asarray(arp.ecef_m, dtype=np.float64)
    msms = [r for r in records if isinstance(r, MsmEpoch) and r.msg_type == msg_type]
    last = msms[-1].epoch_s
    parts = [m for m in msms if m.epoch_s == last]  # an epoch may span several messages
    system = parts[0].system
    ephs: dict[int, KeplerEphemeris] = {}
    for r in records:
        if isinstance(r, KeplerEphemeris) and r.system == system:
            ephs[r.prn] = r
    first, second = PAIRS[system]
    prns, rows, pr = [], [], []
    for part in parts:
        for prn in np.unique(part.prn):
            c1 = np.flatnonzero((part.prn == prn) & (part.code == first) & np.isfinite(part.pr_m))
            c2 = np.flatnonzero((part.prn == prn) & (part.code == second) & np.isfinite(part.pr_m))
            if int(prn) not in ephs or not len(c1) or not len(c2) or int(prn) in prns:
                continue
            f1, f2 = C_MPS / part.wavelength_m[c1[0]], C_MPS / part.wavelength_m[c2[0]]
            p1, p2 = float(part.pr_m[c1[0]]), float(part.pr_m[c2[0]])
            if system == "C":
                p1 -= C_MPS * ephs[int(prn)].tgd_s[0]
            prns.append(int(prn))
            rows.append(ephs[int(prn)])
            pr.append((f1 * f1 * p1 - f2 * f2 * p2) / (f1 * f1 - f2 * f2))
    eph = KeplerArrays.from_records(rows)
    pr_m = np.array(pr)
    t_rx = np.full(len(pr_m), last)
    clock = np.zeros(len(pr_m))
    for _ in range(3):  # transmission time: reception - flight - satellite clock
        pos, clock = satellite_state(eph, t_rx - pr_m / C_MPS - clock)
    travel = np.linalg.norm(pos - rx, axis=1) / C_MPS
    pos = earth_rotation(pos, travel, FRAME[system][1])
    rho = np.linalg.norm(pos - rx, axis=1)
    elev = elevation_deg(rx, pos)
    lat_deg, _, h_m = ecef_to_geodetic(rx)
    troposphere = saastamoinen_m(float(np.radians(lat_deg)), float(h_m), np.radians(elev))
    return np.array(prns), pr_m - rho + C_MPS * clock - troposphere, elev


@pytest.mark.parametrize(("msg_type", "least"), [(1077, 6), (1097, 4), (1117, 1), (1127, 8)])
def test_pseudoranges_agree_with_broadcast_orbits(records: list[object], msg_type: int, least: int) -> None:
    prns, res, elev = residuals(records, msg_type)
    above = elev > 10
    assert above.sum() >= least
    common = np.median(res[above])  # the receiver clock (same for every satellite of the system)
    spread = res[above] - common
    assert np.all(np.abs(spread) < SPREAD_M), dict(
        zip(prns[above].tolist(), spread.round(1).tolist(), strict=True)
    )


def test_receiver_clock_is_one_across_gps_galileo_and_qzss(records: list[object]) -> None:
    """GPST and QZSST are one time scale as broadcast: their receiver clock offsets agree to the
    combination's noise. GST differs from GPST by the GPS-Galileo time offset (GGTO, kept within
    20 ns, 6 m, by the Galileo OS SDD) plus the receiver's inter-system bias (a few ns)."""
    clocks = {}
    for msg_type in (1077, 1097, 1117):
        _, res, elev = residuals(records, msg_type)
        clocks[msg_type] = float(np.median(res[elev > 10]))
    assert abs(clocks[1077] - clocks[1117]) < 1.0
    assert abs(clocks[1077] - clocks[1097]) < 12.0


def test_beidou_geo_rotation_matters(records: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    """With the GEO transformation the GEO satellites fit the others to metres; computed like the
    MEO/IGSO ones instead, they are kilometres off (so the check above has teeth)."""
    prns, res, elev = residuals(records, 1127)
    geo = np.isin(prns, [1, 2, 3, 4, 5, 59, 60, 61, 62, 63]) & (elev > 10)
    assert geo.sum() >= 4
    common = np.median(res[elev > 10])
    assert np.all(np.abs(res[geo] - common) < SPREAD_M)
    monkeypatch.setattr(orbits, "BDS_GEO_PRNS", frozenset())
    _, wrong, _ = residuals(records, 1127)
    assert np.all(np.abs(wrong[geo] - common) > 1_000.0)


def test_kepler_equation_and_week_wrap() -> None:
    m = np.linspace(-np.pi, np.pi, 101)
    for e in (0.0, 0.01, 0.1, 0.7):
        big_e = eccentric_anomaly(m, np.full_like(m, e))
        assert np.allclose(big_e - e * np.sin(big_e), m, atol=1e-12)
    assert wrap_week(np.array([604_800.0 - 1_800.0]))[0] == pytest.approx(-1_800.0)
    assert wrap_week(np.array([-400_000.0]))[0] == pytest.approx(204_800.0)


def test_a_truncated_navigation_file_spoils_only_its_cut_record(tmp_path: Path) -> None:
    """The MatRTKLIB navigation file cut in the middle of its last record (its toe missing, as a
    transfer cut short leaves it): every other satellite gets the record it gets from the whole
    file; the cut one is never chosen."""
    from gnss.rinex import read_nav
    from gnss.rtk.broadcast import BroadcastNav

    whole_path = Path(__file__).parents[1] / "data" / "gnss" / "rinex" / "matstatic_base.nav"
    lines = whole_path.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.nav"
    cut.write_text("".join(lines[:-6]))
    whole, short = BroadcastNav(read_nav(whole_path), "GECJ"), BroadcastNav(read_nav(cut), "GECJ")
    sats = np.unique(whole._cols["sat"])
    t = float(np.nanmedian(whole._cols["toe_abs"]))
    rows_w, valid_w = whole._kepler_rows(sats, t)
    rows_s, valid_s = short._kepler_rows(sats, t)
    toe_w, toe_s = whole._cols["toe_abs"][rows_w], short._cols["toe_abs"][rows_s]
    same = valid_w & valid_s
    assert (valid_w != valid_s).sum() <= 1 and same.sum() >= 40
    np.testing.assert_array_equal(toe_w[same], toe_s[same])
    assert np.all(np.isfinite(toe_s[valid_s]))
