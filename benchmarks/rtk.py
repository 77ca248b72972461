"""RTK engine beside RTKLIB on the reference base + rover sets, per set and configuration.

For each set of shared/data/gnss/rinex and each RTKLIB option file of reference/conf that
reference/summary.csv runs on it, in the same run:

ours     ``gnss.rtk.solve.solve_rinex`` with the conf mapped to ``RtkOptions`` (posmode, frequency,
         navsys, armode, elmask, arthres and the filter's statistics), the base
         position given as rnx2rtkp's ``-r``/``-l`` gave it to the references.
rtklib   RTKLIB 2.4.3 b34 in process through the PyPI binding ``pyrtklib`` 0.2.7.
demo5    rtklibexplorer's demo5 (EX 2.5.0) through ``pyrtklib5`` 0.2.8.

The two bindings run in a venv of their own (``var/bench/rtklib-venv``, made on first use: they
are peers, not dependencies, and both register the same pybind11 types, so each runs in its own
process) through ``benchmarks/_rtklib_peer.py``, which calls ``loadopts``/``getsysopts``/``postpos``
as rnx2rtkp does. Both peer processes stay up for the whole run and take one job at a time.

Timing. Per configuration, one untimed warm-up run of each engine (``--warmup``: imports, first
calls, the files into the page cache), then ``--rounds`` rounds, each running ours, RTKLIB 2.4.3
and demo5 one after the other on the same set and conf (A B C A B C ...), so a disturbance of the
shared machine hits all three alike. The timed region is the same work on every side:

ours     ``solve_rinex`` + ``write_pos``: reading the rover and base observation files and the
         navigation file (and the ANTEX file a conf names), solving every epoch, writing the .pos.
rtklib,  ``postpos()``: opening and reading the same RINEX (and ANTEX) files, solving every epoch
demo5    forward (every conf here says ``pos1-soltype=forward``), writing the .pos as it goes.

Outside it on every side: reading the conf (``read_conf`` + ``RtkOptions`` for ours,
``loadopts``/``getsysopts`` for RTKLIB), the process start and imports, and the metrics below
(which read the .pos files back). What differs: ours runs in this process, RTKLIB in its peer
process, whose JSON round trip is outside its timed region. epochs/s = the rover file's epochs
over the timed seconds: the same numerator for every engine (RTKLIB writes no line for an epoch
it did not solve, e.g. 115 of GEONET's 120), so a ratio of epochs/s is the inverse ratio of the
times. Each figure is the median of the rounds with its range (min-max); "x 2.4.3" is the median
of the per-round ratios (each round's engine over the RTKLIB 2.4.3 run beside it).

Accuracy, from the last round's .pos files (the solutions do not vary by round: the table says
whether every round's data lines, warm-up included, were identical): solutions written, fix rate,
horizontal RMS and 95% error against the rover truth where there is one (all epochs, every
quality), and the agreement with RTKLIB 2.4.3's fixed positions (horizontal 95% of the
difference over the epochs both have fixed, epochs paired within 50 ms: RTKLIB stamps
clock-corrected times). The peers' .pos files are also checked line by line against the
reference outputs (``*_B34.pos``, ``*_D5.pos``: same data lines; demo5's header names EX 2.5.1
there, 2.5.0 here).

Goals from the RTK issue: fix rate >= the better RTKLIB, errors <= RTKLIB's, within 1 cm (h95)
of RTKLIB's fixed positions, and epochs/s >= RTKLIB's on the 5-GNSS dual-frequency set
(matstatic, kin_all_l12_cont). The speed goal is "met" only when every round's ratio is >= 1
(``Spread.verdict``). Solutions go to var/bench/rtk/<engine>/; every round, the summary and the
machine's load to var/bench/rtk.json (rewritten after each configuration); the tables print what
that file holds.

    python benchmarks/rtk.py [--sets css078,geonet2005,matstatic] [--confs kin_all_l12_cont,...]
                             [--engines ours,rtklib,demo5] [--rounds 3] [--warmup 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import Record, Spread, interleaved, machine_state, ratios  # noqa: E402
from gnss.geodesy import ecef_to_geodetic, geodetic_to_ecef, geodetic_to_enu  # noqa: E402
from gnss.rinex.obs import read_obs  # noqa: E402
from gnss.rtk.posfile import read_pos  # noqa: E402
from tests.support import shared_data  # noqa: E402

RINEX = shared_data("gnss", "rinex")
REFERENCE = shared_data("gnss", "reference")
CONF = REFERENCE / "conf"
OUT_DIR = ROOT / "var" / "bench" / "rtk"
PEER_VENV = ROOT / "var" / "bench" / "rtklib-venv"
PEER_PINS = ("pyrtklib==0.2.7", "pyrtklib5==0.2.8")
ENGINES = {  # name -> (label, peer module or None for ours, reference .pos suffix)
    "ours": ("ours", None, None),
    "rtklib": ("RTKLIB 2.4.3 b34", "pyrtklib", "B34"),
    "demo5": ("demo5 EX 2.5.0", "pyrtklib5", "D5"),
}
SPEED_GOAL = ("matstatic", "kin_all_l12_cont")
MATCH_TOL_MS = 50  # same epoch when the solution times are this close (epochs are >= 1 s apart)
# RTKLIB options our RtkOptions has no counterpart for: these confs run on the peers only
PEER_ONLY_CONFS: dict[str, str] = {}  # none since the receiver antenna models (_atx)

Float = NDArray[np.float64]


@dataclass(frozen=True)
class RinexSet:
    folder: str
    rover: str
    base: str
    nav: str
    confs: tuple[str, ...]
    base_ecef: tuple[float, float, float] | None = None  # rnx2rtkp -r
    base_llh: tuple[float, float, float] | None = None  # rnx2rtkp -l
    truth_llh: tuple[float, float, float] | None = None

    @property
    def dir(self) -> Path:
        return RINEX / self.folder

    def base_ecef_m(self) -> Float:
        if self.base_ecef is not None:
            return np.asarray(self.base_ecef, dtype=np.float64)
        assert self.base_llh is not None
        return np.asarray(geodetic_to_ecef(*self.base_llh), dtype=np.float64)


def _llh_file(path: Path) -> tuple[float, float, float]:
    lat, lon, h = (float(v) for v in path.read_text().split()[:3])
    return lat, lon, h


def _llh_of_ecef(x: float, y: float, z: float) -> tuple[float, float, float]:
    lat, lon, h = ecef_to_geodetic(np.array([x, y, z]))
    return float(lat), float(lon), float(h)


def _sets() -> dict[str, RinexSet]:
    """The reference runs of reference/summary.csv; positions from data/gnss/README.md."""
    mat = RINEX / "matrtklib_static"
    return {
        "css078": RinexSet(
            "cssrlib_doy078_static",
            "SEPT078M1.21O",
            "3034078M1.21O",
            "SEPT078M.21P",
            ("kin_gejq_l12_cont", "kin_gejq_l12_cont_atx"),
            base_ecef=(-3959400.631, 3385704.533, 3667523.111),
            truth_llh=_llh_of_ecef(-3962108.673, 3381309.574, 3668678.638),
        ),
        "geonet2005": RinexSet(
            "rtklib_geonet_2005",
            "07590920.05o",
            "30400920.05o",
            "30400920.05n",
            ("kin_gps_l12_cont", "static_gps_l12"),
            base_ecef=(-3978241.958, 3382840.234, 3649900.853),
        ),
        "matstatic": RinexSet(
            "matrtklib_static",
            "rover.obs",
            "base.obs",
            "base.nav",
            (
                "dgps_all_l1",
                "kin_all_l12_cont",
                "kin_all_l12_inst",
                "kin_bds_l12_cont",
                "kin_bds_l1_cont",
                "kin_gps_l1_cont",
                "single_all_l1",
            ),
            base_llh=_llh_file(mat / "base_position.txt"),
            truth_llh=_llh_file(mat / "rover_position.txt"),
        ),
    }


# --- RTKLIB option files -> RtkOptions --------------------------------------------------------------

_POSMODE = {"single": "single", "dgps": "dgnss", "kinematic": "kinematic", "static": "static"}
_FREQS = {"l1": 1, "l1+2": 2, "l1+l2": 2, "l1+2+3": 3, "l1+l2+l5": 3}
_ARMODE = {a: a for a in ("continuous", "instantaneous", "fix-and-hold", "off")}
_NAVSYS = ((1, "G"), (8, "E"), (32, "C"), (16, "J"), (4, "R"))  # GLONASS: code only (RtkOptions)
_NUMERIC = {  # conf key -> (RtkOptions field, converter)
    "pos1-elmask": ("elmask_deg", float),
    "pos2-arthres": ("ratio_threshold", float),
    "pos2-arminfix": ("min_fix_to_hold", int),
    "pos2-maxage": ("max_base_age_s", float),
    "pos2-slipthres": ("slip_gf_m", float),
    "pos2-rejionno": ("max_innovation_m", float),
    "stats-eratio1": ("code_phase_ratio", float),
    "stats-errphase": ("err_phase_m", float),
    "stats-errphaseel": ("err_phase_el_m", float),
    "stats-stdbias": ("std_bias_cyc", float),
}


def read_conf(path: Path) -> dict[str, str]:
    """An RTKLIB option file as ``{key: value}`` (comments after ``#`` dropped)."""
    opts: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            opts[key.strip()] = value.strip()
    return opts


def conf_kwargs(opts: dict[str, str], data_dir: Path | None = None) -> dict[str, Any]:
    """The ``RtkOptions`` keyword arguments for an RTKLIB option set; ``file-rcvantfile`` is
    relative to ``data_dir`` (rnx2rtkp's working directory)."""
    navsys = int(opts.get("pos1-navsys", "1"))
    kwargs: dict[str, Any] = {
        "mode": _POSMODE[opts["pos1-posmode"]],
        "freqs": _FREQS[opts.get("pos1-frequency", "l1+2")],
        "systems": "".join(letter for bit, letter in _NAVSYS if navsys & bit),
        "ar": _ARMODE[opts.get("pos2-armode", "continuous")],
    }
    for key, (name, convert) in _NUMERIC.items():
        if key in opts:
            kwargs[name] = convert(opts[key])
    if opts.get("file-rcvantfile"):
        kwargs["antex_path"] = (data_dir or Path()) / opts["file-rcvantfile"]
    for ant, who in (("ant1", "rover"), ("ant2", "base")):
        kwargs[f"{who}_antenna"] = opts.get(f"{ant}-anttype", "")
        kwargs[f"{who}_delta_enu_m"] = tuple(float(opts.get(f"{ant}-antdel{c}") or 0) for c in "enu")
    kwargs["antenna_pcv"] = opts.get("pos1-posopt2", "off") == "on"
    return kwargs


# --- solutions and metrics ------------------------------------------------------------------------


@dataclass
class Track:
    """The columns of a solution that the metrics need: GPST in ms, (n, 3) lat/lon/h, quality."""

    t_ms: NDArray[np.int64]
    llh: Float
    q: NDArray[np.int64]


def read_track(path: Path) -> Track:
    """A .pos file (RTKLIB's or ours) as a :class:`Track`, through ``gnss.rtk.posfile.read_pos``."""
    sols = read_pos(path)
    return Track(
        np.asarray(sols.time, dtype="datetime64[ms]").astype(np.int64),
        np.asarray(sols.llh, dtype=np.float64).reshape(-1, 3),
        np.asarray(sols.q, dtype=np.int64),
    )


def _horizontal_m(llh: Float, origin: Float) -> Float:
    """Horizontal distance (m) of each point from the origin(s), shapes (n, 3)."""
    enu = geodetic_to_enu(llh[:, 0], llh[:, 1], llh[:, 2], origin[..., 0], origin[..., 1], origin[..., 2])
    return np.asarray(np.hypot(enu[:, 0], enu[:, 1]), dtype=np.float64)


def metrics(track: Track, truth: tuple[float, float, float] | None, ref: Track | None) -> dict[str, Any]:
    n = len(track.q)
    m: dict[str, Any] = {"epochs": n, "fix_pct": 100.0 * float(np.mean(track.q == 1)) if n else 0.0}
    m["q_counts"] = {str(k): int(v) for k, v in zip(*np.unique(track.q, return_counts=True), strict=True)}
    if truth is not None and n:
        h = _horizontal_m(track.llh, np.asarray(truth, dtype=np.float64))
        m["h_rms_cm"] = 100.0 * float(np.sqrt(np.mean(h * h)))
        m["h95_cm"] = 100.0 * float(np.percentile(h, 95))
    if ref is not None and n:
        i, j = match_epochs(track.t_ms[track.q == 1], ref.t_ms[ref.q == 1])
        m["both_fixed"] = len(i)
        if len(i):
            d = _horizontal_m(track.llh[track.q == 1][i], ref.llh[ref.q == 1][j])
            m["vs_rtklib_fixed_h95_cm"] = 100.0 * float(np.percentile(d, 95))
    return m


def match_epochs(
    a_ms: NDArray[np.int64], b_ms: NDArray[np.int64], tol_ms: int = MATCH_TOL_MS
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Indices of the epochs of ``a`` and ``b`` (sorted times) that are the same epoch.

    Within a tolerance, not equal: RTKLIB stamps a solution with the receiver's time corrected by
    its clock estimate, so a receiver whose clock jumps by 1 ms (the GEONET 2005 rover writes
    ``30.0010000``) has RTKLIB times ``.000`` and raw epoch times ``.001``."""
    if not len(a_ms) or not len(b_ms):
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    k = np.searchsorted(b_ms, a_ms)
    lo, hi = np.clip(k - 1, 0, len(b_ms) - 1), np.clip(k, 0, len(b_ms) - 1)
    nearest = np.where(np.abs(b_ms[lo] - a_ms) <= np.abs(b_ms[hi] - a_ms), lo, hi)
    ok = np.abs(b_ms[nearest] - a_ms) <= tol_ms
    return np.flatnonzero(ok), nearest[ok]


def same_data_lines(out: Path, reference: Path) -> int | None:
    """How many data lines of ``out`` differ from the reference .pos (None: no reference)."""
    if not reference.exists():
        return None
    a = [s for s in out.read_text().splitlines() if not s.startswith("%")]
    b = [s for s in reference.read_text().splitlines() if not s.startswith("%")]
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


# --- the engines ----------------------------------------------------------------------------------


def data_digest(path: Path) -> str:
    """A digest of a .pos file's data lines (its header names the program and the files)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for line in f:
            if not line.startswith(b"%"):
                h.update(line)
    return h.hexdigest()[:16]


def _peer_python(console: Console) -> Path:
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".installed"
    if not python.exists() or not stamp.exists() or stamp.read_text().split() != list(PEER_PINS):
        uv = Path(sys.executable).parent / "uv"
        with console.status(f"making RTKLIB's venv ({', '.join(PEER_PINS)})"):
            if not python.exists():
                subprocess.run(
                    [str(uv), "venv", "-q", "--python", sys.executable, str(PEER_VENV)], check=True
                )
            subprocess.run([str(uv), "pip", "install", "-q", "--python", str(python), *PEER_PINS], check=True)
        stamp.write_text("\n".join(PEER_PINS) + "\n")
    return python


class Peer:
    """One RTKLIB binding in its own process (``_rtklib_peer.py``), one job at a time."""

    def __init__(self, python: Path, engine: str) -> None:
        self.engine = engine
        self.module = ENGINES[engine][1] or ""
        self.log = OUT_DIR / f"{engine}.log"  # RTKLIB's own messages, and a traceback if it fails
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[str] = self.log.open("w")
        self._proc = subprocess.Popen(
            [str(python), str(ROOT / "benchmarks" / "_rtklib_peer.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        hello = self._ask({"engine": self.module})
        self.version = f"{self.module} {hello['package_version']}, RTKLIB {hello['rtklib_version']}"

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(message) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            self._log.flush()
            tail = "".join(self.log.read_text().splitlines(keepends=True)[-20:])
            raise SystemExit(f"{self.module} failed (exit {self._proc.wait()}):\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def job(self, sets: dict[str, RinexSet], name: str, conf: str) -> dict[str, Any]:
        s = sets[name]
        job: dict[str, Any] = {
            "set": name,
            "conf": str(CONF / f"{conf}.conf"),
            "dir": str(s.dir),
            "rover": s.rover,
            "base": s.base,
            "nav": s.nav,
            "out": str(OUT_DIR / self.engine / f"{name}_{conf}.pos"),
        }
        if s.base_ecef is not None:
            job["base_ecef"] = list(s.base_ecef)
        else:
            job["base_llh"] = list(s.base_llh or ())
        return job

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        return self._ask(job)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(10)
        self._log.close()


@dataclass
class Runner:
    """One engine on one set/conf: ``once()`` runs it, returns the timed seconds and keeps the
    output's digest and what the engine said of its run."""

    engine: str
    out: Path
    call: Callable[[], tuple[float, dict[str, Any]]]

    def __post_init__(self) -> None:
        self.digests: list[str] = []
        self.extra: dict[str, Any] = {}

    def once(self) -> float:
        seconds, self.extra = self.call()
        self.digests.append(data_digest(self.out))
        return seconds


def ours_runner(sets: dict[str, RinexSet], name: str, conf: str) -> Runner:
    # imported here so that the peers run (--engines rtklib,demo5) without the engine
    from gnss.rtk.options import RtkOptions
    from gnss.rtk.posfile import write_pos
    from gnss.rtk.solve import solve_rinex

    s = sets[name]
    options = RtkOptions(**conf_kwargs(read_conf(CONF / f"{conf}.conf"), s.dir))
    single = options.mode == "single"
    base, base_ecef = (None, None) if single else (s.dir / s.base, s.base_ecef_m())
    ref_llh = None if base_ecef is None else _llh_of_ecef(*base_ecef.tolist())
    out = OUT_DIR / "ours" / f"{name}_{conf}.pos"
    out.parent.mkdir(parents=True, exist_ok=True)

    def call() -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        sol = solve_rinex(s.dir / s.rover, base, s.dir / s.nav, options, base_ecef_m=base_ecef)
        write_pos(out, sol, inputs=[s.rover, s.base, s.nav], ref_llh=ref_llh)
        return time.perf_counter() - t0, {}

    return Runner("ours", out, call)


def peer_runner(peer: Peer, sets: dict[str, RinexSet], name: str, conf: str) -> Runner:
    job = peer.job(sets, name, conf)

    def call() -> tuple[float, dict[str, Any]]:
        r = peer.run(job)
        return float(r["seconds"]), {k: r[k] for k in ("status", "nf", "navsys", "modear")}

    return Runner(peer.engine, Path(job["out"]), call)


# --- figures --------------------------------------------------------------------------------------


def summarize(
    sets: dict[str, RinexSet],
    name: str,
    conf: str,
    rover_epochs: int,
    runners: dict[str, Runner],
    eps: dict[str, list[float]],
) -> dict[str, Any]:
    """One configuration's figures (what the tables print and rtk.json holds)."""
    truth = sets[name].truth_llh
    tracks = {e: read_track(r.out) for e, r in runners.items()}
    engines: dict[str, Any] = {}
    for engine, runner in runners.items():
        ref = tracks.get("rtklib") if engine != "rtklib" else None
        m = metrics(tracks[engine], truth, ref)
        m["solutions"] = m.pop("epochs")
        row: dict[str, Any] = {
            "label": ENGINES[engine][0],
            "epochs_per_s": Spread.of(eps[engine]),
            "vs_rtklib": ratios(eps[engine], eps["rtklib"])
            if engine != "rtklib" and "rtklib" in eps
            else None,
            "same_output_every_round": len(set(runner.digests)) == 1,
            "out": str(runner.out.relative_to(ROOT)),
            **m,
            **runner.extra,
        }
        if ENGINES[engine][2] is not None:
            reference = REFERENCE / f"{name}_{conf}_{ENGINES[engine][2]}.pos"
            row["reference"] = reference.name
            row["differing_lines_vs_reference"] = same_data_lines(runner.out, reference)
        engines[engine] = row
    return {"set": name, "conf": conf, "rover_epochs": rover_epochs, "engines": engines}


POS_QUANTUM_CM = 0.01


def goals(config: dict[str, Any]) -> dict[str, str] | None:
    """The RTK issue's goals for one configuration where ours and both RTKLIBs ran."""
    e = config["engines"]
    if not {"ours", "rtklib", "demo5"} <= set(e):
        return None
    ours, b34, d5 = e["ours"], e["rtklib"], e["demo5"]

    def mark(ok: bool) -> str:
        return "met" if ok else "not met"

    v = {"fix_rate": mark(ours["fix_pct"] >= max(b34["fix_pct"], d5["fix_pct"]))}
    if ours.get("both_fixed"):
        v["agreement_1cm"] = mark(ours.get("vs_rtklib_fixed_h95_cm", float("inf")) <= 1.0)
    if "h_rms_cm" in ours:
        # RTKLIB's .pos keeps 1e-9 degree (~0.1 mm): closer than that is a tie, not a loss
        tie = POS_QUANTUM_CM
        v["errors"] = mark(
            ours["h_rms_cm"] <= b34["h_rms_cm"] + tie and ours["h95_cm"] <= b34["h95_cm"] + tie
        )
    if (config["set"], config["conf"]) == SPEED_GOAL:
        v["speed"] = ours["vs_rtklib"].verdict(1.0)
    return v


# --- report ---------------------------------------------------------------------------------------


def _f(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def _verdict(text: str | None) -> str:
    if text is None:
        return "—"
    return f"[green]{text}[/]" if text == "met" else f"[red]{text}[/]"


def report(console: Console, summary: dict[str, Any], rounds: int) -> None:
    table = Table(
        title=f"RTK engines, per set and configuration: epochs/s median (min-max) of {rounds} interleaved rounds"
    )
    for col in (
        "set/conf (rover epochs)",
        "engine",
        "epochs/s",
        "x 2.4.3",
        "sols",
        "fix %",
        "h RMS cm",
        "h95 cm",
    ):
        table.add_column(
            col, justify="left" if col in ("set/conf (rover epochs)", "engine") else "right", no_wrap=True
        )
    for col in ("to 2.4.3 fix h95 cm (n)", "= ref .pos", "same all rounds"):
        table.add_column(col, justify="right", no_wrap=True)
    for key, config in summary["configs"].items():
        first = True
        for engine, row in config["engines"].items():
            diff = row.get("differing_lines_vs_reference")
            same = (
                "—"
                if "reference" not in row
                else ("no ref" if diff is None else "yes" if diff == 0 else f"{diff} lines differ")
            )
            agree = "—"
            if engine != "rtklib" and "both_fixed" in row:
                agree = f"{_f(row.get('vs_rtklib_fixed_h95_cm'), '.2f')} ({row['both_fixed']})"
            ratio = row["vs_rtklib"]
            table.add_row(
                f"{key} ({config['rover_epochs']})" if first else "",
                row["label"],
                row["epochs_per_s"].fmt(0),
                "—" if ratio is None else ratio.fmt(2),
                str(row["solutions"]),
                f"{row['fix_pct']:.1f}",
                _f(row.get("h_rms_cm"), ".2f"),
                _f(row.get("h95_cm"), ".2f"),
                agree,
                same,
                "yes" if row["same_output_every_round"] else "[red]no[/]",
            )
            first = False
        table.add_section()
    table.caption = (
        "h RMS/h95: none without a rover truth (GEONET). epochs/s: the rover file's epochs over the timed seconds (read RINEX + solve + write .pos, "
        "both sides); x 2.4.3: median (min-max) of the per-round ratios to RTKLIB 2.4.3; accuracy "
        "columns from the solutions, identical in every round where 'same all rounds' says yes"
    )
    console.print(table)

    verdicts = summary["goals"]
    if verdicts:
        table = Table(title="goals (ours vs RTKLIB); speed: met only when every round's ratio is >= 1")
        for col in (
            "run",
            "fix rate >= best",
            "errors <= 2.4.3",
            "<= 1 cm of 2.4.3 fixed",
            "epochs/s >= 2.4.3",
        ):
            table.add_column(col)
        for key, v in verdicts.items():
            speed = v.get("speed")
            ratio = summary["configs"][key]["engines"]["ours"]["vs_rtklib"]
            table.add_row(
                key,
                _verdict(v["fix_rate"]),
                _verdict(v.get("errors")),
                _verdict(v.get("agreement_1cm")),
                "—" if speed is None else f"x {ratio.fmt(2)}: {_verdict(speed)}",
            )
        console.print(table)


# --- the run --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    all_sets = _sets()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sets", default=",".join(all_sets), help=f"comma-separated: {','.join(all_sets)}")
    parser.add_argument("--confs", default="", help="comma-separated conf names (default: each set's all)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated: {','.join(ENGINES)}")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds per configuration")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each engine before the rounds")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    wanted = {e.strip() for e in args.engines.split(",") if e.strip()}
    engines = [e for e in ENGINES if e in wanted]  # always in the order ours, rtklib, demo5
    confs = {c.strip() for c in args.confs.split(",") if c.strip()}
    if unknown := [s for s in chosen if s not in all_sets]:
        parser.error(f"unknown sets {unknown}; known: {list(all_sets)}")
    if unknown := sorted(wanted - set(ENGINES)):
        parser.error(f"unknown engines {unknown}; known: {list(ENGINES)}")
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be >= 1 and --warmup >= 0")
    jobs = [(s, c) for s in chosen for c in all_sets[s].confs if not confs or c in confs]
    if not jobs:
        parser.error("no set/conf selected")

    console = Console(width=200)
    command = f"python {shlex.join(['benchmarks/rtk.py', *(sys.argv[1:] if argv is None else argv)])}"
    console.print(f"$ {command}")
    console.print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}")
    record = Record(
        "rtk",
        command,
        params={"sets": chosen, "jobs": [f"{s}/{c}" for s, c in jobs], "engines": engines}
        | {"rounds": args.rounds, "warmup": args.warmup},
    )
    console.print(f"load before: {record.machine_before['loadavg']}\n")
    peers: dict[str, Peer] = {}
    if any(ENGINES[e][1] for e in engines):
        python = _peer_python(console)
        peers = {e: Peer(python, e) for e in engines if ENGINES[e][1] is not None}
    record.peers = {e: p.version for e, p in peers.items()}
    for e, p in peers.items():
        console.print(f"{e}: {p.version}")
    summary: dict[str, Any] = {"configs": {}, "goals": {}}
    record.summary = summary
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # no refresh thread: the bar is redrawn between runs, never while one is timed
    progress = Progress(*columns, console=console, auto_refresh=False)
    try:
        with progress:
            task = progress.add_task("runs", total=len(jobs) * len(engines) * (args.rounds + args.warmup))
            for name, conf in jobs:
                key = f"{name}/{conf}"
                runners: dict[str, Runner] = {}
                for engine in engines:
                    if engine == "ours" and conf in PEER_ONLY_CONFS:
                        continue
                    if engine == "ours":
                        runners[engine] = ours_runner(all_sets, name, conf)
                    else:
                        runners[engine] = peer_runner(peers[engine], all_sets, name, conf)
                rover_epochs = len(read_obs(all_sets[name].dir / all_sets[name].rover).time)
                progress.update(task, description=key)

                def step() -> None:
                    progress.advance(task)
                    progress.refresh()

                progress.refresh()
                state = {"machine_before": machine_state()}
                warm = interleaved({e: r.once for e, r in runners.items()}, args.warmup, between=step)
                seconds = interleaved({e: r.once for e, r in runners.items()}, args.rounds, between=step)
                eps = {e: [rover_epochs / t for t in ts] for e, ts in seconds.items()}
                record.rounds[key] = {
                    "order": list(runners),
                    "rover_epochs": rover_epochs,
                    "warmup_seconds": warm,
                    "seconds": seconds,
                    "epochs_per_s": eps,
                    "output_digests": {e: r.digests for e, r in runners.items()},
                    **state,
                    "machine_after": machine_state(),
                }
                config = summarize(all_sets, name, conf, rover_epochs, runners, eps)
                summary["configs"][key] = config
                if (v := goals(config)) is not None:
                    summary["goals"][key] = v
                record.save()
    finally:
        for peer in peers.values():
            peer.close()
    path = record.save()
    report(console, summary, args.rounds)
    console.print(
        f"load before/after: {record.machine_before['loadavg']} / {record.machine_after['loadavg']}; "
        f"every round and figure in {path.relative_to(ROOT)}, solutions under {OUT_DIR.relative_to(ROOT)}/"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
