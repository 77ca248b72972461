"""NTRIP fan-out: one base station, N rovers, our caster beside pygnssutils' gnssserver.

For each N (100, 1,000, 5,000 by default) and each caster, in one run on this machine:

- the caster runs as a process of its own, pinned to CPU 0 (``--no-pin`` to let it float): ours
  is ``beidou ntrip serve`` on a temporary SQLite database made by ``beidou db upgrade``, with
  its mountpoint and rover added by ``beidou ntrip mount add`` / ``user add``; the peer is
  ``pygnssutils.gnssserver.GNSSSocketServer`` in NTRIP caster mode (thread per client), its
  ``maxclients`` raised to N and its listen backlog from socketserver's 5 to 4096, reading the
  same capture from a FIFO (its stream input takes any file-like object);
- N NTRIP 1.0 clients connect over loopback from a few processes (asyncio, up to 2,500
  connections each), pinned to the other CPU with the source;
- the source then replays a real 1 Hz capture at its recorded pace for ``--seconds``;
- latency of a frame at a client = the kernel's receive timestamp (``SO_TIMESTAMPNS``) of the
  read that completed it at the client's socket, minus the source's clock just before writing it
  (CLOCK_REALTIME, one clock for every process); p50/p99 over every frame at every client. This is
  the caster's delivery latency; the time the load processes (one core for thousands of sockets
  and the source) take to get round to reading a socket is reported apart ("read" columns), since
  it measures this machine's load generator, not the caster; the caster's CPU is its process CPU time (/proc/<pid>/stat) over the
  replay, as % of one core.

The issue's goal, printed beside the figures and not asserted: 5,000 clients on one core with
p99 < 50 ms, and at every N the peer reaches, at least 10x lower p99 (or 10x more clients).

    .venv/bin/python benchmarks/ntrip_fanout.py [--clients 100,1000,5000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._ntrip_load import raise_nofile  # noqa: E402

BIN = Path(sys.executable).parent
LOAD = Path(__file__).resolve().parent / "_ntrip_load.py"
CAPTURE = ROOT / "tests" / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
OUT = ROOT / "var" / "bench" / "ntrip_fanout.json"
MOUNT, SOURCE_PASSWORD, USER, PASSWORD = "BENCH", "bench-source", "rover", "rover-secret"
PER_PROCESS = 2500  # client connections per load process, at most
CLK_TCK = os.sysconf("SC_CLK_TCK")
RPS_CPUS = Path("/sys/class/net/lo/queues/rx-0/rps_cpus")
console = Console(width=140)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def cpu_busy() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies from /proc/stat (busy counts irq and softirq: loopback
    delivery runs there, charged to no process)."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            v = [int(x) for x in values[:8]]
            idle = v[3] + v[4]
            out[int(name[3:])] = (sum(v) - idle, sum(v))
    return out


def busy_pct(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> dict[str, float]:
    return {
        f"cpu{c}": 100 * (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1])
        for c in sorted(before)
        if c in after
    }


def wait_port(port: int, proc: subprocess.Popen[Any], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {within_s} s")


def read_line(proc: subprocess.Popen[str], within_s: float, expect: str) -> str:
    """The process's next stdout line starting with ``expect`` (others skipped), or RuntimeError."""
    assert proc.stdout is not None
    deadline = time.monotonic() + within_s
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(left):
                break
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"process {proc.args!r} ended without {expect!r}")
            if line.startswith(expect):
                return line.strip()
    raise RuntimeError(f"no {expect!r} from {proc.args!r} within {within_s:.0f} s")


class Processes:
    """Every child of the run: pinned where asked, and all killed on the way out."""

    def __init__(self, pin: bool) -> None:
        self.pin = pin and (os.cpu_count() or 1) >= 2
        self.procs: list[subprocess.Popen[Any]] = []

    def start(
        self,
        args: Sequence[str],
        *,
        cpu: int | None,
        env: dict[str, str] | None = None,
        stdin: bool = False,
        log: IO[Any] | None = None,
    ) -> subprocess.Popen[str]:
        cpus = {cpu} if self.pin and cpu is not None else None
        proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log if log is not None else subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], within_s: float = 5.0) -> None:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(within_s)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(within_s)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with suppress(OSError):
                    stream.close()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()


@contextmanager
def processes(pin: bool) -> Iterator[Processes]:
    procs = Processes(pin)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield procs
    finally:
        procs.stop_all()
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def steered_loopback(cpu: int, enabled: bool) -> Iterator[str]:
    """Have the receiving half of loopback TCP run on ``cpu`` (Receive Packet Steering on ``lo``).

    On loopback the kernel runs the receiver's whole TCP input path (and the wake-up of the
    reading process) inside the sender's ``send()``: pinned to one core, the caster would pay for
    its 5,000 rovers' network stacks too, which on a real network run on the rovers' own hosts.
    RPS moves that half to the clients' CPU. Needs root; the previous mask is put back."""
    if not enabled:
        yield "loopback not steered (--no-steer): the caster's core also runs the rovers' TCP input"
        return
    try:
        before = RPS_CPUS.read_text().strip()
        RPS_CPUS.write_text(f"{1 << cpu:x}\n")
    except OSError as exc:
        yield f"loopback not steered ({exc.strerror}; needs root): the caster's core also runs the rovers' TCP input"
        return
    try:
        yield f"loopback receive processing steered to CPU {cpu} (RPS on lo, was {before})"
    finally:
        RPS_CPUS.write_text(before + "\n")


def prepare_accounts(workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "BEIDOU_DATABASE_URL": f"sqlite:///{workdir / 'ntrip.sqlite3'}",
        "BEIDOU_LOG_LEVEL": "WARNING",
    }
    env.pop("BEIDOU_REDIS_URL", None)
    beidou = str(BIN / "beidou")
    for cmd in (
        [beidou, "db", "upgrade"],
        [beidou, "ntrip", "mount", "add", MOUNT, "--source-password", SOURCE_PASSWORD],
        [beidou, "ntrip", "user", "add", USER, "--password", PASSWORD],
    ):
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return env


def latencies(src_keys: np.ndarray, src_times: np.ndarray, keys: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Each received frame matched to the source's send, in order (a relay may drop, not reorder)."""
    n = len(keys)
    if n <= len(src_keys) and np.array_equal(keys, src_keys[:n]):
        return times - src_times[:n]
    out = np.empty(n)
    j = 0
    m = 0
    for i in range(n):
        while j < len(src_keys) and src_keys[j] != keys[i]:
            j += 1
        if j == len(src_keys):
            break
        out[m] = times[i] - src_times[j]
        m += 1
        j += 1
    return out[:m]


def percentiles(prefix: str, parts: list[np.ndarray]) -> dict[str, float]:
    lat = np.concatenate(parts) if parts else np.zeros(0)
    if not len(lat):
        return {f"{prefix}p50_ms": math.nan, f"{prefix}p99_ms": math.nan, f"{prefix}max_ms": math.nan}
    return {
        f"{prefix}p50_ms": float(np.percentile(lat, 50) * 1e3),
        f"{prefix}p99_ms": float(np.percentile(lat, 99) * 1e3),
        f"{prefix}max_ms": float(lat.max() * 1e3),
    }


def run_case(
    procs: Processes, kind: str, n: int, args: argparse.Namespace, env: dict[str, str], workdir: Path
) -> dict[str, Any]:
    port = free_port()
    tag = f"{kind}-{n}"
    log = open(workdir / f"{tag}.log", "w")  # noqa: SIM115 - closed below
    fifo = workdir / f"{tag}.fifo"
    row: dict[str, Any] = {"caster": kind, "clients": n}
    try:
        if kind == "ours":
            server = procs.start(
                [str(BIN / "beidou"), "ntrip", "serve", "--port", str(port), "--source-timeout", "60"],
                cpu=0,
                env=env,
                log=log,
            )
            source_target = ["--port", str(port), "--mount", MOUNT, "--password", SOURCE_PASSWORD]
            mount = MOUNT
        else:
            os.mkfifo(fifo)
            server = procs.start(
                [
                    sys.executable,
                    str(LOAD),
                    "peer",
                    "--port",
                    str(port),
                    "--fifo",
                    str(fifo),
                    "--maxclients",
                    str(n),
                    "--user",
                    USER,
                    "--password",
                    PASSWORD,
                    "--queue-size",
                    "4096",
                ],
                cpu=0,
                log=log,
            )
            read_line(server, 30, "listening")
            source_target = ["--fifo", str(fifo)]
            mount = "pygnssutils"  # gnssserver's one mountpoint
        wait_port(port, server)
        workers = max(math.ceil(n / PER_PROCESS), min(args.max_workers, math.ceil(n / 500)))
        shares = [n // workers + (i < n % workers) for i in range(workers)]
        clients = [
            procs.start(
                [
                    sys.executable,
                    str(LOAD),
                    "clients",
                    "--port",
                    str(port),
                    "--mount",
                    mount,
                    "--user",
                    USER,
                    "--password",
                    PASSWORD,
                    "--n",
                    str(share),
                    "--out",
                    str(workdir / f"{tag}-clients{i}.npz"),
                    "--timeout",
                    str(args.connect_timeout),
                ],
                cpu=1,
                stdin=True,
                log=log,
            )
            for i, share in enumerate(shares)
        ]
        t_connect = time.monotonic()
        connected = 0
        failures: list[str] = []
        for proc in clients:
            _, ok, _failed, why = read_line(proc, args.connect_timeout * 3 + n / 50, "ready").split(" ", 3)
            connected += int(ok)
            if why != "{}":
                failures.append(why)
        row["connect_s"] = time.monotonic() - t_connect
        row["connected"] = connected
        row["connect_failures"] = failures
        if connected == 0:
            raise RuntimeError("no client connected")
        source_out = workdir / f"{tag}-source.npz"
        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        client_cpu0 = sum(cpu_seconds(p.pid) for p in clients)
        cores0 = cpu_busy()
        source = procs.start(
            [
                sys.executable,
                str(LOAD),
                "source",
                "--capture",
                str(args.capture),
                "--seconds",
                str(args.seconds),
                "--out",
                str(source_out),
                *source_target,
            ],
            cpu=1,
            log=log,
        )
        spy = None
        if args.profile is not None and kind == "ours":
            args.profile.mkdir(parents=True, exist_ok=True)
            spy = procs.start(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "-p",
                    str(server.pid),
                    "-d",
                    str(int(args.seconds)),
                    "-f",
                    "raw",
                    "-o",
                    str(args.profile / f"{tag}.txt"),
                ],
                cpu=None,
                log=log,
            )
        read_line(source, args.seconds + 60, "sent")
        source.wait(10)
        time.sleep(args.grace)  # the last epoch's frames still on their way
        cpu1, wall1 = cpu_seconds(server.pid), time.monotonic()
        client_cpu1 = sum(cpu_seconds(p.pid) for p in clients)
        row["cores_busy_pct"] = busy_pct(cores0, cpu_busy())
        row["caster_cpu_pct"] = 100 * (cpu1 - cpu0) / (wall1 - wall0)
        row["clients_cpu_pct"] = 100 * (client_cpu1 - client_cpu0) / (wall1 - wall0)
        for proc in clients:
            assert proc.stdin is not None
            proc.stdin.write("stop\n")
            proc.stdin.flush()
        for proc in clients:
            read_line(proc, 60, "done")
        if spy is not None:
            spy.wait(30)
        procs.stop(server)

        src = np.load(source_out)
        src_keys, src_times = src["keys"], src["times"]
        kernel: list[np.ndarray] = []
        read: list[np.ndarray] = []
        delivered = lost = skipped = 0
        for i in range(len(clients)):
            got = np.load(workdir / f"{tag}-clients{i}.npz")
            offsets = np.concatenate([[0], np.cumsum(got["lengths"])])
            for c in range(len(got["lengths"])):
                span = slice(offsets[c], offsets[c + 1])
                keys = got["keys"][span]
                kernel.append(latencies(src_keys, src_times, keys, got["kernel_times"][span]))
                read.append(latencies(src_keys, src_times, keys, got["read_times"][span]))
            delivered += int(got["lengths"].sum())
            lost += int(got["lost"].sum())
            skipped += int(got["skipped"].sum())
        row.update(
            frames_sent=len(src_keys),
            frames_expected=len(src_keys) * connected,
            frames_delivered=delivered,
            clients_cut_off=lost,
            bytes_skipped=skipped,
            seconds=args.seconds,
            **percentiles("", kernel),
            **percentiles("read_", read),
        )
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        procs.stop_all()
        log.close()
        with suppress(OSError):
            fifo.unlink()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="100,1000,5000", help="comma-separated N")
    parser.add_argument("--seconds", type=float, default=20.0, help="replay length per run")
    parser.add_argument("--capture", type=Path, default=CAPTURE)
    parser.add_argument("--peer-max", type=int, default=None, help="skip the peer above this N")
    parser.add_argument("--only", choices=["ours", "peer"], default=None)
    parser.add_argument("--max-workers", type=int, default=4, help="client processes at most")
    parser.add_argument("--connect-timeout", type=float, default=20.0)
    parser.add_argument("--grace", type=float, default=1.0, help="seconds to wait after the replay")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin the caster to CPU 0")
    parser.add_argument(
        "--no-steer",
        dest="steer",
        action="store_false",
        help="leave loopback's receive processing on the caster's core (see steered_loopback)",
    )
    parser.add_argument("--json", type=Path, default=OUT)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy record our caster during each replay into this directory",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, records)")
    args = parser.parse_args()
    ns = [int(x.replace("_", "")) for x in args.clients.split(",") if x.strip()]
    soft, hard = raise_nofile()
    cores = os.cpu_count() or 1
    pinned = args.pin and cores >= 2
    console.print(
        f"[bold]NTRIP fan-out benchmark[/bold]  cores={cores}  python={platform.python_version()}  "
        f"open files soft/hard={soft}/{hard} (soft raised to hard)"
    )
    console.print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    console.print(
        f"capture: {args.capture.name}, {args.seconds:g} s at recorded pace per run; "
        + ("caster pinned to CPU 0, source + clients to CPU 1" if pinned else "nothing pinned")
    )
    if max(ns) + 64 > soft:
        console.print(f"[red]N={max(ns)} needs more open files than the limit {soft}[/red]")
    workdir = Path(tempfile.mkdtemp(prefix="ntrip-fanout-"))
    rows: list[dict[str, Any]] = []
    meta_steering = ""
    try:
        with processes(args.pin) as procs, steered_loopback(1, args.steer and pinned) as steering:
            console.print(steering)
            meta_steering = steering
            with console.status("accounts: beidou db upgrade, ntrip mount add, ntrip user add"):
                env = prepare_accounts(workdir)
            for n in ns:
                for kind in ("ours", "peer"):
                    if args.only not in (None, kind) or (
                        kind == "peer" and args.peer_max and n > args.peer_max
                    ):
                        continue
                    with console.status(f"{kind}: {n} clients"):
                        row = run_case(procs, kind, n, args, env, workdir)
                    rows.append(row)
                    console.print(
                        f"  {kind:>4} N={n}: "
                        + ", ".join(
                            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in row.items()
                            if k not in ("caster", "clients")
                        )
                    )
    finally:
        if args.keep:
            console.print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    show(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": sys.argv,
        "cores": cores,
        "pinned": pinned,
        "nofile": [soft, hard],
        "capture": args.capture.name,
        "seconds": args.seconds,
        "loopback": meta_steering,
    }
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    with suppress(ValueError):
        console.print(f"figures written to {args.json.relative_to(ROOT)}")


def show(rows: list[dict[str, Any]]) -> None:
    for n in sorted({r["clients"] for r in rows}):
        table = Table(title=f"N = {n:,} clients")
        for col in (
            "caster",
            "connected",
            "frames delivered / expected",
            "p50 ms",
            "p99 ms",
            "max ms",
            "read p99 ms",
            "caster CPU % of a core",
            "clients' CPU %",
        ):
            table.add_column(col, justify="left" if col == "caster" else "right")
        by_kind = {r["caster"]: r for r in rows if r["clients"] == n}
        for kind, r in by_kind.items():
            name = "ours (beidou ntrip serve)" if kind == "ours" else "pygnssutils gnssserver"
            if "error" in r and "p99_ms" not in r:
                table.add_row(name, str(r.get("connected", "-")), r["error"][:60], "", "", "", "", "", "")
                continue
            table.add_row(
                name,
                f"{r['connected']:,}",
                f"{r['frames_delivered']:,} / {r['frames_expected']:,}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                f"{r['read_p99_ms']:.1f}",
                f"{r['caster_cpu_pct']:.0f}",
                f"{r['clients_cpu_pct']:.0f}",
            )
        console.print(table)
        ours, peer = by_kind.get("ours"), by_kind.get("peer")
        if ours and peer and "p99_ms" in ours and "p99_ms" in peer:
            console.print(
                f"  p99 ratio peer/ours: {peer['p99_ms'] / ours['p99_ms']:.1f}x; "
                f"clients connected ours/peer: {ours['connected'] / max(1, peer['connected']):.1f}x"
            )
    console.print(
        "goal: 5,000 clients on one core with p99 < 50 ms; at every N the peer reaches, "
        ">= 10x lower p99 or >= 10x more clients"
    )


if __name__ == "__main__":
    main()
