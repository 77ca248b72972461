"""RTCM 3 streams into the RTK engine, on the NovAtel OEM729 capture (Hiroshima, 2022-12-13).

The capture carries MSM7 for GPS/GLONASS/Galileo/QZSS/BeiDou/NavIC (BeiDou's in three frames
per epoch, with the multiple-message bit), ephemerides 1019/1042/1044/1045/1046 and the
station's surveyed ARP in 1005: that ARP is the truth the single-point solution is judged by.
The observations are checked against pyrtcm's independent decoding of the same frames, and the
zero baseline (the stream as both rover and base) checks the plumbing: its double differences
are exactly zero, so a fixed solution must sit on the base position.
"""

from __future__ import annotations

import io
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from pyrtcm import RTCMReader
from pyrtcm.rtcmhelpers import parse_msm

from gnss.geodesy import ecef_to_enu, ecef_to_geodetic, geodetic_to_ecef
from gnss.rtcm.decode import decode
from gnss.rtcm.ephemeris import KeplerEphemeris
from gnss.rtcm.framing import RtcmFramer
from gnss.rtcm.station import StationArp
from gnss.rtk.broadcast import WEEK_S, BroadcastNav
from gnss.rtk.obsdata import ObsSet
from gnss.rtk.options import RtkOptions
from gnss.rtk.posfile import PosSolutions
from gnss.rtk.rtcm_input import obsset_from_rtcm, read_stream, solve_rtcm
from gnss.rtk.solve import solve_epochs

F64 = NDArray[np.float64]
CAPTURE = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
CLIGHT = 299_792_458.0
# carriers from the interface documents, written out here rather than taken from gnss.rtcm.signals
CARRIER_HZ = {
    "G": {"1C": 1575.42e6, "2W": 1227.60e6},
    "E": {"1C": 1575.42e6, "7Q": 1207.14e6},
    "C": {"2I": 1561.098e6, "7I": 1207.14e6},
    "J": {"1C": 1575.42e6, "2S": 1227.60e6},
}
PYRTCM_SYSTEM = {"GPS": "G", "GALILEO": "E", "BEIDOU": "C", "QZSS": "J"}


@pytest.fixture(scope="module")
def raw() -> bytes:
    return CAPTURE.read_bytes()


@pytest.fixture(scope="module")
def arp(raw: bytes) -> F64:
    station = next(r for r in map(decode, RtcmFramer().feed(raw)) if isinstance(r, StationArp))
    return np.asarray(station.ecef_m, dtype=np.float64)


@pytest.fixture(scope="module")
def single(raw: bytes) -> tuple[ObsSet, BroadcastNav]:
    data, nav, base = obsset_from_rtcm(raw, None, "GECJ", 2)
    assert base is None
    return data, nav


def enu_error(sol: PosSolutions, truth: F64) -> F64:
    ecef = geodetic_to_ecef(sol.llh[:, 0], sol.llh[:, 1], sol.llh[:, 2])
    lat, lon, h = ecef_to_geodetic(truth)
    return np.asarray(ecef_to_enu(ecef, lat, lon, h), dtype=np.float64)


def test_epochs_signals_and_time(single: tuple[ObsSet, BroadcastNav]) -> None:
    data, _ = single
    # one minute at 1 Hz; the first epoch's 1077 was cut by the start of the capture
    assert data.rover.t_gpst_s.size == 60
    assert np.all(np.diff(data.rover.t_gpst_s) == 1.0)
    assert data.rover.time[0] == np.datetime64("2022-12-13T01:09:22", "ns")  # GPST, week 2240
    assert data.rover.t_gpst_s[0] == 2240 * WEEK_S + 176962.0
    assert data.signals == {"G": ("1C", "2W"), "E": ("1C", "7Q"), "C": ("2I", "7I"), "J": ("1C", "2S")}
    assert set(data.systems.tolist()) == {"G", "E", "C", "J"}  # GLONASS and NavIC left out
    # BeiDou's MSM7 comes in three frames per epoch: all 21 satellites in every epoch (C05's
    # B1I drops out in one, and comes back with its lock time reset)
    bds = data.systems == "C"
    assert bds.sum() == 21
    assert np.isfinite(data.rover.pr_m[:, bds]).any(axis=2).all()
    c05 = data.sats.tolist().index("C05")
    assert np.isnan(data.rover.pr_m[47, c05, 0])
    assert data.rover.lli[48, c05, 0] == 1
    # B2I is a BDS-2 signal: BDS-3 (C19 and up) have no second slot, like RTKLIB's 2.4.3 plan
    bds3 = bds & (data.sats >= "C19")
    assert np.isnan(data.rover.cp_cyc[:, bds3, 1]).all()
    assert np.isfinite(data.rover.cp_cyc[:, bds & ~bds3, 1]).all()


def _pyrtcm_cells(raw: bytes) -> list[tuple[float, str, str, dict[str, float], dict[str, float]]]:
    """(GPST time of week, satellite, signal, pyrtcm's satellite fields, cell fields) of every
    MSM7 cell of GPS, Galileo, BeiDou and QZSS."""
    out = []
    for _, msg in RTCMReader(io.BytesIO(raw), quitonerror=0):
        if msg is None or not getattr(msg, "ismsm", False):
            continue
        meta, sats, cells = parse_msm(msg)
        system = PYRTCM_SYSTEM.get(meta["gnss"])
        if system is None:
            continue
        tow = meta["epoch"] / 1000.0 + (14.0 if system == "C" else 0.0)
        by_prn = {s["PRN"]: s for s in sats}
        for cell in cells:
            prn = int(cell["CELLPRN"]) - (192 if system == "J" else 0)
            out.append((tow, f"{system}{prn:02d}", cell["CELLSIG"], by_prn[cell["CELLPRN"]], cell))
    return out


def test_observables_agree_with_pyrtcm(raw: bytes, single: tuple[ObsSet, BroadcastNav]) -> None:
    data, _ = single
    rv = data.rover
    row_of = {float(t % WEEK_S): k for k, t in enumerate(rv.t_gpst_s.tolist())}
    col_of = {s: i for i, s in enumerate(data.sats.tolist())}
    compared = 0
    for tow, sat, sig, s, c in _pyrtcm_cells(raw):
        slots = data.signals[sat[0]]
        if sig not in slots:
            continue
        k, i, f = row_of[tow], col_of[sat], slots.index(sig)
        rough_ms = s["DF397"] + s["DF398"]
        lam = CLIGHT / CARRIER_HZ[sat[0]][sig]
        assert rv.pr_m[k, i, f] == pytest.approx(CLIGHT / 1000 * (rough_ms + c["DF405"]), abs=1e-6)
        assert rv.cp_cyc[k, i, f] == pytest.approx(CLIGHT / 1000 * (rough_ms + c["DF406"]) / lam, abs=1e-6)
        assert rv.dop_hz[k, i, f] == pytest.approx(-(s["DF399"] + c["DF404"]) / lam, abs=1e-6)
        assert rv.cn0_dbhz[k, i, f] == c["DF408"]
        compared += 1
    # and nothing else: every value in the chosen slots is one of those cells
    assert compared == int(np.isfinite(rv.pr_m).sum()) == int(np.isfinite(rv.cp_cyc).sum())
    assert compared > 4000


def test_loss_of_lock_follows_the_lock_time_indicator(
    raw: bytes, single: tuple[ObsSet, BroadcastNav]
) -> None:
    """RTKLIB's rule on pyrtcm's DF407 (MSM7 lock time indicator): the indicator went down since
    the signal's previous epoch, or was zero then and now; DF420 (half-cycle) adds 3."""
    data, _ = single
    row_of = {float(t % WEEK_S): k for k, t in enumerate(data.rover.t_gpst_s.tolist())}
    col_of = {s: i for i, s in enumerate(data.sats.tolist())}
    expected = np.zeros_like(data.rover.lli)
    previous: dict[tuple[str, str], int] = {}
    for tow, sat, sig, _, c in sorted(_pyrtcm_cells(raw), key=lambda x: x[0]):
        slots = data.signals[sat[0]]
        lock, prev = int(c["DF407"]), previous.get((sat, sig), 0)
        previous[(sat, sig)] = lock
        if sig in slots:
            flag = int(lock < prev or (lock == 0 and prev == 0)) | (3 if c["DF420"] else 0)
            expected[row_of[tow], col_of[sat], slots.index(sig)] = flag
    np.testing.assert_array_equal(data.rover.lli, expected)
    # the capture has real resets: QZSS J04 restarts its lock every few seconds
    assert (data.rover.lli[:, col_of["J04"], 0] & 1).sum() >= 8


def test_single_point_lands_metres_from_the_surveyed_antenna(
    single: tuple[ObsSet, BroadcastNav], arp: F64
) -> None:
    """First-frequency code, broadcast group delays, Saastamoinen and Klobuchar: RTCM carries no
    ionosphere coefficients, so RTKLIB's defaults apply, and they remove only part of a daytime
    ionosphere near solar maximum. Measured: 1.9 m horizontal and 1.5 m up, stable over the
    minute (the ionosphere-free solution of test_spp is 1.2-1.4 m). Bound: 3 m horizontal and
    4 m 3-D on every epoch; without any model ionosphere it is 4.5 m, mostly up."""
    data, nav = single
    sol = solve_epochs(data, nav, RtkOptions(mode="single"), None)
    assert sol.q.size == 60
    assert (sol.q == 5).all()
    assert sol.ns.min() >= 30
    enu = enu_error(sol, arp)
    assert np.hypot(enu[:, 0], enu[:, 1]).max() < 3.0
    assert np.linalg.norm(enu, axis=1).max() < 4.0
    assert np.median(np.linalg.norm(enu, axis=1)) < 3.0


def test_zero_baseline_fixes_on_the_base_position(raw: bytes, arp: F64) -> None:
    data, nav, base = obsset_from_rtcm(raw, raw, "GECJ", 2)
    assert base is not None
    np.testing.assert_array_equal(base, arp)
    assert (data.base_index == np.arange(60)).all()
    sol = solve_epochs(data, nav, RtkOptions(mode="kinematic", freqs=2), base)
    assert (sol.q == 1).all()
    enu = enu_error(sol, arp)
    # measured 0.1 mm horizontal, 1.1-1.4 mm up (the troposphere is evaluated at the SPP prior)
    assert np.abs(enu[:, :2]).max() < 0.001
    assert np.abs(enu[:, 2]).max() < 0.003


def test_solve_rtcm_files(tmp_path: Path, raw: bytes, arp: F64) -> None:
    path = tmp_path / "rover.rtcm"
    path.write_bytes(raw)
    sol = solve_rtcm(path, path, RtkOptions(mode="kinematic", systems="CE", freqs=1))
    assert (sol.q == 1).all()
    assert np.abs(enu_error(sol, arp)).max() < 0.003
    single = solve_rtcm(path, None, RtkOptions(mode="single", systems="C"))
    assert np.linalg.norm(enu_error(single, arp), axis=1).max() < 10.0
    with pytest.raises(ValueError, match="needs a base"):
        solve_rtcm(path, None, RtkOptions(mode="kinematic"))


def test_garbage_between_frames_changes_nothing(raw: bytes, single: tuple[ObsSet, BroadcastNav]) -> None:
    data, nav = single
    frames = RtcmFramer().feed(raw)
    rng = np.random.default_rng(6)
    chunks, garbage = [], 0
    for frame in frames:
        noise = rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8).tobytes()
        noise += bytes([0xD3, 0x00, int(rng.integers(1, 256))])  # plausible headers with bad CRCs
        chunks += [noise, frame.raw]
        garbage += len(noise)
    tail = b"\xd3\x03\xff" + rng.integers(0, 256, 100, dtype=np.uint8).tobytes()
    # a false preamble claiming 1023 bytes near the end must not hold back the last frames
    chunks.insert(len(chunks) - 4, tail)
    garbage += len(tail)
    garbled = b"".join(chunks)

    from_frames, _, _ = obsset_from_rtcm(frames, None, "GECJ", 2)  # frames framed elsewhere
    np.testing.assert_array_equal(from_frames.rover.cp_cyc, data.rover.cp_cyc)

    stream = read_stream(garbled)
    assert stream.frames == len(frames)
    assert stream.bytes_skipped == garbage
    again, nav2, _ = obsset_from_rtcm(garbled, None, "GECJ", 2)
    np.testing.assert_array_equal(again.sats, data.sats)
    assert again.signals == data.signals
    for f in fields(data.rover):
        np.testing.assert_array_equal(getattr(again.rover, f.name), getattr(data.rover, f.name))
    for t in data.rover.t_gpst_s[::10].tolist():
        a, b = nav.select(data.sats, t), nav2.select(data.sats, t)
        np.testing.assert_array_equal(a.valid, b.valid)
        np.testing.assert_array_equal(a.tgd_s, b.tgd_s)
        for f in fields(a.eph):
            np.testing.assert_array_equal(getattr(a.eph, f.name), getattr(b.eph, f.name))


def test_navigation_from_rtcm_ephemerides(raw: bytes, single: tuple[ObsSet, BroadcastNav]) -> None:
    data, nav = single
    records = read_stream(raw).ephemerides
    t = float(data.rover.t_gpst_s[30])
    sel = nav.select(data.sats, t)
    assert sel.valid.all()  # every tracked satellite of the four systems has an ephemeris
    by = {(r.system, r.prn, r.msg_type): r for r in records}
    e = data.sats.tolist().index("E24")
    assert sel.tgd_s[e] == by[("E", 24, 1046)].tgd_s[1]  # I/NAV preferred, its BGD E5b/E1
    c = data.sats.tolist().index("C08")
    assert sel.tgd_s[c] == by[("C", 8, 1042)].tgd_s[0]  # TGD1 (B1I)
    # the broadcast weeks (GPS 192 = 2240 mod 1024, GST 1216, BDT 884) and the reception times
    # give the same absolute toe
    by_weeks = BroadcastNav.from_ephemerides(records)
    by_time = BroadcastNav.from_ephemerides(records, near_gpst_s=t)
    for n in (by_weeks, by_time):
        s = n.select(data.sats, t)
        np.testing.assert_array_equal(s.valid, sel.valid)
        np.testing.assert_array_equal(s.eph.toe_s, sel.eph.toe_s)
        np.testing.assert_array_equal(s.eph.m0_rad, sel.eph.m0_rad)
    # a week later nothing is valid: the toe is absolute, not a time of week
    assert not nav.select(data.sats, t + WEEK_S).valid.any()
    assert all(isinstance(r, KeplerEphemeris) for r in records)


def test_gps_qzss_only_stream_resolves_its_week_from_an_approximate_date(raw: bytes) -> None:
    """GPS/QZSS send their week modulo 1024 (192 here): without Galileo or BeiDou ephemerides,
    any date within ten years of the data places it (RTKLIB uses the computer's clock)."""
    approx = np.datetime64("2025-06-01T00:00:00", "ns")
    data, nav, _ = obsset_from_rtcm(raw, None, "GJ", 1, approx_time=approx)
    assert data.rover.time[0] == np.datetime64("2022-12-13T01:09:22", "ns")
    assert nav.select(data.sats, float(data.rover.t_gpst_s[0])).valid.all()


@pytest.mark.parametrize(
    ("name", "epochs", "signals"),
    [
        # u-blox F9P base: tags at .001 s (its clock is not steered), no ephemerides
        ("pygnssutils_pygpsdata-rtcm3.log", 158, {"G": ("1C", "2L"), "E": ("1C", "7Q"), "C": ("2I", "7I")}),
        # IGS MGEX stream with MSM1077/1097 and an unknown type 63
        ("gpsd_rtcm3.2.log", 24, {"G": ("1C", "2W"), "E": ("1X", None)}),
        # MSM3 only: no whole milliseconds, nothing usable
        ("pyrtcm_pygpsdata-RTCMMSM3.log", 0, {}),
    ],
)
def test_other_captures_assemble(name: str, epochs: int, signals: dict[str, tuple[str | None, ...]]) -> None:
    raw = (CAPTURE.parent / name).read_bytes()
    data, _, _ = obsset_from_rtcm(raw, None, "GECJ", 2, approx_time=np.datetime64("2024-01-01", "ns"))
    assert data.rover.t_gpst_s.size == epochs
    assert {k: v for k, v in data.signals.items() if v != (None, None)} == signals
