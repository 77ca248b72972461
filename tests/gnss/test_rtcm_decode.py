"""Decoding cross-checked field by field against pyrtcm's parse of every relevant real frame.

pyrtcm returns scaled data fields (DFnnn) with the broadcast units (semicircles, km, ms); the
expected values here are rebuilt from those with the test's own constants, so a wrong scale,
width, sign convention or carrier in our tables shows up as a mismatch. The types the captures
hold only a few of are also read from payloads of random bits (the message type set, the rest
as drawn): pyrtcm's field table and ours must agree on every count, mask, sign and width.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyrtcm import RTCMMessage, RTCMReader

from gnss.rtcm import (
    AntennaDescriptor,
    GlonassBiases,
    GlonassEphemeris,
    KeplerEphemeris,
    LegacyObs,
    MsmEpoch,
    ReceiverAntennaInfo,
    RtcmFramer,
    StationArp,
    SystemParameters,
    TextMessage,
    Unknown,
    decode,
    decode_msm,
)

DATA = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3"
FILES = sorted(p for p in DATA.iterdir() if p.suffix in {".log", ".rtcm", ".rtcm3"})
C = 299_792_458.0
RANGE_MS = C / 1000.0
MSM_TYPES = {10 * s + n for s in (107, 108, 109, 110, 111, 112, 113) for n in range(1, 8)}
EPH_TYPES = {1019, 1020, 1041, 1042, 1044, 1045, 1046}
LEGACY = {1001, 1002, 1003, 1004, 1009, 1010, 1011, 1012}

# (system letter, RINEX band digit) -> carrier Hz; GLONASS bands take the FDMA channel.
CARRIER = {
    ("G", "1"): 1575.42e6,
    ("G", "2"): 1227.60e6,
    ("G", "5"): 1176.45e6,
    ("S", "1"): 1575.42e6,
    ("S", "5"): 1176.45e6,
    ("E", "1"): 1575.42e6,
    ("E", "5"): 1176.45e6,
    ("E", "7"): 1207.14e6,
    ("E", "8"): 1191.795e6,
    ("E", "6"): 1278.75e6,
    ("J", "1"): 1575.42e6,
    ("J", "2"): 1227.60e6,
    ("J", "5"): 1176.45e6,
    ("J", "6"): 1278.75e6,
    ("C", "2"): 1561.098e6,
    ("C", "6"): 1268.52e6,
    ("C", "7"): 1207.14e6,
    ("C", "5"): 1176.45e6,
    ("C", "1"): 1575.42e6,
    ("I", "5"): 1176.45e6,
}
SYSTEM = {107: "G", 108: "R", 109: "E", 110: "S", 111: "J", 112: "C", 113: "I"}
PRN_OFFSET = {"J": 192, "S": 119}


def carrier(system: str, code: str, channel: float) -> float:
    if system == "R":
        return (1602e6 + channel * 0.5625e6) if code[0] == "1" else (1246e6 + channel * 0.4375e6)
    return CARRIER[(system, code[0])]


def msm4_lock_s(ind: int) -> float:
    """RTCM 10403.3 Table 3.5-74 (DF402)."""
    return 0.0 if ind == 0 else 2.0 ** (ind + 4) / 1000


def msm6_lock_s(ind: int) -> float:
    """RTCM 10403.3 Table 3.5-75 (DF407), written as the standard's row list."""
    rows = [(0, 63, 1, 0), (64, 95, 2, -64), (96, 127, 4, -256), (128, 159, 8, -768), (160, 191, 16, -2048)]
    rows += [(192, 223, 32, -5120), (224, 255, 64, -12288), (256, 287, 128, -28672), (288, 319, 256, -65536)]
    rows += [(320, 351, 512, -147456), (352, 383, 1024, -327680), (384, 415, 2048, -720896)]
    rows += [(416, 447, 4096, -1572864), (448, 479, 8192, -3407872), (480, 511, 16384, -7340032)]
    rows += [(512, 543, 32768, -15728640), (544, 575, 65536, -33554432), (576, 607, 131072, -71303168)]
    rows += [(608, 639, 262144, -150994944), (640, 671, 524288, -318767104), (672, 703, 1048576, -671088640)]
    rows += [(704, 704, 1, 67108864 - 704)]
    for lo, hi, mult, off in rows:
        if lo <= ind <= hi:
            return (mult * ind + off) / 1000
    return math.nan


def legacy_lock_s(ind: int) -> float:
    """RTCM 10403.3 Table 3.4-2 (DF013)."""
    for hi, mult, off in ((23, 1, 0), (47, 2, -24), (71, 4, -120), (95, 8, -408), (119, 16, -1176)):
        if ind <= hi:
            return float(mult * ind + off)
    return float(32 * ind - 3096) if ind < 127 else 937.0


@cache
def parsed(path: Path) -> tuple[tuple[bytes, Any], ...]:
    reader = RTCMReader(io.BytesIO(path.read_bytes()), quitonerror=0)
    return tuple((raw, msg) for raw, msg in reader if msg is not None)


def frames_of(types: set[int]) -> Iterator[tuple[str, bytes, Any]]:
    for path in FILES:
        for raw, msg in parsed(path):
            if int(msg.identity) in types:
                yield path.name, raw, msg


def close(ours: float, theirs: float, tol: float) -> bool:
    return (math.isnan(ours) and math.isnan(theirs)) or abs(ours - theirs) <= tol


def test_our_framer_feeds_the_same_frames() -> None:
    for path in FILES:
        assert [f.raw for f in RtcmFramer().feed(path.read_bytes())] == [r for r, _ in parsed(path)]


# --------------------------------------------------------------------------------------------- MSM


def check_msm(ep: MsmEpoch, msg: Any) -> int:
    mt = int(msg.identity)
    level = mt % 10
    system = SYSTEM[mt // 10]
    assert (ep.msg_type, ep.system, ep.msm, ep.station_id) == (mt, system, level, msg.DF003)
    if system == "R":
        assert ep.glo_day_of_week == msg.DF416
        assert round(ep.epoch_s * 1000) == msg.DF034
    else:
        tow_df = {"G": "DF004", "E": "DF248", "S": "DF004", "J": "DF428", "C": "DF427", "I": "DF546"}[system]
        assert round(ep.epoch_s * 1000) == getattr(msg, tow_df)
        assert ep.glo_day_of_week is None
    assert ep.multiple_message == bool(msg.DF393)
    assert (ep.iods, ep.clock_steering, ep.external_clock) == (msg.DF409, msg.DF411, msg.DF412)
    assert (ep.smoothing, ep.smoothing_interval) == (bool(msg.DF417), msg.DF418)
    assert (ep.nsat, ep.ncell) == (msg.NSat, msg.NCell)

    channel = np.full(ep.nsat, np.nan)
    for i in range(ep.nsat):
        n = f"{i + 1:02d}"
        assert int(getattr(msg, f"PRN_{n}")) == ep.sat_prn[i] + PRN_OFFSET.get(system, 0)
        mod = getattr(msg, f"DF398_{n}")
        if level >= 4:
            whole = getattr(msg, f"DF397_{n}")
            expected = math.nan if whole == 255 else whole + mod
        else:
            expected = mod
        assert close(ep.sat_rough_range_ms[i], expected, 1e-12)
        if level in (5, 7):
            ext = getattr(msg, f"DF419_{n}") if system == "R" else getattr(msg, f"ExtSatInfo_{n}")
            assert ep.sat_ext_info[i] == ext
            if system == "R" and ext <= 13:
                channel[i] = ext - 7
            rate = getattr(msg, f"DF399_{n}")
            assert close(ep.sat_rough_rate_mps[i], math.nan if rate == -8192 else rate, 0)
        else:
            assert ep.sat_ext_info[i] == -1 and math.isnan(ep.sat_rough_rate_mps[i])
    np.testing.assert_array_equal(ep.sat_glo_channel, channel)

    fine_pr, fine_cp, lock, cnr = (
        ("DF405", "DF406", "DF407", "DF408") if level >= 6 else ("DF400", "DF401", "DF402", "DF403")
    )
    pr_invalid = -(2**19) * 2**-29 if level >= 6 else -(2**14) * 2**-24
    cp_invalid = -(2**23) * 2**-31 if level >= 6 else -(2**21) * 2**-29
    for k in range(ep.ncell):
        n = f"{k + 1:02d}"
        i = int(ep.sat_index[k])
        assert int(getattr(msg, f"CELLPRN_{n}")) == ep.prn[k] + PRN_OFFSET.get(system, 0)
        code = getattr(msg, f"CELLSIG_{n}")
        assert ep.code[k] == code
        f = carrier(system, code, channel[i])
        assert close(ep.wavelength_m[k], C / f, 1e-12)
        rough = ep.sat_rough_range_ms[i]
        if hasattr(msg, f"{fine_pr}_{n}"):
            fine = getattr(msg, f"{fine_pr}_{n}")
            expected = math.nan if fine == pr_invalid else RANGE_MS * (rough + fine)
            assert close(ep.pr_m[k], expected, 1e-3)
        else:
            assert math.isnan(ep.pr_m[k])
        if hasattr(msg, f"{fine_cp}_{n}"):
            fine = getattr(msg, f"{fine_cp}_{n}")
            expected = math.nan if fine == cp_invalid else RANGE_MS * (rough + fine) * f / C
            assert close(ep.cp_cyc[k], expected, 1e-5)
            ind = getattr(msg, f"{lock}_{n}")
            assert ep.lock_ind[k] == ind
            assert ep.lock_s[k] == (msm6_lock_s(ind) if level >= 6 else msm4_lock_s(ind))
            assert ep.half_cycle[k] == bool(getattr(msg, f"DF420_{n}"))
        else:
            assert math.isnan(ep.cp_cyc[k]) and ep.lock_ind[k] == -1
        if level >= 4:
            c = getattr(msg, f"{cnr}_{n}")
            assert close(ep.cn0_dbhz[k], math.nan if c == 0 else c, 1e-12)
        else:
            assert math.isnan(ep.cn0_dbhz[k])
        if level in (5, 7):
            fine = getattr(msg, f"DF404_{n}")
            expected = math.nan if round(fine * 1e4) == -16384 else ep.sat_rough_rate_mps[i] + fine
            assert close(ep.prr_mps[k], expected, 1e-9)
            assert close(ep.doppler_hz[k], -expected * f / C, 1e-6)
        else:
            assert math.isnan(ep.prr_mps[k])
    return ep.ncell


# The captures that carry no MSM at all (legacy 1004/1012 RTK and one-of-each samples without
# MSM), named so that a capture losing its MSM frames fails below instead of passing empty.
WITHOUT_MSM = {"rtklib_testglo.rtcm3", "gpsd_rtcm3.bndm.log"}


def test_the_captures_without_msm_are_the_named_ones() -> None:
    assert {
        p.name for p in FILES if not any(int(m.identity) in MSM_TYPES for _, m in parsed(p))
    } == WITHOUT_MSM


@pytest.mark.parametrize("path", [p for p in FILES if p.name not in WITHOUT_MSM], ids=lambda p: p.name)
def test_every_msm_frame_matches_pyrtcm(path: Path) -> None:
    frames = [(raw, msg) for raw, msg in parsed(path) if int(msg.identity) in MSM_TYPES]
    assert frames, f"{path.name} has no MSM frame to check"
    cells = 0
    for raw, msg in frames:
        ep = decode(raw[3:-3])
        assert isinstance(ep, MsmEpoch), msg.identity
        cells += check_msm(ep, msg)
    assert cells > 0


def test_msm_coverage() -> None:
    types = {int(m.identity) for _, _, m in frames_of(MSM_TYPES)}
    assert {1073, 1083, 1093, 1076, 1086, 1096, 1106, 1116, 1126, 1136} <= types
    assert {1077, 1087, 1097, 1107, 1117, 1127, 1137} <= types
    total = sum(1 for _ in frames_of(MSM_TYPES))
    assert total > 1000


def test_beidou_msm7_b1i_b2i_b3i_physics() -> None:
    """On the Hiroshima capture every BeiDou cell is B1I/B3I/B2I with ranges of a real sky."""
    eps = [
        decode(r[3:-3]) for r, m in parsed(DATA / "qzsl6tool_20221213-010900.rtcm") if m.identity == "1127"
    ]
    assert len(eps) == 180
    for ep in eps:
        assert isinstance(ep, MsmEpoch)
        assert set(ep.code) <= {"2I", "6I", "7I"}
        assert np.all((ep.pr_m > 19e6) & (ep.pr_m < 43e6))
        ok = np.isfinite(ep.cp_cyc)
        # carrier phase in metres agrees with the pseudorange to within the code noise + ambiguity offset
        assert np.all(np.abs(ep.cp_cyc[ok] * ep.wavelength_m[ok] - ep.pr_m[ok]) < 2000)
        assert np.all(ep.cn0_dbhz[np.isfinite(ep.cn0_dbhz)] > 15)


def test_glonass_msm6_needs_channels_for_phase() -> None:
    msgs = parsed(DATA / "pyrtcm_pygpsdata-NTRIP-USCL00CHL0.log")
    raw = next(r for r, m in msgs if m.identity == "1086")
    msm7 = decode(next(r for r, m in msgs if m.identity == "1087")[3:-3])
    assert isinstance(msm7, MsmEpoch)
    plain = decode_msm(raw[3:-3])
    assert np.all(np.isnan(plain.cp_cyc)) and np.all(np.isfinite(plain.pr_m))
    channels = {int(p): int(c) for p, c in zip(msm7.sat_prn, msm7.sat_glo_channel, strict=True) if c == c}
    with_ch = decode_msm(raw[3:-3], glo_channels=channels)
    known = np.isin(with_ch.prn, list(channels))
    assert known.any()
    assert np.all(np.isfinite(with_ch.cp_cyc[known]))
    lam = with_ch.wavelength_m[known]
    assert np.all((lam > 0.18) & (lam < 0.25))


# ------------------------------------------------------------------------------------- station


def test_station_arp_matches_pyrtcm() -> None:
    n = 0
    for _, raw, msg in frames_of({1005, 1006}):
        arp = decode(raw[3:-3])
        assert isinstance(arp, StationArp)
        assert (arp.msg_type, arp.station_id, arp.itrf_year) == (int(msg.identity), msg.DF003, msg.DF021)
        assert (arp.gps, arp.glonass, arp.galileo) == (bool(msg.DF022), bool(msg.DF023), bool(msg.DF024))
        assert (arp.reference_station, arp.single_oscillator) == (bool(msg.DF141), bool(msg.DF142))
        assert arp.quarter_cycle == msg.DF364
        assert arp.ecef_m.shape == (3,) and arp.ecef_m.dtype == np.float64
        np.testing.assert_allclose(arp.ecef_m, [msg.DF025, msg.DF026, msg.DF027], rtol=0, atol=1e-6)
        if msg.identity == "1006":
            assert arp.antenna_height_m == pytest.approx(msg.DF028, abs=1e-9)
        else:
            assert arp.antenna_height_m is None
        assert 6.3e6 < float(np.linalg.norm(arp.ecef_m)) < 6.4e6
        n += 1
    assert n > 200


def test_hiroshima_arp_documented_value() -> None:
    raw = next(r for r, m in parsed(DATA / "qzsl6tool_20221213-010900.rtcm") if m.identity == "1005")
    arp = decode(raw[3:-3])
    assert isinstance(arp, StationArp)
    np.testing.assert_allclose(arp.ecef_m, [-3551876.8287, 3887786.8598, 3586946.3873], rtol=0, atol=5e-5)


def _chars(msg: Any, df: str, count: int) -> str:
    return "".join(getattr(msg, f"{df}_{i:02d}") for i in range(1, count + 1))


def test_1033_descriptors_match_pyrtcm() -> None:
    n = 0
    for _, raw, msg in frames_of({1033}):
        info = decode(raw[3:-3])
        assert isinstance(info, ReceiverAntennaInfo)
        assert info.station_id == msg.DF003
        assert info.antenna_descriptor == _chars(msg, "DF030", msg.DF029)
        assert info.antenna_setup_id == msg.DF031
        assert info.antenna_serial == _chars(msg, "DF033", msg.DF032)
        assert info.receiver_type == _chars(msg, "DF228", msg.DF227)
        assert info.receiver_firmware == _chars(msg, "DF230", msg.DF229)
        assert info.receiver_serial == _chars(msg, "DF232", msg.DF231)
        n += 1
    assert n == 64
    first = decode(
        next(r for r, m in parsed(DATA / "qzsl6tool_20221213-010900.rtcm") if m.identity == "1033")[3:-3]
    )
    assert isinstance(first, ReceiverAntennaInfo)
    assert (first.antenna_descriptor, first.receiver_type) == ("JAVGRANT_G5T NONE", "NOV OEM729")


def check_antenna(rec: AntennaDescriptor, msg: Any) -> None:
    assert (rec.msg_type, rec.station_id, rec.setup_id) == (int(msg.identity), msg.DF003, msg.DF031)
    assert rec.descriptor == _chars(msg, "DF030", msg.DF029)
    if rec.msg_type == 1008:
        assert rec.serial == _chars(msg, "DF033", msg.DF032)
    else:
        assert rec.serial is None


def check_system_parameters(rec: SystemParameters, msg: Any) -> None:
    assert (rec.station_id, rec.mjd, rec.seconds_of_day) == (msg.DF003, msg.DF051, msg.DF052)
    assert rec.leap_seconds == msg.DF054 and len(rec.announcements) == msg.DF053
    for i, a in enumerate(rec.announcements, start=1):
        assert a.msg_type == getattr(msg, f"DF055_{i:02d}")
        assert a.synchronous == bool(getattr(msg, f"DF056_{i:02d}"))
        assert a.interval_s == pytest.approx(getattr(msg, f"DF057_{i:02d}"), abs=1e-9)


def check_text(rec: TextMessage, msg: Any) -> None:
    assert (rec.station_id, rec.mjd, rec.seconds_of_day) == (msg.DF003, msg.DF051, msg.DF052)
    assert rec.characters == msg.DF138
    # pyrtcm joins the code units as latin-1 characters (dropping NULs, so none are generated
    # below); we decode them as UTF-8
    units = getattr(msg, "DF140", "").encode("latin-1")
    assert rec.text == units.decode("utf-8", errors="replace")


def check_glonass_biases(rec: GlonassBiases, msg: Any) -> None:
    assert (rec.station_id, rec.aligned) == (msg.DF003, bool(msg.DF421))
    ours = (rec.l1ca_m, rec.l1p_m, rec.l2ca_m, rec.l2p_m)
    for k, (value, df) in enumerate(zip(ours, ("DF423", "DF424", "DF425", "DF426"), strict=True)):
        if getattr(msg, f"DF422_{k + 1}"):
            assert value == pytest.approx(getattr(msg, df), abs=1e-9)
        else:
            assert value is None and not hasattr(msg, df)


STATION_CHECKS: dict[int, tuple[type, Any]] = {
    1007: (AntennaDescriptor, check_antenna),
    1008: (AntennaDescriptor, check_antenna),
    1013: (SystemParameters, check_system_parameters),
    1029: (TextMessage, check_text),
    1230: (GlonassBiases, check_glonass_biases),
}


def test_station_messages_match_pyrtcm() -> None:
    seen: dict[int, int] = {}
    for _, raw, msg in frames_of(set(STATION_CHECKS)):
        mt = int(msg.identity)
        cls, check = STATION_CHECKS[mt]
        rec = decode(raw[3:-3])
        assert isinstance(rec, cls)
        check(rec, msg)
        seen[mt] = seen.get(mt, 0) + 1
    assert seen == {1007: 5, 1008: 10, 1013: 8, 1029: 2, 1230: 169}


def test_station_texts_read_as_sent() -> None:
    recs = [decode(raw[3:-3]) for _, raw, _ in frames_of({1029, 1008})]
    assert TextMessage(0, 58873, 8141, 29, "The ORGN is fully functioning") in recs
    assert AntennaDescriptor(1008, 0, "SEPCHOKE_B3E6   SPKE", 0, "5856") in recs
    biases = [decode(raw[3:-3]) for _, raw, _ in frames_of({1230})]
    assert GlonassBiases(278, False, -71.94, -71.94, -71.94, -71.94) in biases


def random_payload(rng: random.Random, msg_type: int, size: int) -> bytes:
    body = bytearray(rng.randbytes(size))
    body[0] = msg_type >> 4
    body[1] = ((msg_type & 0xF) << 4) | (body[1] & 0xF)
    return bytes(body)


@pytest.mark.parametrize("msg_type", [*sorted(STATION_CHECKS), 1041])
def test_new_types_match_pyrtcm_on_random_bits(msg_type: int) -> None:
    """Random bits cover what the captures do not: every count, sign and mask combination."""
    rng = random.Random(msg_type)
    for _ in range(50):
        payload = random_payload(rng, msg_type, 600)  # the longest: 1008 with 2 x 255 characters
        if msg_type == 1029:
            payload = payload.replace(b"\0", b"\1")
        msg = RTCMMessage(payload=payload)
        rec = decode(payload)
        if msg_type == 1041:
            assert isinstance(rec, KeplerEphemeris)
            check_kepler(rec, msg)
        else:
            cls, check = STATION_CHECKS[msg_type]
            assert isinstance(rec, cls)
            check(rec, msg)
        need = (msg._offset + 7) // 8
        assert decode(payload[: need - 1]) is None


# ----------------------------------------------------------------------------------- ephemerides

PI = math.pi
# our field -> (pyrtcm DF per message type, factor from pyrtcm's unit to ours)
KEPLER_FIELDS: dict[str, dict[int, str]] = {
    "prn": {1019: "DF009", 1041: "DF516", 1044: "DF429", 1042: "DF488", 1045: "DF252", 1046: "DF252"},
    "week": {1019: "DF076", 1041: "DF517", 1044: "DF452", 1042: "DF489", 1045: "DF289", 1046: "DF289"},
    "toe_s": {1019: "DF093", 1041: "DF537", 1044: "DF442", 1042: "DF505", 1045: "DF304", 1046: "DF304"},
    "toc_s": {1019: "DF081", 1041: "DF522", 1044: "DF430", 1042: "DF493", 1045: "DF293", 1046: "DF293"},
    "sqrt_a": {1019: "DF092", 1041: "DF539", 1044: "DF441", 1042: "DF504", 1045: "DF303", 1046: "DF303"},
    "e": {1019: "DF090", 1041: "DF538", 1044: "DF439", 1042: "DF502", 1045: "DF301", 1046: "DF301"},
    "i0_rad": {1019: "DF097", 1041: "DF543", 1044: "DF446", 1042: "DF509", 1045: "DF308", 1046: "DF308"},
    "omega0_rad": {1019: "DF095", 1041: "DF540", 1044: "DF444", 1042: "DF507", 1045: "DF306", 1046: "DF306"},
    "omega_rad": {1019: "DF099", 1041: "DF541", 1044: "DF448", 1042: "DF511", 1045: "DF310", 1046: "DF310"},
    "m0_rad": {1019: "DF088", 1041: "DF536", 1044: "DF437", 1042: "DF500", 1045: "DF299", 1046: "DF299"},
    "delta_n_radps": {
        1019: "DF087",
        1041: "DF524",
        1044: "DF436",
        1042: "DF499",
        1045: "DF298",
        1046: "DF298",
    },
    "omega_dot_radps": {
        1019: "DF100",
        1041: "DF542",
        1044: "DF449",
        1042: "DF512",
        1045: "DF311",
        1046: "DF311",
    },
    "idot_radps": {1019: "DF079", 1041: "DF535", 1044: "DF450", 1042: "DF491", 1045: "DF292", 1046: "DF292"},
    "crs_m": {1019: "DF086", 1041: "DF534", 1044: "DF435", 1042: "DF498", 1045: "DF297", 1046: "DF297"},
    "crc_m": {1019: "DF098", 1041: "DF533", 1044: "DF447", 1042: "DF510", 1045: "DF309", 1046: "DF309"},
    "cus_rad": {1019: "DF091", 1041: "DF530", 1044: "DF440", 1042: "DF503", 1045: "DF302", 1046: "DF302"},
    "cuc_rad": {1019: "DF089", 1041: "DF529", 1044: "DF438", 1042: "DF501", 1045: "DF300", 1046: "DF300"},
    "cis_rad": {1019: "DF096", 1041: "DF532", 1044: "DF445", 1042: "DF508", 1045: "DF307", 1046: "DF307"},
    "cic_rad": {1019: "DF094", 1041: "DF531", 1044: "DF443", 1042: "DF506", 1045: "DF305", 1046: "DF305"},
    "af0_s": {1019: "DF084", 1041: "DF518", 1044: "DF433", 1042: "DF496", 1045: "DF296", 1046: "DF296"},
    "af1_sps": {1019: "DF083", 1041: "DF519", 1044: "DF432", 1042: "DF495", 1045: "DF295", 1046: "DF295"},
    "af2_sps2": {1019: "DF082", 1041: "DF520", 1044: "DF431", 1042: "DF494", 1045: "DF294", 1046: "DF294"},
    "iode": {1019: "DF071", 1041: "DF525", 1044: "DF434", 1042: "DF492", 1045: "DF290", 1046: "DF290"},
    "iodc": {1019: "DF085", 1041: "DF525", 1044: "DF456", 1042: "DF497", 1045: "DF290", 1046: "DF290"},
    "accuracy_index": {
        1019: "DF077",
        1041: "DF521",
        1044: "DF453",
        1042: "DF490",
        1045: "DF291",
        1046: "DF286",
    },
}
SEMICIRCLES = {
    "i0_rad",
    "omega0_rad",
    "omega_rad",
    "m0_rad",
    "delta_n_radps",
    "omega_dot_radps",
    "idot_radps",
}
SQRT_A = {"G": (5150, 5160), "J": (6400, 6500), "E": (5435, 5445), "C": (5280, 6500)}


def check_kepler(eph: KeplerEphemeris, msg: Any) -> None:
    mt = int(msg.identity)
    for field, dfs in KEPLER_FIELDS.items():
        theirs = getattr(msg, dfs[mt]) * (PI if field in SEMICIRCLES else 1.0)
        ours = getattr(eph, field)
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-30), (mt, field)
    tgd_dfs = {
        1019: ("DF101",),
        1044: ("DF455",),
        1042: ("DF513", "DF514"),
        1045: ("DF312",),
        1041: ("DF523",),
    }
    tgd_dfs[1046] = ("DF312", "DF313")
    unit = 1e-9 if mt == 1042 else 1.0  # pyrtcm gives BeiDou TGD in ns
    tgd = tuple(getattr(msg, df) * unit for df in tgd_dfs[mt])
    assert eph.tgd_s == pytest.approx(tgd, rel=1e-12, abs=1e-30)
    if mt in (1019, 1044):
        health = msg.DF102 if mt == 1019 else msg.DF454
        fit = msg.DF137 if mt == 1019 else msg.DF457
        l2 = msg.DF078 if mt == 1019 else msg.DF451
        assert (eph.health, eph.fit_interval, eph.l2_codes) == (health, fit, l2)
    elif mt == 1042:
        assert eph.health == msg.DF515
    elif mt == 1045:
        assert eph.health == (msg.DF314 << 4) | (msg.DF315 << 3)
    elif mt == 1041:
        assert eph.health == (msg.DF527 << 1) | msg.DF528
    else:
        assert eph.health == (msg.DF316 << 7) | (msg.DF317 << 6) | (msg.DF287 << 1) | msg.DF288
    if mt == 1041:
        return  # the captures' NavIC messages carry a 0x55 filler pattern, not an orbit
    lo, hi = SQRT_A[eph.system]
    assert lo < eph.sqrt_a < hi
    assert 0 <= eph.e < 0.1
    assert abs(eph.i0_rad) < 1.1 and abs(eph.omega0_rad) <= PI and abs(eph.m0_rad) <= PI
    assert 0 <= eph.toe_s < 604800 and 0 <= eph.toc_s < 604800
    assert abs(eph.af0_s) < 0.07 and abs(eph.omega_dot_radps) < 1e-8


def test_every_kepler_ephemeris_matches_pyrtcm() -> None:
    seen: dict[int, int] = {}
    for _, raw, msg in frames_of(EPH_TYPES - {1020}):
        eph = decode(raw[3:-3])
        assert isinstance(eph, KeplerEphemeris)
        check_kepler(eph, msg)
        seen[eph.msg_type] = seen.get(eph.msg_type, 0) + 1
    assert set(seen) == {1019, 1041, 1042, 1044, 1045, 1046}
    assert sum(seen.values()) > 200


def _sm(raw: int, bits: int) -> int:
    """pyrtcm leaves some GLONASS fields unscaled; it does apply the sign-magnitude sign."""
    assert abs(raw) < 2 ** (bits - 1)
    return raw


def test_every_glonass_ephemeris_matches_pyrtcm() -> None:
    n = 0
    for _, raw, msg in frames_of({1020}):
        eph = decode(raw[3:-3])
        assert isinstance(eph, GlonassEphemeris)
        assert (eph.slot, eph.channel) == (msg.DF038, msg.DF040 - 7)
        assert eph.tb_s == msg.DF110 * 900
        tk = msg.DF107
        assert eph.tk_s == (tk >> 7) * 3600 + ((tk >> 1) & 0x3F) * 60 + (tk & 1) * 30
        np.testing.assert_allclose(eph.pos_m, np.array([msg.DF112, msg.DF115, msg.DF118]) * 1e3, atol=1e-9)
        np.testing.assert_allclose(eph.vel_mps, np.array([msg.DF111, msg.DF114, msg.DF117]) * 1e3, atol=1e-12)
        np.testing.assert_allclose(
            eph.acc_mps2, np.array([msg.DF113, msg.DF116, msg.DF119]) * 1e3, atol=1e-15
        )
        assert eph.gamma_n == pytest.approx(_sm(msg.DF121, 11) * 2.0**-40, abs=1e-30)
        assert eph.tau_n_s == pytest.approx(_sm(msg.DF124, 22) * 2.0**-30, abs=1e-30)
        assert eph.dtau_n_s == pytest.approx(_sm(msg.DF125, 5) * 2.0**-30, abs=1e-30)
        assert eph.tau_c_s == pytest.approx(_sm(msg.DF133, 32) * 2.0**-31, abs=1e-30)
        assert eph.tau_gps_s == pytest.approx(_sm(msg.DF135, 22) * 2.0**-30, abs=1e-30)
        assert (eph.bn_msb, eph.p1, eph.p2, eph.p3, eph.p, eph.p4) == (
            msg.DF108,
            msg.DF106,
            msg.DF109,
            msg.DF120,
            msg.DF122,
            msg.DF127,
        )
        assert (eph.en_days, eph.ft, eph.nt, eph.m, eph.na, eph.n4) == (
            msg.DF126,
            msg.DF128,
            msg.DF129,
            msg.DF130,
            msg.DF132,
            msg.DF134,
        )
        assert 25.3e6 < float(np.linalg.norm(eph.pos_m)) < 25.7e6  # GLONASS orbit radius
        assert 2.5e3 < float(np.linalg.norm(eph.vel_mps)) < 4.5e3  # PZ-90 is Earth-fixed
        assert -7 <= eph.channel <= 6 and 0 <= eph.tb_s < 86400
        n += 1
    assert n == 62


# ---------------------------------------------------------------------------------------- legacy


def test_every_legacy_observation_matches_pyrtcm() -> None:
    seen = set()
    for _, raw, msg in frames_of(LEGACY):
        mt = int(msg.identity)
        obs = decode(raw[3:-3])
        assert isinstance(obs, LegacyObs)
        glo = mt >= 1009
        ext, dual = mt in (1002, 1004, 1010, 1012), mt in (1003, 1004, 1011, 1012)
        n_df = msg.DF035 if glo else msg.DF006
        assert obs.prn.shape == (n_df,)
        assert obs.station_id == msg.DF003 and obs.synchronous == bool(msg.DF005)
        assert round(obs.epoch_s * 1000) == (msg.DF034 if glo else msg.DF004)
        sid, code1, pr, ppr, lock, amb, cnr, pr21, ppr2, lock2, cnr2 = (
            "DF038 DF039 DF041 DF042 DF043 DF044 DF045 DF047 DF048 DF049 DF050"
            if glo
            else "DF009 DF010 DF011 DF012 DF013 DF014 DF015 DF017 DF018 DF019 DF020"
        ).split()
        unit = 2 * RANGE_MS if glo else RANGE_MS
        for i in range(n_df):
            n = f"{i + 1:02d}"

            def g(df: str, n: str = n, msg: Any = msg) -> Any:
                return getattr(msg, f"{df}_{n}")

            assert obs.prn[i] == g(sid) and obs.l1_code[i] == g(code1)
            ch = g("DF040") - 7 if glo else 0
            if glo:
                assert obs.glo_channel[i] == ch
            f1 = 1602e6 + ch * 0.5625e6 if glo else 1575.42e6
            f2 = 1246e6 + ch * 0.4375e6 if glo else 1227.60e6
            p1 = g(pr) + (g(amb) * unit if ext else 0.0)
            assert obs.l1_pr_m[i] == pytest.approx(p1, abs=1e-6)
            phase1 = math.nan if round(g(ppr) / 0.0005) == -524288 else g(ppr)
            assert close(obs.l1_cp_cyc[i], (p1 + phase1) * f1 / C, 1e-5)
            assert obs.l1_lock_ind[i] == g(lock)
            assert obs.l1_lock_s[i] == legacy_lock_s(g(lock))
            if ext:
                assert close(obs.l1_cn0_dbhz[i], g(cnr) or math.nan, 1e-12)
            if dual:
                assert obs.l2_code[i] == g("DF046" if glo else "DF016")
                diff = math.nan if round(g(pr21) / 0.02) == -8192 else g(pr21)
                phase = math.nan if round(g(ppr2) / 0.0005) == -524288 else g(ppr2)
                assert close(obs.l2_pr_m[i], p1 + diff, 1e-6)
                assert close(obs.l2_cp_cyc[i], (p1 + phase) * f2 / C, 1e-5)
                assert obs.l2_lock_ind[i] == g(lock2)
                if ext:
                    assert close(obs.l2_cn0_dbhz[i], g(cnr2) or math.nan, 1e-12)
            else:
                assert math.isnan(obs.l2_pr_m[i])
        if mt in (1004, 1012):
            meo = obs.prn <= 32  # 1004 also carries SBAS GEOs as IDs 40-58
            assert np.all((obs.l1_pr_m[meo] > 19e6) & (obs.l1_pr_m[meo] < 26e6))
            assert np.all((obs.l1_pr_m[~meo] > 35e6) & (obs.l1_pr_m[~meo] < 42e6))
        seen.add(mt)
    assert {1004, 1012} <= seen


# ------------------------------------------------------------------------------------- dispatch


def test_what_pyrtcm_decodes_we_decode() -> None:
    """Every frame of every capture: a typed record, except where pyrtcm has no field table
    either (type 63 and u-blox's proprietary 4072, which pyrtcm 1.2.1 marks not implemented)."""
    unknown: dict[int, int] = {}
    total = 0
    for path in FILES:
        for raw, msg in parsed(path):
            rec = decode(raw[3:-3])
            assert rec is not None
            assert isinstance(rec, Unknown) == msg._unknown, msg.identity
            if isinstance(rec, Unknown):
                unknown[rec.msg_type] = unknown.get(rec.msg_type, 0) + 1
            total += 1
    assert total == 2843 and unknown == {63: 13, 4072: 160}


def test_unknown_and_malformed() -> None:
    raw = next(r for r, m in parsed(DATA / "pyrtcm_pygpsdata-RTCM3.log") if m.identity == "4072")
    rec = decode(raw[3:-3])
    assert rec == Unknown(4072, len(raw) - 6)
    frame = RtcmFramer().feed(raw)[0]
    assert decode(frame) == rec
    msm = next(r for r, m in parsed(DATA / "pyrtcm_pygpsdata-RTCM3.log") if m.identity == "1127")
    assert decode(msm[3:60]) is None
    assert decode(msm[3:20]) is None
    eph = next(r for r, m in parsed(DATA / "qzsl6tool_20221213-010900.rtcm") if m.identity == "1042")
    assert decode(eph[3:30]) is None
    assert decode(b"") == Unknown(0, 0)
    assert decode(b"\x3e") == Unknown(0, 1)
