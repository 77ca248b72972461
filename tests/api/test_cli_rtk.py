"""``beidou rtk compare`` and ``beidou rtk plot`` on RTKLIB's reference solutions: the numbers the
command prints are summary.csv's (an independent computation), and the plot is a real PNG."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from gnss.geodesy import geodetic_to_ecef
from gnss.rtk.posfile import read_pos

REF = Path(__file__).parents[1] / "data" / "gnss" / "reference"
SUMMARY = {row["file"]: row for row in csv.DictReader((REF / "summary.csv").open(encoding="ascii"))}
MATSTATIC_TRUTH = "35.13469901,136.97757549,104.8626"  # rinex/matrtklib_static/rover_position.txt
CSS078_TRUTH_ECEF = "-3962108.673,3381309.574,3668678.638"  # cssrlib test_rtk.py rover

TRUTH_KEYS = ("h_rms_cm", "v_rms_cm", "h95_cm", "max3d_cm", "fix_h_rms_cm", "fix_v_rms_cm")
SHARE_KEYS = ("fix_pct", "float_pct", "dgps_pct", "single_pct")


def _one(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _assert_matches_summary(answer: dict[str, Any], name: str) -> None:
    row = SUMMARY[name]
    assert answer["epochs"] == int(row["epochs"])
    for key in SHARE_KEYS:
        assert _one(answer[key]) == row[key], key
    truth = answer["truth"]
    for key in TRUTH_KEYS:
        assert _one(truth[key]) == row[key], key


@pytest.mark.parametrize(
    ("out", "ref", "truth"),
    [
        ("matstatic_kin_gps_l1_cont_D5.pos", "matstatic_kin_gps_l1_cont_B34.pos", MATSTATIC_TRUTH),
        ("matstatic_dgps_all_l1_B34.pos", "matstatic_dgps_all_l1_D5.pos", MATSTATIC_TRUTH),
        ("css078_kin_gejq_l12_cont_D5.pos", "css078_kin_gejq_l12_cont_B34.pos", CSS078_TRUTH_ECEF),
    ],
)
def test_compare_json_equals_summary_csv(out: str, ref: str, truth: str) -> None:
    result = CliRunner().invoke(
        app, ["rtk", "compare", str(REF / out), str(REF / ref), "--truth", truth, "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    _assert_matches_summary(answer["out"], out)
    _assert_matches_summary(answer["ref"], ref)
    agreement = answer["out"]["reference"]
    assert agreement["matched_epochs"] == int(SUMMARY[out]["epochs"])
    fixed_both = min(float(SUMMARY[out]["fix_pct"]), float(SUMMARY[ref]["fix_pct"]))
    assert agreement["both_fixed_pct"] == pytest.approx(fixed_both, abs=0.05)
    if fixed_both:
        assert agreement["fixed_h95_cm"] < 1.0  # the two RTKLIB builds agree within 1 cm
    else:
        assert agreement["fixed_h95_cm"] is None
    assert answer["ref"]["reference"] is None


def test_compare_table() -> None:
    out, ref = "matstatic_kin_bds_l1_cont_D5.pos", "matstatic_kin_bds_l1_cont_B34.pos"
    result = CliRunner().invoke(
        app,
        ["rtk", "compare", str(REF / out), str(REF / ref), "--truth", MATSTATIC_TRUTH],
        terminal_width=160,
    )
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 3}
    assert "98.7" in lines["fix %"] and "100.0" in lines["fix %"]
    assert "64.3" in lines["max 3D cm"] and "1.0" in lines["max 3D cm"]
    assert "both fixed %" in lines


def test_compare_bad_input() -> None:
    bad_truth = CliRunner().invoke(
        app, ["rtk", "compare", str(REF / "matstatic_dgps_all_l1_B34.pos"), "--truth", "1,2"]
    )
    assert bad_truth.exit_code == 2
    assert "lat,lon,h" in bad_truth.output
    not_pos = CliRunner().invoke(app, ["rtk", "compare", str(REF / "summary.csv")])
    assert not_pos.exit_code == 2
    assert "not a solution line" in not_pos.output


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("with_ref", [True, False])
def test_plot_writes_a_png(tmp_path: Path, with_ref: bool) -> None:
    image = tmp_path / "track.png"
    args = ["rtk", "plot", str(REF / "matstatic_kin_bds_l1_cont_D5.pos"), "-o", str(image)]
    if with_ref:
        args += ["--ref", str(REF / "matstatic_kin_bds_l1_cont_B34.pos"), "--truth", MATSTATIC_TRUTH]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = image.read_bytes()
    width, height = _png_size(data)
    assert (width, height) == (1300, 700)  # figsize 13 x 7 inches at 100 dpi
    assert len(data) > 20_000  # markers, axes and text, not a blank canvas


# --- solve: bad input is a usage error (exit 2), never a traceback ------------------------------

RINEX = Path(__file__).parents[1] / "data" / "gnss" / "rinex"
RTCM = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3"
GEONET = ["--rover", str(RINEX / "07590920.05o"), "--nav", str(RINEX / "30400920.05n")]
GEONET_BASE = ["--base", str(RINEX / "30400920.05o")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rover", str(RINEX / "missing.obs"), *GEONET_BASE], "does not exist"),
        ([*GEONET, *GEONET_BASE, "--mode", "rtk"], "'rtk' is not one of"),
        ([*GEONET, *GEONET_BASE, "--ar", "hold"], "'hold' is not one of"),
        ([*GEONET, *GEONET_BASE, "--systems", "R"], "besides GLONASS"),
        ([*GEONET, *GEONET_BASE, "--systems", "G,X"], "expected letters"),
        ([*GEONET, *GEONET_BASE, "--freqs", "4"], "--freqs"),
        ([*GEONET, *GEONET_BASE, "--base-pos", "35.1,139.6"], "expected lat,lon,h"),
        ([*GEONET, "--mode", "kinematic"], "needs a base"),
        (["--base", str(RINEX / "30400920.05o"), "--nav", str(RINEX / "30400920.05n")], "missing --rover"),
        ([*GEONET[:2], *GEONET_BASE], "navigation file"),
        ([*GEONET, *GEONET_BASE, "--rover-rtcm", str(RTCM / "rtklib_testglo.rtcm3")], "not both"),
        (["--rover", str(RINEX / "07590920.05o"), "--nav", str(RINEX / "30400920.05o"), "--mode", "single"],
         "not a navigation file"),
    ],
)  # fmt: skip
def test_solve_rejects_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out.pos"
    result = CliRunner().invoke(app, ["rtk", "solve", *args, "-o", str(out)], terminal_width=400)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not out.exists()


def test_solve_rejects_missing_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "out.pos"
    result = CliRunner().invoke(
        app, ["rtk", "solve", *GEONET, "--mode", "single", "-o", str(out)], terminal_width=400
    )
    assert result.exit_code == 2
    assert "no directory" in result.output


def test_solve_single_point_without_base(tmp_path: Path) -> None:
    out = tmp_path / "spp.pos"
    result = CliRunner().invoke(
        app, ["rtk", "solve", *GEONET, "--mode", "single", "--systems", "GECJ", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    sols = read_pos(out)
    assert len(sols) == 120
    assert set(sols.q.tolist()) == {5}
    assert "ref pos" not in sols.header  # RTKLIB writes none in single mode


def test_solve_writes_per_epoch_statistics_and_their_hdop_into_gga(tmp_path: Path) -> None:
    """``--stats``: one CSV row per solution with the single-point DOPs; the GGA's HDOP is the
    epoch's own. The DOPs are recomputed here from the .pos positions and the broadcast orbits
    would be a second engine: instead they are checked against their definitions' bounds
    (HDOP, VDOP <= PDOP <= GDOP; HDOP^2 + VDOP^2 = PDOP^2)."""
    out, gga, stats = tmp_path / "s.pos", tmp_path / "s.nmea", tmp_path / "s.csv"
    args = ["rtk", "solve", *GEONET, *GEONET_BASE, "--mode", "dgnss", "--systems", "G,R"]
    result = CliRunner().invoke(app, [*args, "-o", str(out), "--gga", str(gga), "--stats", str(stats)])
    assert result.exit_code == 0, result.output
    assert "median HDOP" in result.output
    rows = [line.split(",") for line in stats.read_text().splitlines()]
    assert rows[0] == ["time_gpst", "q", "ns", "ratio", "age_s", "gdop", "pdop", "hdop", "vdop"]
    body = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert len(body) == len(read_pos(out)) == 120
    assert set(body[:, 0].tolist()) == {4.0}  # DGNSS
    gdop, pdop, hdop, vdop = body[:, 4], body[:, 5], body[:, 6], body[:, 7]
    assert np.all((hdop <= pdop) & (vdop <= pdop) & (pdop <= gdop)) and np.all(hdop > 0.3)
    np.testing.assert_allclose(np.hypot(hdop, vdop), pdop, atol=0.011)  # 2-decimal rounding
    gga_hdop = [float(line.split(",")[8]) for line in gga.read_text().splitlines()]
    np.testing.assert_allclose(gga_hdop, hdop, atol=0.051)  # GGA has one decimal


def test_cn0_mask_drops_weak_signals(tmp_path: Path) -> None:
    """A C/N0 mask above every signal of the stream leaves nothing to solve; one between the
    weakest and the strongest leaves fewer satellites than none."""
    stream = str(RTCM / "qzsl6tool_20221213-010900.rtcm")
    base = ["rtk", "solve", "--rover-rtcm", stream, "--mode", "single", "--systems", "GECJ"]
    counts = {}
    for mask in (0.0, 45.0, 80.0):
        out = tmp_path / f"m{mask}.pos"
        result = CliRunner().invoke(app, [*base, "--cn0-mask", str(mask), "-o", str(out)])
        assert result.exit_code == 0, result.output
        counts[mask] = read_pos(out).ns
    assert len(counts[80.0]) == 0
    assert len(counts[45.0]) > 0 and counts[45.0].mean() < counts[0.0].mean()


def test_solve_rtcm_files(tmp_path: Path) -> None:
    """``--rover-rtcm``/``--base-rtcm``: one recording as both rover and base is a zero baseline
    that fixes at once; the base position is the stream's 1005 ARP."""
    stream = str(RTCM / "qzsl6tool_20221213-010900.rtcm")
    out = tmp_path / "rtcm.pos"
    args = ["--rover-rtcm", stream, "--base-rtcm", stream, "--systems", "C,G,E,J", "-o", str(out)]
    result = CliRunner().invoke(app, ["rtk", "solve", *args])
    assert result.exit_code == 0, result.output
    sols = read_pos(out)
    assert len(sols) > 0
    assert sols.inputs == [stream, stream]
    arp = np.array([-3551876.8287, 3887786.8598, 3586946.3873])  # its 1005 (data README)
    assert set(sols.q.tolist()) == {1}
    xyz = geodetic_to_ecef(sols.llh[:, 0], sols.llh[:, 1], sols.llh[:, 2])
    assert np.max(np.linalg.norm(xyz - arp, axis=1)) < 0.01


CSS078 = (
    "--rover", str(RINEX / "SEPT078M1.21O"),
    "--base", str(RINEX / "3034078M1.21O"),
    "--nav", str(RINEX / "SEPT078M.21P"),
    "--base-pos", "-3959400.631,3385704.533,3667523.111",  # cssrlib test_rtk.py, as the references
    "--systems", "G,E,J", "--freqs", "2",
)  # fmt: skip
ATX_OPTIONS = (  # conf/kin_gejq_l12_cont_atx.conf: file-rcvantfile, ant1-anttype, ant2-anttype
    "--atx", str(RINEX / "test.atx"),
    "--rover-ant", "JAVRINGANT_DM   SCIS",
    "--base-ant", "TRM59800.80     NONE",
)  # fmt: skip


def _vertical_agreement(out: Path, ref: Path) -> float:
    result = CliRunner().invoke(app, ["rtk", "compare", str(out), str(ref), "--json"])
    assert result.exit_code == 0, result.output
    agreement = json.loads(result.stdout)["out"]["reference"]
    assert agreement["both_fixed_pct"] == 100.0
    assert agreement["fixed_h95_cm"] < 1.0
    return float(agreement["fixed_v95_cm"])


def test_solve_with_receiver_antennas_follows_rtklibs_atx_run(tmp_path: Path) -> None:
    """``--atx --rover-ant --base-ant``: RTKLIB's _atx run differs from its plain one by the two
    antennas' phase-centre offsets (millimetres, mostly up); with them our heights follow the
    _atx run more closely than without."""
    with_atx, without = tmp_path / "atx.pos", tmp_path / "plain.pos"
    for out, extra in ((with_atx, ATX_OPTIONS), (without, ())):
        result = CliRunner().invoke(app, ["rtk", "solve", *CSS078, *extra, "-o", str(out)])
        assert result.exit_code == 0, result.output
    ref = REF / "css078_kin_gejq_l12_cont_atx_B34.pos"
    assert _vertical_agreement(with_atx, ref) < _vertical_agreement(without, ref)


def test_solve_rejects_an_antenna_missing_from_the_antex_file(tmp_path: Path) -> None:
    out = tmp_path / "out.pos"
    args = [*CSS078, *ATX_OPTIONS[:4], "--base-ant", "LEIAR25.R4      LEIT", "-o", str(out)]
    result = CliRunner().invoke(app, ["rtk", "solve", *args], terminal_width=400)
    assert result.exit_code == 2
    assert "no receiver antenna 'LEIAR25.R4" in result.output
    assert not out.exists()


def test_solve_with_dynamics_fixes_like_without(tmp_path: Path) -> None:
    """``--dynamics`` (velocity states): on GEONET's 3.3 km baseline every epoch still fixes, on
    the positions the run without it gives (both within 1 cm of each other)."""
    outs = {}
    for flag in ("--dynamics", "--no-dynamics"):
        out = tmp_path / f"{flag}.pos"
        result = CliRunner().invoke(app, ["rtk", "solve", *GEONET, *GEONET_BASE, flag, "-o", str(out)])
        assert result.exit_code == 0, result.output
        outs[flag] = read_pos(out)
    a, b = outs["--dynamics"], outs["--no-dynamics"]
    assert set(a.q.tolist()) == {1} and len(a) == len(b)
    np.testing.assert_allclose(a.llh[:, :2], b.llh[:, :2], atol=1e-7)  # degrees: 1 cm
