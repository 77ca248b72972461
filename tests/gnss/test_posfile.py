"""RTKLIB solution files and their comparison, checked against RTKLIB's own output.

- The writer against RTKLIB 2.4.3's bytes: re-writing the rows (and header values) read from each
  ``rnx2rtkp`` reference file gives the file back byte for byte; demo5's data lines too.
- The reader by round trips (write -> read equal to the written precision) and values read by eye.
- GGA sentences parsed back by pynmea2 with checksum verification.
- The metrics against ``reference/summary.csv``, an independent computation: every row's shares,
  and where truth exists every error, rounded as the csv rounds them, must be equal.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path

import numpy as np
import pynmea2
import pytest

from gnss.geodesy import ecef_to_geodetic
from gnss.quality import SolutionQuality as Q
from gnss.rtk.compare import agreement, compare, format_report, match_epochs
from gnss.rtk.posfile import (
    PosFormatError,
    PosSolutions,
    TimeFormat,
    gpst_minus_utc_s,
    nmea_gga_lines,
    pos_text,
    read_pos,
    sd_from_enu_cov,
    write_pos,
)

REF = Path(__file__).parents[1] / "data" / "gnss" / "reference"
SUMMARY = list(csv.DictReader((REF / "summary.csv").open(encoding="ascii")))
B34 = sorted(REF.glob("*_B34.pos"))
ALL_POS = sorted(REF.glob("*.pos"))

# Truth as given in shared/data/gnss (see tests/data/gnss/reference/README.md):
# matstatic: rinex/matrtklib_static/rover_position.txt; css078: cssrlib test_rtk.py rover ECEF.
_CSS078_LLH = tuple(float(v) for v in ecef_to_geodetic(np.array([-3962108.673, 3381309.574, 3668678.638])))
TRUTH: dict[str, tuple[float, float, float]] = {
    "matstatic": (35.13469901, 136.97757549, 104.8626),
    "css078": (_CSS078_LLH[0], _CSS078_LLH[1], _CSS078_LLH[2]),
}


@cache
def ref(name: str) -> PosSolutions:
    return read_pos(REF / name)


def raw(path: Path) -> str:
    return path.read_bytes().decode("ascii")


# --- reading ----------------------------------------------------------------------------------


def test_read_values_and_header() -> None:
    sols = ref("matstatic_kin_all_l12_cont_B34.pos")
    assert len(sols) == 301
    # 2024/06/24 08:20:00.000   35.134699014  136.977575478   104.8606   1  42   0.0024   0.0024
    #   0.0064   0.0009  -0.0016  -0.0024   0.00    9.6
    assert sols.time[0] == np.datetime64("2024-06-24T08:20:00", "ns")
    assert sols.time[-1] == np.datetime64("2024-06-24T08:25:00", "ns")
    np.testing.assert_array_equal(sols.llh[0], [35.134699014, 136.977575478, 104.8606])
    assert (sols.q[0], sols.ns[0]) == (1, 42)
    np.testing.assert_array_equal(sols.sd[0], [0.0024, 0.0024, 0.0064, 0.0009, -0.0016, -0.0024])
    assert (sols.age_s[0], sols.ratio[0]) == (0.0, 9.6)
    assert sols.header["program"] == "RTKLIB ver.2.4.3"
    assert sols.inputs == ["rover.obs", "base.obs", "base.nav"]
    assert sols.ref_llh == (35.134707705, 136.977577939, 104.853)
    assert sols.header["time system"] == "GPST"
    assert sols.obs_span == (
        np.datetime64("2024-06-24T08:20:00", "ns"),
        np.datetime64("2024-06-24T08:25:00", "ns"),
    )
    assert ref("matstatic_single_all_l1_B34.pos").ref_llh is None  # single mode: no ref pos line
    assert ref("matstatic_kin_all_l12_cont_D5.pos").ref_llh == sols.ref_llh  # demo5's wider field


def test_read_rejects_other_formats() -> None:
    ecef = "%  GPST                      x-ecef(m)      y-ecef(m)      z-ecef(m)   Q  ns\n"
    with pytest.raises(PosFormatError, match="lat/lon/height"):
        read_pos(io.StringIO(ecef))
    with pytest.raises(PosFormatError):
        read_pos(io.StringIO("2024/06/24 08:20:00.000   35.1  136.9\n"))
    empty = read_pos(io.StringIO("% program   : x\n"))
    assert len(empty) == 0 and empty.header["program"] == "x"


# --- writing: RTKLIB's bytes ------------------------------------------------------------------


@pytest.mark.parametrize("path", B34, ids=lambda p: p.name)
def test_rewrite_is_rtklib_243_byte_for_byte(path: Path) -> None:
    sols = read_pos(path)
    text = pos_text(
        sols, program=sols.header["program"], inputs=sols.inputs, ref_llh=sols.ref_llh, obs_span=sols.obs_span
    )
    assert text == raw(path)


@pytest.mark.parametrize("path", ALL_POS, ids=lambda p: p.name)
def test_rewritten_data_lines_match(path: Path) -> None:
    original = [line for line in raw(path).splitlines(keepends=True) if not line.startswith("%")]
    ours = [line for line in pos_text(read_pos(path)).splitlines(keepends=True) if not line.startswith("%")]
    assert ours == original


def test_write_to_path_and_stream(tmp_path: Path) -> None:
    sols = ref("css078_kin_gejq_l12_cont_B34.pos")
    write_pos(tmp_path / "a.pos", sols, program="RTKLIB ver.2.4.3", inputs=sols.inputs, ref_llh=sols.ref_llh)
    assert (tmp_path / "a.pos").read_bytes() == (REF / "css078_kin_gejq_l12_cont_B34.pos").read_bytes()
    buffer = io.StringIO(newline="")
    write_pos(buffer, sols, program="RTKLIB ver.2.4.3", inputs=sols.inputs, ref_llh=sols.ref_llh)
    assert buffer.getvalue() == raw(REF / "css078_kin_gejq_l12_cont_B34.pos")


def _random_solutions(n: int, seed: int = 7) -> PosSolutions:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-03-01T23:59:50", "ns")
    offsets_ns = np.cumsum(rng.integers(1, 2_000, n)) * 1_000_000  # whole milliseconds
    return PosSolutions.from_lists(
        time=start + offsets_ns.astype("timedelta64[ns]"),
        llh=np.column_stack(
            [rng.uniform(-89, 89, n), rng.uniform(-179.9, 179.9, n), rng.uniform(-50, 3000, n)]
        ),
        q=rng.choice([Q.FIX, Q.FLOAT, Q.DGPS, Q.SINGLE], n),
        ns=rng.integers(4, 60, n),
        sd=rng.normal(0, 0.5, (n, 6)),
        age_s=rng.uniform(0, 30, n),
        ratio=rng.uniform(0, 999, n),
        header={"program": "x"},
    )


@pytest.mark.parametrize("time_format", ["hms", "tow"])
def test_round_trip_to_written_precision(time_format: TimeFormat) -> None:
    sols = _random_solutions(500)
    text = pos_text(sols, program="beidou-mobility rtk", inputs=["r.obs", "b.obs"], time_format=time_format)
    back = read_pos(io.StringIO(text))
    assert len(back) == len(sols)
    np.testing.assert_array_equal(back.time, sols.time)
    np.testing.assert_array_equal(back.llh[:, :2], np.round(sols.llh[:, :2], 9))
    np.testing.assert_array_equal(back.llh[:, 2], np.round(sols.llh[:, 2], 4))
    np.testing.assert_array_equal(back.q, sols.q)
    np.testing.assert_array_equal(back.ns, sols.ns)
    np.testing.assert_array_equal(back.sd, np.round(sols.sd, 4))
    np.testing.assert_array_equal(back.age_s, np.round(sols.age_s, 2))
    np.testing.assert_array_equal(back.ratio, np.round(sols.ratio, 1))
    assert back.inputs == ["r.obs", "b.obs"]
    # and a second pass changes nothing at all
    assert pos_text(back, program="beidou-mobility rtk", inputs=back.inputs, time_format=time_format) == text


def test_times_round_like_rtklib_and_no_solution_rows_are_skipped() -> None:
    t = np.array(
        ["2024-06-24T08:20:00.0004999", "2024-06-24T08:20:00.9995", "2024-06-24T08:20:02"], "datetime64[ns]"
    )
    sols = PosSolutions.from_lists(t, [[35.0, 136.0, 100.0]] * 3, [Q.SINGLE, Q.SINGLE, Q.NONE], [5, 5, 0])
    lines = [line for line in pos_text(sols).splitlines() if not line.startswith("%")]
    assert [line[:23] for line in lines] == ["2024/06/24 08:20:00.000", "2024/06/24 08:20:01.000"]


def test_sd_from_enu_cov_is_rtklib_signed_sqrt() -> None:
    cov = np.array([[4.0, -1.0, 0.25], [-1.0, 9.0, -0.04], [0.25, -0.04, 16.0]])  # e, n, u
    np.testing.assert_allclose(sd_from_enu_cov(cov), [3.0, 2.0, 4.0, -1.0, 0.5, -0.2])


# --- NMEA -------------------------------------------------------------------------------------


def test_gga_sentences_parse_and_map_quality() -> None:
    sols = _random_solutions(200, seed=3)
    lines = nmea_gga_lines(sols)
    assert len(lines) == len(sols)
    quality = {Q.FIX: 4, Q.FLOAT: 5, Q.DGPS: 2, Q.SINGLE: 1}
    leap = gpst_minus_utc_s(sols.time)
    assert set(leap.tolist()) == {18}
    for i, line in enumerate(lines):
        msg = pynmea2.parse(line, check=True)  # raises on a bad checksum
        assert line.startswith("$GNGGA,")
        # 7 decimals of minutes (RTKLIB's, as survey receivers' high-precision GGA) can pass the
        # standard's 82 characters; gnss/framer.py accepts lines up to 128
        assert len(line) + 2 <= 128
        assert msg.gps_qual == quality[int(sols.q[i])]
        assert int(msg.num_sats) == sols.ns[i]
        assert abs(msg.latitude - sols.llh[i, 0]) < 1e-8  # 7 decimals of minutes: 1.7e-9 degrees
        assert abs(msg.longitude - sols.llh[i, 1]) < 1e-8
        assert msg.altitude == pytest.approx(sols.llh[i, 2], abs=5e-4)
        utc = sols.time[i] - np.timedelta64(18, "s")
        expected = utc.astype("datetime64[ms]").item().time()
        got = msg.timestamp
        delta = abs(
            (got.hour * 3600 + got.minute * 60 + got.second + got.microsecond / 1e6)
            - (expected.hour * 3600 + expected.minute * 60 + expected.second + expected.microsecond / 1e6)
        )
        assert min(delta, 86400 - delta) <= 0.005 + 1e-9
        assert (msg.age_gps_data != "") == (sols.q[i] != Q.SINGLE)
    bad = lines[0][:-2] + ("00" if lines[0][-2:] != "00" else "01")
    with pytest.raises(pynmea2.ChecksumError):
        pynmea2.parse(bad, check=True)


def test_gga_known_sentence() -> None:
    sols = ref("matstatic_kin_all_l12_cont_B34.pos").take(slice(0, 1))
    # 35.134699014 deg = 35 deg 8.08194084 min; 136.977575478 deg = 136 deg 58.65452868 min;
    # 08:20:00 GPST = 08:19:42 UTC (18 leap seconds); checksum computed by pynmea2 below.
    (line,) = nmea_gga_lines(sols, talker="GP", geoid_sep_m=37.5)
    assert line.startswith("$GPGGA,081942.00,3508.0819408,N,13658.6545287,E,4,42,1.0,67.361,M,37.500,M,0.0,*")
    body = line[1 : line.index("*")]
    assert line[-2:] == f"{pynmea2.NMEASentence.checksum(body):02X}"
    no_fix = PosSolutions.from_lists(sols.time, sols.llh, [Q.NONE], [0])
    assert nmea_gga_lines(no_fix) == [
        "$GNGGA,,,,,,,,,,,,,,*" + f"{pynmea2.NMEASentence.checksum('GNGGA,,,,,,,,,,,,,,'):02X}"
    ]


def test_leap_seconds() -> None:
    t = np.array(
        ["1980-01-06", "2016-12-31T23:59:59", "2017-01-01T00:00:17", "2017-01-01T00:00:18"], "datetime64[ns]"
    )
    assert gpst_minus_utc_s(t).tolist() == [0, 17, 17, 18]


# --- summary.csv ------------------------------------------------------------------------------


def _one(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


@pytest.mark.parametrize("row", SUMMARY, ids=lambda r: r["file"])
def test_reproduces_summary_csv(row: dict[str, str]) -> None:
    sols = ref(row["file"])
    report = compare(sols, truth_llh=TRUTH.get(row["dataset"]))
    assert report.epochs == int(row["epochs"])
    for key in ("fix_pct", "float_pct", "dgps_pct", "single_pct"):
        assert _one(getattr(report, key)) == row[key], key
    if not row["h_rms_cm"]:
        assert row["dataset"] not in TRUTH  # no truth, no errors in the csv
        return
    assert report.truth is not None
    for key in ("h_rms_cm", "v_rms_cm", "h95_cm", "max3d_cm", "fix_h_rms_cm", "fix_v_rms_cm"):
        assert _one(getattr(report.truth, key)) == row[key], key


def test_every_summary_row_with_truth_is_covered() -> None:
    with_truth = [r for r in SUMMARY if r["h_rms_cm"]]
    assert len(with_truth) == 18
    assert {r["dataset"] for r in with_truth} == set(TRUTH)


# --- agreement --------------------------------------------------------------------------------


def test_agreement_with_itself_and_with_demo5() -> None:
    b34 = ref("matstatic_kin_bds_l1_cont_B34.pos")
    same = agreement(b34, b34)
    assert (same.matched_epochs, same.both_fixed_epochs, same.both_fixed_pct) == (301, 301, 100.0)
    assert same.fixed_h95_cm == 0.0 and same.fixed_hmax_cm == 0.0
    d5 = ref("matstatic_kin_bds_l1_cont_D5.pos")
    other = agreement(d5, b34)
    assert other.both_fixed_epochs == int(np.count_nonzero((d5.q == Q.FIX) & (b34.q == Q.FIX))) == 297
    assert other.fixed_h95_cm is not None and other.fixed_hmax_cm is not None
    assert 0.0 < other.fixed_h95_cm <= other.fixed_hmax_cm < 1.0  # the two RTKLIBs agree within 1 cm


def test_agreement_matches_epochs_by_time() -> None:
    b34 = ref("matstatic_kin_all_l12_cont_B34.pos")
    later = b34.take(slice(100, None))
    ia, ib = match_epochs(b34, later)
    np.testing.assert_array_equal(ia, np.arange(100, 301))
    np.testing.assert_array_equal(ib, np.arange(201))
    report = compare(b34, reference=later)
    assert report.reference is not None
    assert report.reference.matched_epochs == 201
    none_fixed = agreement(ref("matstatic_single_all_l1_B34.pos"), b34)
    assert none_fixed.both_fixed_epochs == 0 and none_fixed.fixed_h95_cm is None
    text = format_report(compare(b34, truth_llh=TRUTH["matstatic"], reference=later), title="t")
    assert "both fixed %" in text and "100.0" in text
