"""``beidou rtk compare`` and ``beidou rtk plot`` on RTKLIB's reference solutions: the numbers the
command prints are summary.csv's (an independent computation), and the plot is a real PNG."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app

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
