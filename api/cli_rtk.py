"""``beidou rtk ...``: solve base + rover observations, judge RTKLIB-compatible solution files
(ours or RTKLIB's) and draw them.

``solve`` runs the engine (:mod:`gnss.rtk.solve`) on RINEX or RTCM 3 files and writes RTKLIB's
``.pos`` (and optionally NMEA GGA); ``compare`` prints the metrics of
``shared/data/gnss/reference/summary.csv`` for a run and its reference side by side, plus where
both are fixed how far apart they are; ``plot`` draws the track and the error time series.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

import numpy as np
import typer
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gnss.geodesy import ecef_to_geodetic, geodetic_to_ecef
from gnss.quality import SolutionQuality
from gnss.rinex import RinexError, read_obs
from gnss.rtk.compare import SolutionReport, compare, enu_errors_m, quality_shares, report_rows
from gnss.rtk.options import ACCEPTED_SYSTEMS, AR_MODES, MODES, ArMode, Mode, RtkOptions
from gnss.rtk.posfile import (
    PosFormatError,
    PosSolutions,
    nmea_gga_lines,
    read_pos,
    stats_csv,
    write_pos,
)
from gnss.rtk.solve import solve_rinex

if TYPE_CHECKING:
    from matplotlib.figure import Figure

rtk_app = typer.Typer(
    help="RTK solutions: solve base + rover files, compare and plot RTKLIB-compatible .pos files",
    no_args_is_help=True,
)
out = Console()

# RTKPLOT's colours per quality, so a plot reads like RTKLIB's
Q_STYLE: Final = {
    SolutionQuality.FIX: ("fix", "tab:green"),
    SolutionQuality.FLOAT: ("float", "orange"),
    SolutionQuality.SBAS: ("sbas", "tab:purple"),
    SolutionQuality.DGPS: ("dgps", "tab:blue"),
    SolutionQuality.SINGLE: ("single", "tab:red"),
    SolutionQuality.PPP: ("ppp", "tab:cyan"),
}

TruthOption = Annotated[
    str | None,
    typer.Option(
        help="the antenna's true position: 'lat,lon,h' (degrees, ellipsoidal metres) or ECEF 'x,y,z' (m)"
    ),
]


def parse_truth(value: str | None) -> tuple[float, float, float] | None:
    """``lat,lon,h`` or ECEF ``x,y,z`` (recognised by a first value beyond +-90) to lat/lon/h."""
    return None if value is None else parse_llh(value, "--truth")


def parse_llh(value: str, hint: str) -> tuple[float, float, float]:
    """``lat,lon,h`` or ECEF ``x,y,z`` (recognised by a first value beyond +-90) to lat/lon/h."""
    try:
        a, b, c = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise typer.BadParameter("expected lat,lon,h or x,y,z", param_hint=hint) from exc
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


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def parse_systems(value: str) -> str:
    """``C,G,E,J`` or ``GECJ`` (any order, any case) to the engine's letters in ``GECJR`` order.
    GLONASS (R) is read from RINEX for single point and DGNSS; the carrier-phase modes leave it out."""
    letters = {c for c in value.upper() if c not in ", "}
    unknown = letters - set(ACCEPTED_SYSTEMS)
    if unknown or not letters:
        raise typer.BadParameter(
            f"expected letters of {','.join(ACCEPTED_SYSTEMS)}, got {value!r}", param_hint="--systems"
        )
    return "".join(c for c in ACCEPTED_SYSTEMS if c in letters)


def parse_enu(value: str | None, hint: str) -> tuple[float, float, float]:
    """``e,n,u`` metres (None: zero)."""
    if value is None:
        return 0.0, 0.0, 0.0
    try:
        e, n, u = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise typer.BadParameter("expected e,n,u in metres", param_hint=hint) from exc
    return e, n, u


def rinex_header_ecef(path: Path) -> NDArray[np.float64]:
    """The ``APPROX POSITION XYZ`` of an observation file, reading its header only."""
    head = bytearray()
    with path.open("rb") as fh:
        for line in fh:
            head += line
            if line[60:].strip() == b"END OF HEADER":
                break
    try:
        xyz = read_obs(bytes(head)).header.approx_xyz_m
    except RinexError as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--base") from exc
    if not np.any(xyz):
        raise typer.BadParameter(f"{path} has no header position: give --base-pos", param_hint="--base")
    return np.asarray(xyz, dtype=np.float64)


@rtk_app.command("solve")
def solve_cmd(
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="the RTKLIB-compatible .pos file to write")
    ],
    rover: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="rover RINEX observation file")
    ] = None,
    base: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="base RINEX observation file")
    ] = None,
    nav: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="RINEX navigation file (ephemerides)")
    ] = None,
    rover_rtcm: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="rover RTCM 3 file (MSM + ephemerides), instead of --rover"
        ),
    ] = None,
    base_rtcm: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="base RTCM 3 file (MSM, 1005/1006), instead of --base"
        ),
    ] = None,
    base_pos: Annotated[
        str | None,
        typer.Option(
            help="base antenna position 'lat,lon,h' (degrees, ellipsoidal m) or ECEF 'x,y,z' (m); "
            "default: the base file's header (RINEX) or 1005/1006 ARP (RTCM)"
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(metavar="|".join(MODES), callback=_choice(MODES), help="positioning mode")
    ] = "kinematic",
    systems: Annotated[
        str,
        typer.Option(
            help="satellite systems, e.g. C,G,E,J or GECJ; R (GLONASS, RINEX only) in single and dgnss modes"
        ),
    ] = "C,G,E,J",
    freqs: Annotated[int, typer.Option(min=1, max=3, help="frequencies: 1 (L1/B1I), 2 (+L2/B2I), 3")] = 2,
    ar: Annotated[
        str,
        typer.Option(metavar="|".join(AR_MODES), callback=_choice(AR_MODES), help="ambiguity resolution"),
    ] = "continuous",
    elmask: Annotated[float, typer.Option(min=0.0, max=90.0, help="elevation mask (degrees)")] = 15.0,
    ratio: Annotated[float, typer.Option(min=1.0, help="ratio-test threshold to accept a fix")] = 3.0,
    atx: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="ANTEX file of the receiver antennas (e.g. igs20.atx)"
        ),
    ] = None,
    rover_ant: Annotated[
        str,
        typer.Option(
            help="rover antenna type as in ANTEX, e.g. 'JAVRINGANT_DM   SCIS'; '*': the RINEX header's "
            "type and delta"
        ),
    ] = "",
    base_ant: Annotated[str, typer.Option(help="base antenna type, as --rover-ant")] = "",
    rover_delta: Annotated[
        str | None, typer.Option(help="rover antenna delta 'e,n,u' (m): marker to antenna reference point")
    ] = None,
    base_delta: Annotated[str | None, typer.Option(help="base antenna delta 'e,n,u' (m)")] = None,
    ant_pcv: Annotated[
        bool,
        typer.Option(help="apply the receiver antennas' elevation-dependent PCV, not only their offsets"),
    ] = False,
    dynamics: Annotated[
        bool,
        typer.Option(help="kinematic: velocity states, a constant-velocity model (RTKLIB's pos1-dynamics)"),
    ] = False,
    bds_iono: Annotated[
        bool,
        typer.Option(
            help="BeiDou satellites take BeiDou's broadcast ionosphere when the nav file has BDSA/BDSB "
            "(--no-bds-iono: GPS's Klobuchar for all, as RTKLIB)"
        ),
    ] = True,
    cn0_mask: Annotated[
        float, typer.Option(min=0.0, help="C/N0 mask (dB-Hz): weaker signals are not used; 0: none")
    ] = 0.0,
    slip_doppler: Annotated[
        float,
        typer.Option(
            min=0.0, help="Doppler cycle-slip threshold (m per second of interval); 0: no Doppler test"
        ),
    ] = 1.0,
    gga: Annotated[
        Path | None, typer.Option(dir_okay=False, help="also write the solutions as NMEA GGA sentences")
    ] = None,
    stats: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="also write per-epoch statistics (CSV: quality, satellites, ratio, age, DOPs)",
        ),
    ] = None,
) -> None:
    """Solve rover observations against a base: single point, DGNSS or RTK with ambiguity resolution.

    Input is RINEX (--rover, --base, --nav) or RTCM 3 recordings (--rover-rtcm, --base-rtcm, with
    the ephemerides in the rover stream). Writes RTKLIB's .pos layout, so ``beidou rtk compare``,
    RTKPLOT and RTKLIB's tools read it."""
    try:
        options = RtkOptions(
            mode=cast(Mode, mode),
            systems=parse_systems(systems),
            freqs=freqs,
            ar=cast(ArMode, ar),
            elmask_deg=elmask,
            ratio_threshold=ratio,
            antex_path=atx,
            rover_antenna=rover_ant,
            base_antenna=base_ant,
            rover_delta_enu_m=parse_enu(rover_delta, "--rover-delta"),
            base_delta_enu_m=parse_enu(base_delta, "--base-delta"),
            antenna_pcv=ant_pcv,
            cn0_mask_dbhz=cn0_mask,
            slip_doppler_m=slip_doppler,
            dynamics=dynamics,
            bds_iono=bds_iono,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    relative = options.mode != "single"
    rtcm = rover_rtcm is not None
    if rtcm and (rover or base or nav):
        raise typer.BadParameter(
            "give RINEX (--rover/--base/--nav) or RTCM (--rover-rtcm/--base-rtcm), not both"
        )
    if not rtcm:
        if rover is None:
            raise typer.BadParameter("missing --rover (or --rover-rtcm)", param_hint="--rover")
        if nav is None:
            raise typer.BadParameter("RINEX input needs a navigation file", param_hint="--nav")
        if base_rtcm is not None:
            raise typer.BadParameter("an RTCM base goes with --rover-rtcm", param_hint="--base-rtcm")
    if relative and base is None and base_rtcm is None:
        raise typer.BadParameter(f"mode {options.mode} needs a base", param_hint="--base")
    for path, hint in ((output, "--output"), (gga, "--gga"), (stats, "--stats")):
        if path is not None and not path.parent.is_dir():
            raise typer.BadParameter(f"no directory {path.parent}", param_hint=hint)

    base_ecef: NDArray[np.float64] | None = None
    if base_pos is not None:
        base_ecef = np.asarray(geodetic_to_ecef(*parse_llh(base_pos, "--base-pos")), dtype=np.float64)
    elif relative and base is not None:
        base_ecef = rinex_header_ecef(base)

    started = time.perf_counter()
    progress_console = Console(stderr=True)
    with Progress(
        TextColumn("solving"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        console=progress_console,
        transient=True,
    ) as bar:
        task = bar.add_task("solve", total=None)

        def advance(k: int, n: int) -> None:
            bar.update(task, completed=k, total=n)

        try:
            if rtcm:
                from gnss.rtk.rtcm_input import solve_rtcm  # the RTCM reader is optional for the CLI

                assert rover_rtcm is not None
                sols = solve_rtcm(
                    rover_rtcm,
                    base_rtcm if relative else None,
                    options,
                    base_ecef_m=base_ecef,
                    progress=advance,
                )
            else:
                assert rover is not None
                assert nav is not None
                sols = solve_rinex(
                    rover, base if relative else None, nav, options, base_ecef_m=base_ecef, progress=advance
                )
        except (RinexError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from exc
    runtime_s = time.perf_counter() - started

    inputs = [str(p) for p in (rover, base, nav, rover_rtcm, base_rtcm) if p is not None]
    ref_llh = _base_llh(base_ecef, sols) if relative else None
    write_pos(output, sols, inputs=inputs, ref_llh=ref_llh)
    if gga is not None:
        lines = nmea_gga_lines(sols)
        gga.write_text("".join(f"{line}\r\n" for line in lines), encoding="ascii", newline="")
    if stats is not None:
        stats.write_text(stats_csv(sols), encoding="ascii")
    _print_summary(sols, runtime_s, output, gga)


def _base_llh(base_ecef: NDArray[np.float64] | None, sols: PosSolutions) -> tuple[float, float, float] | None:
    if base_ecef is None:  # an RTCM base's own ARP, if the reader recorded it
        return sols.ref_llh
    lat, lon, h = ecef_to_geodetic(base_ecef)
    return float(lat), float(lon), float(h)


def _print_summary(sols: PosSolutions, runtime_s: float, output: Path, gga: Path | None) -> None:
    n = len(sols)
    shares = quality_shares(sols.q)
    fixed = sols.q == SolutionQuality.FIX
    mean_ratio = f"{float(np.mean(sols.ratio[fixed])):.1f}" if fixed.any() else "-"
    rate = n / runtime_s if runtime_s > 0 else float("inf")
    out.print(
        f"epochs {n}  fix {shares['fix_pct']:.1f} %  float {shares['float_pct']:.1f} %  "
        f"dgps {shares['dgps_pct']:.1f} %  single {shares['single_pct']:.1f} %"
    )
    out.print(f"mean ratio (fixed) {mean_ratio}  runtime {runtime_s:.2f} s  {rate:.0f} epochs/s")
    if sols.dop is not None and np.isfinite(sols.dop[:, 2]).any():
        hdop, pdop = (float(np.nanmedian(sols.dop[:, k])) for k in (2, 1))
        out.print(f"median HDOP {hdop:.2f}  PDOP {pdop:.2f}")
    out.print(f"wrote {output}" + (f" and {gga}" if gga is not None else ""))
