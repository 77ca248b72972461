"""Live cloud RTK, the hot path: the engine alone, then N rovers through the worker pool.

The capture is the NovAtel OEM729 one (tests/data/gnss/rtcm3, Hiroshima 2022-12-13: 60 epochs at
1 Hz, MSM7 of 5 GNSS, ephemerides, 1005), used as both rover and base: a zero baseline, so the
truth is its own 1005 ARP. Kinematic, GECJ, dual frequency, as tests/gnss/test_rtk_live.py. In one
run on this machine:

engine   ``gnss.rtk.live.LiveRtk`` in process, fed frame by frame (base frame k, then rover frame
         k, as the tests' ``run()``): epochs solved per second of the whole feed, and the solve
         latency of an epoch = the wall time of the ``feed_rover`` call that completed it (and
         returned its fix), p50/p99 over the solved epochs of every repeat. Beside it, the
         post-processing path ``gnss.rtk.rtcm_input.solve_rtcm`` on the same file (reading and
         decoding included). Best of ``--repeat`` for the times; fix rate and the largest
         horizontal distance from the ARP over every solution, for both.
pool     ``gnss.rtk.pool.RtkPool`` with 1 and 2 worker processes (``--workers``), N concurrent
         rover sessions (``--sessions``), each a copy of the capture cut as the receiver sends it,
         one burst an epoch (every frame up to the MSM with the multiple-message bit clear), burst
         k handed over at ``k / --speed`` s by every session at once, as receivers aligned on GPS
         time send them; the base's burst k just before the rover's. Rovers do not wait for
         answers. Latencies, p50/p99: "answer" = a rover burst handed to ``RtkPool.rover`` ->
         its answer, over the answers that held a fix (the pool's service time); "fix" = an
         epoch's own rover burst -> the answer holding its fix (matched by time tag), which also
         counts the bursts the engine waited for before it saw the epoch complete ("fix waits":
         0 when the epoch's last MSM - here a NavIC one, which a GECJ session does not read -
         closes it). Solved/s = fixes
         received over the wall time from the first burst to the last answer; "sent/s" = what
         the rovers sent (N x speed epochs/s); a pass kept up when its bursts were answered (fix or
         not) at >= 95% of that rate. CPU over that wall time, from /proc: the workers' (as % of
         their cores), this process's (JSON only), and the rest of the machine's (in cores: other
         programs share these CPUs, and a 2-worker pass on 2 cores shows it). A pass at speed s
         with N sessions loads the pool like N x s rovers at 1 Hz; its latencies are those of N
         receivers sending at the same instant. Errors (answers with an error, pool restarts)
         must be 0; the exit status is 1 otherwise.

The last line: how many 1 Hz rovers one worker core keeps up with, from the best pool throughput
per worker (a pass that kept up gives only a lower bound), and from the workers' CPU time per
solved epoch, which load from other programs does not inflate. Figures go to
var/bench/cloud_rtk.json. Nothing is asserted about the times.

    .venv/bin/python benchmarks/cloud_rtk.py [--sessions 1,5,10,20] [--workers 1,2] [--speed 10]
                                             [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnss.fixes import PositionFix  # noqa: E402
from gnss.geodesy import ecef_to_geodetic, geodetic_to_enu  # noqa: E402
from gnss.rtcm.decode import decode  # noqa: E402
from gnss.rtcm.framing import RtcmFramer  # noqa: E402
from gnss.rtcm.msm import MsmEpoch, is_msm  # noqa: E402
from gnss.rtcm.station import StationArp  # noqa: E402
from gnss.rtk.broadcast import BDT_GPST_S, WEEK_S  # noqa: E402
from gnss.rtk.live import LiveRtk  # noqa: E402
from gnss.rtk.options import RtkOptions  # noqa: E402
from gnss.rtk.pool import Answer, RtkPool, SessionSpec  # noqa: E402
from gnss.rtk.posfile import gpst_minus_utc_s  # noqa: E402
from gnss.rtk.rtcm_input import solve_rtcm  # noqa: E402

CAPTURE = ROOT / "tests" / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
OUT = ROOT / "var" / "bench" / "cloud_rtk.json"
KINEMATIC = RtkOptions(mode="kinematic", systems="GECJ", freqs=2)
FIXED_GGA = 4
WARMUP_EPOCHS = 15  # per worker before a pass: imports, first navigation, first solves
ANSWER_TIMEOUT_S = 600.0  # an overloaded pass queues for long; a timeout would read as an error
CLK_TCK = os.sysconf("SC_CLK_TCK")
F64 = NDArray[np.float64]
console = Console(width=180)


# --- the capture ----------------------------------------------------------------------------------


def capture_frames() -> list[bytes]:
    return [f.raw for f in RtcmFramer().feed(CAPTURE.read_bytes())]


def capture_arp(frames: list[bytes]) -> tuple[float, float, float]:
    """The 1005 ARP as latitude, longitude (degrees), ellipsoidal height (m)."""
    arp = next(r for r in map(decode, RtcmFramer().feed(b"".join(frames))) if isinstance(r, StationArp))
    lat, lon, h = ecef_to_geodetic(np.asarray(arp.ecef_m, dtype=np.float64))
    return float(lat), float(lon), float(h)


@dataclass(frozen=True)
class Burst:
    data: bytes
    tow_ms: int | None  # the epoch's GPST, milliseconds of the week (None: no GPS/GAL/QZS/BDS MSM)


def msm_tow_ms(msg: MsmEpoch) -> int:
    tow = msg.epoch_s + (BDT_GPST_S if msg.system == "C" else 0.0)
    return round((tow % WEEK_S) * 1000.0)


def fix_tow_ms(fix: PositionFix) -> int | None:
    if fix.time is None:
        return None
    utc = np.datetime64(fix.time.replace(tzinfo=None), "ns")
    gpst = utc + np.timedelta64(int(gpst_minus_utc_s(utc)), "s")
    ms = int((gpst - np.datetime64("1980-01-06", "ns")) // np.timedelta64(1, "ms"))
    return ms % round(WEEK_S * 1000.0)


def epoch_bursts(frames: list[bytes]) -> list[Burst]:
    """The stream as the receiver sends it, one burst a second: cut after each MSM with the
    multiple-message bit clear (RTCM 10403 DF393), whatever its system. (This receiver closes its
    epochs with a NavIC MSM, which a GECJ session does not read but whose bit it heeds.)"""
    bursts: list[Burst] = []
    pending: list[bytes] = []
    tag: int | None = None
    for frame in RtcmFramer().feed(b"".join(frames)):
        pending.append(frame.raw)
        msg = decode(frame) if is_msm(frame.msg_type) else None
        if not isinstance(msg, MsmEpoch):
            continue
        if tag is None and msg.system in "GEJC":
            tag = msm_tow_ms(msg)
        if not msg.multiple_message:
            bursts.append(Burst(b"".join(pending), tag))
            pending, tag = [], None
    if pending and bursts and not any(is_msm(f.msg_type) for f in RtcmFramer().feed(b"".join(pending))):
        bursts[-1] = Burst(bursts[-1].data + b"".join(pending), bursts[-1].tow_ms)  # a trailing 1005...
    elif pending:  # an unfinished epoch: the stream's tail
        bursts.append(Burst(b"".join(pending), tag))
    return bursts


def max_horizontal_mm(llh: F64, arp: tuple[float, float, float]) -> float:
    """The largest horizontal distance (mm) of ``(n, 3)`` lat/lon/h from the ARP."""
    if not len(llh):
        return math.nan
    enu = geodetic_to_enu(llh[:, 0], llh[:, 1], llh[:, 2], *arp)
    return 1e3 * float(np.hypot(enu[:, 0], enu[:, 1]).max())


def fixes_llh(fixes: list[PositionFix]) -> F64:
    return np.array([[f.lat, f.lon, f.height or 0.0] for f in fixes], dtype=np.float64).reshape(-1, 3)


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q)) if samples else math.nan


# --- 1. the engine alone --------------------------------------------------------------------------


@dataclass
class EngineRow:
    path: str
    epochs: int  # solved
    unsolved: int
    seconds: float  # best of the repeats
    epochs_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    fix_pct: float
    max_h_mm: float


def bench_live(frames: list[bytes], arp: tuple[float, float, float], repeat: int) -> EngineRow:
    best = math.inf
    latencies: list[float] = []
    fixes: list[PositionFix] = []
    live = LiveRtk(KINEMATIC)
    for _ in range(repeat):
        live = LiveRtk(KINEMATIC)
        fixes = []
        t0 = time.perf_counter()
        for frame in frames:
            live.feed_base(frame)
            t1 = time.perf_counter()
            out = live.feed_rover(frame)
            dt = time.perf_counter() - t1
            if out:
                latencies.append(dt)
                fixes += out
        fixes += live.flush_rover()
        best = min(best, time.perf_counter() - t0)
    q = np.array([f.quality for f in fixes])
    return EngineRow(
        "live  LiveRtk, frame by frame",
        live.solved,
        live.unsolved,
        best,
        live.solved / best,
        1e3 * pct(latencies, 50),
        1e3 * pct(latencies, 99),
        1e3 * max(latencies, default=math.nan),
        100.0 * float(np.mean(q == FIXED_GGA)) if len(q) else 0.0,
        max_horizontal_mm(fixes_llh(fixes), arp),
    )


def bench_batch(arp: tuple[float, float, float], repeat: int) -> EngineRow:
    best = math.inf
    sols = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        sols = solve_rtcm(CAPTURE, CAPTURE, KINEMATIC)
        best = min(best, time.perf_counter() - t0)
    assert sols is not None
    q = np.asarray(sols.q)
    n = len(q)
    return EngineRow(
        "post  solve_rtcm, whole file",
        n,
        0,
        best,
        n / best,
        math.nan,
        math.nan,
        math.nan,
        100.0 * float(np.mean(q == 1)) if n else 0.0,
        max_horizontal_mm(np.asarray(sols.llh, dtype=np.float64), arp),
    )


# --- 2. through the worker pool -------------------------------------------------------------------


@dataclass
class PoolRow:
    workers: int
    sessions: int
    rovers_1hz: float  # the load as rovers at 1 Hz: sessions x speed
    epochs: int  # fixes received during the pass (the flushed last epochs not counted)
    answers: int
    seconds: float
    offered_per_s: float
    epochs_per_s: float
    answer_p50_ms: float  # rover burst handed over -> its answer, when that answer held a fix
    answer_p99_ms: float
    fix_p50_ms: float  # an epoch's own rover burst handed over -> the answer holding its fix
    fix_p99_ms: float
    fix_max_ms: float
    fix_wait_epochs: float  # median: how many bursts later than its own a fix came
    fix_pct: float
    max_h_mm: float
    worker_cpu_s: float
    worker_cpu_pct: float
    parent_cpu_pct: float  # this process: event loop, answer thread, queue feeders
    other_cores: float  # the rest of the machine meanwhile (other programs), in cores
    errors: int
    restarts: int

    @property
    def kept_up(self) -> bool:
        """The pool answered the rovers' bursts (with a fix or not) as fast as they were sent:
        no backlog grew over the pass."""
        return self.answers / self.seconds >= 0.95 * self.offered_per_s


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process from /proc/<pid>/stat (NaN where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot, from /proc/stat (NaN where there is none)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return math.nan
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK  # all but idle and iowait


def workers_cpu(pool: RtkPool) -> float:
    return sum(cpu_seconds(w.process.pid) for w in pool._workers)


async def warm_up(pool: RtkPool, bursts: list[Burst]) -> None:
    """One short session per worker (the pool gives each to the least loaded), solved unpaced."""
    names = [f"warmup-{i}" for i in range(pool.n_workers)]
    for name in names:
        pool.open(name, SessionSpec(KINEMATIC))

    async def feed(name: str) -> None:
        for burst in bursts[:WARMUP_EPOCHS]:
            pool.base(name, burst.data)
            await pool.rover(name, burst.data)

    await asyncio.gather(*(feed(n) for n in names))
    for name in names:
        pool.end(name)


async def one_pass(
    pool: RtkPool,
    bursts: list[Burst],
    arp: tuple[float, float, float],
    sessions: int,
    speed: float,
    progress: Progress,
) -> PoolRow:
    names = [f"w{pool.n_workers}-n{sessions}-{i}" for i in range(sessions)]
    for name in names:
        pool.open(name, SessionSpec(KINEMATIC))
    task = progress.add_task(f"{pool.n_workers} worker(s), {sessions} rovers", total=sessions * len(bursts))
    epoch_of: dict[int | None, int] = {b.tow_ms: k for k, b in enumerate(bursts) if b.tow_ms is not None}
    handed = {name: [math.nan] * len(bursts) for name in names}  # perf_counter of each rover burst
    answer_lat: list[float] = []
    fix_lat: list[float] = []
    waits: list[int] = []
    fixes: list[PositionFix] = []
    errors = 0
    restarts0, errors0 = pool.restarts, pool.errors

    def tally(name: str, answer: Answer, k_answer: int | None = None) -> None:
        nonlocal errors
        t = time.perf_counter()
        errors += answer.error is not None
        fixes.extend(answer.fixes)
        if k_answer is None or not answer.fixes:
            return  # the flush at the end: not timed
        answer_lat.append(t - handed[name][k_answer])
        for fix in answer.fixes:
            k = epoch_of.get(fix_tow_ms(fix))
            if k is not None and not math.isnan(handed[name][k]):
                fix_lat.append(t - handed[name][k])
                waits.append(k_answer - k)

    async def ask(name: str, k: int) -> None:
        handed[name][k] = time.perf_counter()
        tally(name, await pool.rover(name, bursts[k].data), k)
        progress.advance(task)

    async def rover(name: str, t_start: float) -> list[asyncio.Task[None]]:
        """Every epoch at its time, without waiting for the answers (a receiver streams on)."""
        asks = []
        for k, burst in enumerate(bursts):
            await asyncio.sleep(max(0.0, t_start + k / speed - time.perf_counter()))
            pool.base(name, burst.data)  # zero baseline: the base's burst k just before the rover's
            asks.append(asyncio.create_task(ask(name, k)))
        return asks

    cpu0, parent0, busy0 = workers_cpu(pool), time.process_time(), machine_busy_s()
    t_start = time.perf_counter() + 0.05
    tasks = await asyncio.gather(*(rover(name, t_start) for name in names))
    await asyncio.gather(*(t for asks in tasks for t in asks))
    seconds = time.perf_counter() - t_start
    cpu, parent = workers_cpu(pool) - cpu0, time.process_time() - parent0
    others = machine_busy_s() - busy0 - cpu - parent
    timed = len(fixes)
    for name in names:  # the stream's end: the last epoch, which no later MSM closed
        tally(name, await pool.flush(name))
        pool.end(name)
    progress.update(task, description=f"{pool.n_workers} worker(s), {sessions} rovers: {seconds:.1f} s")
    q = np.array([f.quality for f in fixes])
    return PoolRow(
        workers=pool.n_workers,
        sessions=sessions,
        rovers_1hz=sessions * speed,
        epochs=timed,
        answers=sessions * len(bursts),
        seconds=seconds,
        offered_per_s=sessions * speed,
        epochs_per_s=timed / seconds,
        answer_p50_ms=1e3 * pct(answer_lat, 50),
        answer_p99_ms=1e3 * pct(answer_lat, 99),
        fix_p50_ms=1e3 * pct(fix_lat, 50),
        fix_p99_ms=1e3 * pct(fix_lat, 99),
        fix_max_ms=1e3 * max(fix_lat, default=math.nan),
        fix_wait_epochs=float(np.median(waits)) if waits else math.nan,
        fix_pct=100.0 * float(np.mean(q == FIXED_GGA)) if len(q) else 0.0,
        max_h_mm=max_horizontal_mm(fixes_llh(fixes), arp),
        worker_cpu_s=cpu,
        worker_cpu_pct=100.0 * cpu / (seconds * pool.n_workers),
        parent_cpu_pct=100.0 * parent / seconds,
        other_cores=max(0.0, others / seconds),
        errors=max(errors, pool.errors - errors0),
        restarts=pool.restarts - restarts0,
    )


async def bench_pool(
    bursts: list[Burst],
    arp: tuple[float, float, float],
    workers: list[int],
    sessions: list[int],
    speed: float,
) -> list[PoolRow]:
    rows: list[PoolRow] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for w in workers:
            pool = RtkPool(w, answer_timeout_s=ANSWER_TIMEOUT_S)
            pool.start()
            try:
                starting = progress.add_task(f"{w} worker(s): spawning, warming up", total=None)
                await warm_up(pool, bursts)
                progress.remove_task(starting)
                for n in sessions:
                    rows.append(await one_pass(pool, bursts, arp, n, speed, progress))
            finally:
                await pool.close()
    return rows


# --- report ---------------------------------------------------------------------------------------


def _f(value: float, fmt: str = ".1f") -> str:
    return "—" if math.isnan(value) else format(value, fmt)


def report_engine(rows: list[EngineRow], repeat: int) -> None:
    table = Table(
        title=f"1. engine alone, in process: kinematic GECJ L1+L2, zero baseline (best of {repeat})"
    )
    for col in ("path", "epochs", "unsolved", "s", "epochs/s", "solve p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col == "path" else "right")
    table.add_column("fix %", justify="right")
    table.add_column("max h err mm", justify="right")
    for r in rows:
        table.add_row(
            r.path,
            str(r.epochs),
            str(r.unsolved),
            f"{r.seconds:.3f}",
            f"{r.epochs_per_s:.1f}",
            _f(r.p50_ms),
            _f(r.p99_ms),
            _f(r.max_ms),
            f"{r.fix_pct:.1f}",
            _f(r.max_h_mm, ".2f"),
        )
    table.caption = (
        "live: the first epochs have no solution until the stream's first ephemerides arrive (post: "
        "every ephemeris is known from the start); an epoch completes, and is solved, in the feed of "
        "its last MSM (this receiver's is NavIC's: not read by GECJ, but it closes the epoch)"
    )
    console.print(table)


def report_pool(rows: list[PoolRow], speed: float, epochs: int) -> None:
    table = Table(
        title=f"2. worker pool: N rovers, each the capture ({epochs} epochs) at {speed:g}x, "
        "all sending at the same instant"
    )
    cols = ["workers", "rovers", "1 Hz eq.", "fixes", "s", "sent/s", "solved/s"]
    cols += ["answer p50 ms", "p99", "fix p50 ms", "p99", "fix waits ep"]
    cols += ["worker CPU %", "other load", "fix %", "max h mm", "errors", "kept up"]
    for col in cols:
        table.add_column(col, justify="right", no_wrap=col == "fixes")
    for r in rows:
        table.add_row(
            str(r.workers),
            str(r.sessions),
            f"{r.rovers_1hz:g}",
            f"{r.epochs}/{r.answers}",
            f"{r.seconds:.1f}",
            f"{r.offered_per_s:.0f}",
            f"{r.epochs_per_s:.1f}",
            _f(r.answer_p50_ms, ".0f"),
            _f(r.answer_p99_ms, ".0f"),
            _f(r.fix_p50_ms, ".0f"),
            _f(r.fix_p99_ms, ".0f"),
            _f(r.fix_wait_epochs, "g"),
            _f(r.worker_cpu_pct, ".0f"),
            _f(r.other_cores, ".2f"),
            f"{r.fix_pct:.1f}",
            _f(r.max_h_mm, ".2f"),
            ("[green]0[/]" if r.errors + r.restarts == 0 else f"[red]{r.errors} ({r.restarts} restarts)[/]"),
            "[green]yes[/]" if r.kept_up else "[red]no[/]",
        )
    table.caption = (
        "1 Hz eq.: rovers x speed, the load as real-time rovers. fixes: received during the pass / "
        "rover bursts sent (a rover's first epochs precede its ephemerides; its last is flushed). "
        "answer: a burst handed over -> its answer, when that held a fix; fix: an epoch's own burst "
        f"-> its fix, which came 'fix waits' bursts later (each {1e3 / speed:g} ms at {speed:g}x, 1 s live). "
        "worker CPU: % of the workers' cores; other load: busy cores of the machine that were not "
        "ours. kept up: bursts answered (fix or not) per second >= 95% of sent, no growing backlog"
    )
    console.print(table)


def capacity_line(rows: list[PoolRow], engine: EngineRow | None) -> str:
    """Rovers at 1 Hz per worker core: the best throughput per worker, and the workers' CPU time
    per solved epoch (which other programs on the machine do not inflate)."""
    best = max(rows, key=lambda r: r.epochs_per_s / r.workers)
    per_worker = best.epochs_per_s / best.workers
    bound = "at least " if best.kept_up else ""  # a pass that kept up did not find the limit
    line = (
        f"one worker core keeps up with {bound}{math.floor(per_worker)} rovers at 1 Hz: "
        f"{per_worker:.1f} epochs/s per worker in the best pass ({best.workers} worker(s), "
        f"{best.sessions} rovers at {best.offered_per_s / best.sessions:g}x)"
    )
    cpu_s = sum(r.worker_cpu_s for r in rows)
    solved = sum(r.epochs for r in rows)
    if solved and cpu_s > 0 and not math.isnan(cpu_s):
        line += (
            f"; {1e3 * cpu_s / solved:.1f} ms of worker CPU per solved epoch over all passes, "
            f"{solved / cpu_s:.0f} rovers per fully busy core"
        )
    if engine is not None:
        line += f"; the engine in process: {engine.epochs_per_s:.1f} epochs/s"
    return line


def _json(value: Any) -> Any:
    """NaN (no sample) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", default="1,5,10,20", help="comma-separated concurrent rovers per pass")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker processes per pool")
    parser.add_argument("--speed", type=float, default=10.0, help="replay speed (1 = the real 1 Hz)")
    parser.add_argument("--repeat", type=int, default=3, help="engine runs, best time kept")
    parser.add_argument("--skip-engine", action="store_true", help="the pool passes only")
    args = parser.parse_args(argv)
    sessions, workers = _ints(args.sessions), _ints(args.workers)
    if not sessions or min(sessions) < 1 or not workers or min(workers) < 1:
        parser.error("--sessions and --workers take positive integers")
    if args.speed <= 0 or args.repeat < 1:
        parser.error("--speed must be > 0 and --repeat >= 1")

    console.print(f"$ python {shlex.join(sys.argv)}")
    console.print(
        f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs\n"
    )
    frames = capture_frames()
    arp = capture_arp(frames)
    bursts = epoch_bursts(frames)
    engine: list[EngineRow] = []
    if not args.skip_engine:
        with console.status(f"engine: live and post-processing, {args.repeat} runs each"):
            engine = [bench_live(frames, arp, args.repeat), bench_batch(arp, args.repeat)]
        report_engine(engine, args.repeat)
    try:
        pool_rows = asyncio.run(bench_pool(bursts, arp, workers, sessions, args.speed))
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: pool closed, no figures saved")
        return 130
    report_pool(pool_rows, args.speed, len(bursts))
    console.print(capacity_line(pool_rows, engine[0] if engine else None))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "argv": sys.argv,
        "cpus": os.cpu_count(),
        "engine": [asdict(r) for r in engine],
        "pool": [{**asdict(r), "kept_up": r.kept_up} for r in pool_rows],
    }
    OUT.write_text(json.dumps(_json(out), indent=2))
    console.print(f"figures saved to {OUT.relative_to(ROOT)}")
    return 0 if all(r.errors + r.restarts == 0 for r in pool_rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
