"""``beidou rtk ...``: judge RTKLIB-compatible solution files (ours or RTKLIB's) and draw them.

``compare`` prints the metrics of ``shared/data/gnss/reference/summary.csv`` for a run and its
reference side by side, plus where both are fixed how far apart they are; ``plot`` draws the
track and the error time series. The engine's ``solve`` command joins this app (see below).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from gnss.geodesy import ecef_to_geodetic
from gnss.rtk.compare import SolutionReport, compare, enu_errors_m, report_rows
from gnss.rtk.posfile import PosFormatError, PosSolutions, read_pos

if TYPE_CHECKING:
    from matplotlib.figure import Figure

rtk_app = typer.Typer(
    help="RTK solutions: compare and plot RTKLIB-compatible .pos files", no_args_is_help=True
)
out = Console()

# RTKPLOT's colours per quality, so a plot reads like RTKLIB's
Q_STYLE: Final = {
    1: ("fix", "tab:green"),
    2: ("float", "orange"),
    3: ("sbas", "tab:purple"),
    4: ("dgps", "tab:blue"),
    5: ("single", "tab:red"),
    6: ("ppp", "tab:cyan"),
}

TruthOption = Annotated[
    str | None,
    typer.Option(
        help="the antenna's true position: 'lat,lon,h' (degrees, ellipsoidal metres) or ECEF 'x,y,z' (m)"
    ),
]


def parse_truth(value: str | None) -> tuple[float, float, float] | None:
    """``lat,lon,h`` or ECEF ``x,y,z`` (recognised by a first value beyond +-90) to lat/lon/h."""
    if value is None:
        return None
    try:
        a, b, c = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise typer.BadParameter("expected lat,lon,h or x,y,z", param_hint="--truth") from exc
    if abs(a) <= 90.0:
        return a, b, c
    lat, lon, h = ecef_to_geodetic(np.array([a, b, c]))
    return float(lat), float(lon), float(h)


def _load(path: Path, hint: str) -> PosSolutions:
    try:
        return read_pos(path)
    except PosFormatError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from exc


@rtk_app.command("compare")
def compare_cmd(
    out_pos: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, metavar="OUT.pos", help="the run to judge")
    ],
    ref_pos: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, metavar="REF.pos", help="a reference run, e.g. RTKLIB's"),
    ] = None,
    truth: TruthOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
) -> None:
    """Fix rate, errors against the truth, and agreement with a reference run.

    RMS, 95 % and maximum errors are defined as in the reference summary.csv; agreement is the
    horizontal difference where both runs are fixed."""
    truth_llh = parse_truth(truth)
    sols = _load(out_pos, "OUT_POS")
    ref = _load(ref_pos, "REF_POS") if ref_pos is not None else None
    mine = compare(sols, truth_llh=truth_llh, reference=ref)
    theirs = compare(ref, truth_llh=truth_llh) if ref is not None else None
    if as_json:
        answer: dict[str, Any] = {"truth": truth_llh, "out": {"file": str(out_pos), **mine.as_dict()}}
        if theirs is not None:
            answer["ref"] = {"file": str(ref_pos), **theirs.as_dict()}
        print(json.dumps(answer, indent=2))
        return
    out.print(_table(out_pos.name, mine, ref_pos.name if ref_pos else None, theirs))
    out.print(f"out: {out_pos}" + (f"\nref: {ref_pos}" if ref_pos else ""))
    if truth_llh is not None:
        out.print("truth: {:.9f}, {:.9f}, {:.4f}".format(*truth_llh))


def _table(name: str, mine: SolutionReport, ref_name: str | None, theirs: SolutionReport | None) -> Table:
    table = Table(title="RTK solution comparison")
    table.add_column("metric")
    table.add_column("out", justify="right")
    ref_values: dict[str, str] = {}
    if ref_name is not None and theirs is not None:
        table.add_column("ref", justify="right")
        ref_values = dict(report_rows(theirs))
    for label, value in report_rows(mine):
        cells = [label, value]
        if ref_name is not None:
            cells.append(ref_values.get(label, ""))
        table.add_row(*cells)
    return table


@rtk_app.command("plot")
def plot_cmd(
    out_pos: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, metavar="OUT.pos", help="the run to draw")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False, help="image file (.png)")],
    ref: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="a reference run drawn in grey")
    ] = None,
    truth: TruthOption = None,
) -> None:
    """Draw the track and the east/north/up error time series, coloured by quality.

    Positions are east/north/up metres from the truth, or from the run's mean without one."""
    truth_llh = parse_truth(truth)
    sols = _load(out_pos, "OUT_POS")
    if len(sols) == 0:
        raise typer.BadParameter("no solutions in the file", param_hint="OUT_POS")
    reference = _load(ref, "--ref") if ref is not None else None
    figure = track_figure(sols, reference=reference, truth_llh=truth_llh, title=out_pos.name)
    figure.savefig(output, dpi=100)
    out.print(f"wrote {output}")


def track_figure(
    sols: PosSolutions,
    *,
    reference: PosSolutions | None = None,
    truth_llh: tuple[float, float, float] | None = None,
    title: str = "",
) -> Figure:
    """The figure of ``plot``, built without pyplot (no global state, no GUI backend: Agg renders
    it). Matplotlib is imported here, not at module level: it costs every ``beidou`` command ~1 s."""
    from matplotlib.figure import Figure

    origin = truth_llh if truth_llh is not None else _mean_llh(sols)
    what = "truth" if truth_llh is not None else "mean position"
    enu = enu_errors_m(sols, origin)
    t0 = sols.time[0]
    seconds = (sols.time - t0) / np.timedelta64(1, "s")

    figure = Figure(figsize=(13, 7), layout="constrained")
    grid = figure.add_gridspec(3, 2, width_ratios=(1, 1.4))
    track = figure.add_subplot(grid[:, 0])
    series = [figure.add_subplot(grid[i, 1]) for i in range(3)]
    if reference is not None and len(reference):
        ref_enu = enu_errors_m(reference, origin)
        ref_s = (reference.time - t0) / np.timedelta64(1, "s")
        track.plot(ref_enu[:, 0], ref_enu[:, 1], ".", color="0.6", ms=3, label="reference", zorder=1)
        for axis, k in zip(series, range(3), strict=True):
            axis.plot(ref_s, ref_enu[:, k], ".", color="0.6", ms=2, zorder=1)
    for q, (label, colour) in Q_STYLE.items():
        sel = sols.q == q
        if not sel.any():
            continue
        track.plot(enu[sel, 0], enu[sel, 1], ".", color=colour, ms=4, label=f"{label} ({sel.mean():.1%})")
        for axis, k in zip(series, range(3), strict=True):
            axis.plot(seconds[sel], enu[sel, k], ".", color=colour, ms=3)
    track.plot([0.0], [0.0], "k+", ms=14, label=what)
    track.set_xlabel("east (m)")
    track.set_ylabel("north (m)")
    track.set_aspect("equal", adjustable="datalim")
    track.grid(True, alpha=0.3)
    track.legend(loc="best", fontsize="small")
    track.set_title(title)
    for axis, name in zip(series, ("east", "north", "up"), strict=True):
        axis.set_ylabel(f"{name} (m)")
        axis.grid(True, alpha=0.3)
    series[-1].set_xlabel(f"seconds since {str(t0)[:19].replace('T', ' ')} GPST")
    series[0].set_title(f"error relative to the {what}")
    return figure


def _mean_llh(sols: PosSolutions) -> tuple[float, float, float]:
    lat, lon, h = (float(v) for v in np.mean(sols.llh, axis=0))
    return lat, lon, h


# --- solve -------------------------------------------------------------------------------------
# `beidou rtk solve` (the RTK engine, gnss/rtk/engine.py) is registered on rtk_app here:
# @rtk_app.command("solve") writing its output with gnss.rtk.posfile.write_pos.
