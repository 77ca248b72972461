"""NTRIP fan-out: one base station, N rovers, our caster beside pygnssutils' gnssserver and
RTKLIB's str2str, in interleaved rounds.

For each N (100, 1,000, 5,000 by default) and each round (3 by default), every caster in turn
(ours, pygnssutils, str2str ..., the same order every round: A B C A B C), on the same capture,
the same N and the same replay:

- the caster runs as a process of its own, pinned to CPU 0 (``--no-pin`` to let it float):
  - **ours**: ``beidou ntrip serve`` on a temporary SQLite database made by ``beidou db
    upgrade``, its mountpoint and rover added by ``beidou ntrip mount add`` / ``user add``;
  - **pygnssutils** 1.3.1 ``GNSSSocketServer`` in NTRIP caster mode (NTRIP 1.0, a thread per
    client), reading the capture from a FIFO, at its fastest honest settings: ``parsing=2``
    (PARSE_META: each frame cut by its length and tagged with its message number, no pyrtcm
    parse; its CLI's default parses every frame, ~5.7 ms an epoch here, and ``parsing=0`` cannot
    be used: its streamer takes a message without a parsed part for the end of the stream and
    stops), ``protfilter=4`` (RTCM 3 only), ``outformat=2`` (raw bytes out), ``maxclients`` = N,
    and its listen backlog raised from socketserver's 5 to 4,096 like ours. It does not check
    CRCs in this mode (ours does, and relays only CRC-checked frames);
  - **str2str** (RTKLIB) ``-in tcpsvr://:P1 -out ntripc://rover:secret@:P2/BENCH``: the source
    writes the capture's bytes to its TCP input, it relays them as read to every NTRIP client
    (NTRIP 1.0, one thread polling every socket each 10 ms: its server cycle, fixed at 10 ms in
    str2str's code, no option sets it). Given by ``--str2str [NAME=]PATH`` (repeatable); without
    it, every ``var/bench/rtklib/str2str-*`` found is run, named by its file;
- N NTRIP 1.0 rovers in a few processes (plain epoll, up to 2,500 each), pinned to the other
  CPU with the source, start and wait; on one signal they all connect at once. The **accept
  time** is from the first ``connect()`` to the last ``ICY 200 OK`` (all N handshakes, the
  listener's backlog and SYN retries included), and the accept rate N over it;
- the source then replays the real 1 Hz capture (from its first whole frame) at its recorded
  pace for ``--seconds``;
- **served rovers**: rovers that stayed connected and received every frame the source sent, in
  order, byte for byte (each frame's length and CRC-24Q); **frames delivered / expected**, where
  expected = frames sent x N;
- latency of a frame at a rover = the kernel's receive timestamp (``SO_TIMESTAMPNS``) of the read
  that completed it at the rover's socket, minus the source's clock just before writing it
  (CLOCK_REALTIME, one clock for every process); p50/p99/max over every delivered frame at every
  rover (a caster that drops frames is timed on those it delivered: read it beside the served
  count). The time the load processes take to get round to reading a socket is reported apart
  ("read p99"), since it measures this machine's load generator, not the caster. The caster's CPU
  is its process CPU time (/proc/<pid>/stat) over the replay, as % of one core;
- the kernel: loopback's receive half is steered to the rovers' CPU (RPS on ``lo``: on a network
  it runs on the rovers' hosts, not inside the caster's ``send()``), and
  ``net.core.netdev_max_backlog`` is raised for the run (``--backlog``, 100,000; the kernel's
  default 1,000 overflows when an epoch goes to thousands of rovers at once, and a dropped packet
  comes back only after TCP's 200 ms minimum retransmit timeout) and restored after it, on error
  and Ctrl-C too. Per round the packets the backlog dropped (/proc/net/softnet_stat), TCP
  retransmit timeouts (TCPTimeouts), retransmitted segments, SYN retransmissions and listen
  overflows (/proc/net/netstat, /proc/net/snmp) are recorded, for the connect and the replay
  windows apart. They count the whole machine: other engineers' traffic too.

Every round is saved to ``var/bench/ntrip_fanout.json`` with the machine's load before and after
(``benchmarks/_harness.py``); the tables print the median (min-max) of the rounds. Goals (issue
21), printed, not asserted: 5,000 rovers on one core with p99 < 50 ms and every frame delivered,
and a p99 at or below str2str's in the same run; a goal is met only when the whole spread is.

    .venv/bin/python benchmarks/ntrip_fanout.py [--clients 100,1000,5000] [--rounds 3]
        [--seconds 5] [--str2str b34=PATH ...] [--only ours,str2str-b34] [--quick]

Building str2str (nothing of RTKLIB is committed; the binaries go under var/bench/rtklib/):

    mkdir -p var/bench/rtklib && cd var/bench/rtklib
    # 2.4.3 b34: tag-less branch rtklib_2.4.3 of github.com/tomojitakasu/RTKLIB (commit 180043e)
    # demo5: branch demo5 of github.com/rtklibexplorer/RTKLIB (commit 75a2e562)
    git --git-dir=RTKLIB/.git archive rtklib_2.4.3 src app/consapp/str2str | tar -x -C src-b34
    # raise the client limit (32 sockets per tcpsvr/ntripc stream) to 10,240 and the listen
    # backlog from 5 to 4,096 (the peers get the same backlog):
    sed -i -E 's/^#define MAXCLI +32 /#define MAXCLI 10240 /' src-b34/src/stream.c
    sed -i 's/listen(tcp->sock,5)/listen(tcp->sock,4096)/' src-b34/src/stream.c
    # stream.c waits on each socket with select(), whose fd_set holds descriptors < 1,024 only
    # (FD_SET past it writes out of bounds): make those one-socket select() calls poll() by
    # including, after stream.c's last #include, a header fdpoll.h that defines
    #   typedef struct { int fd; } fdpoll_set;  #define fd_set fdpoll_set
    #   #define FD_ZERO(s) ((s)->fd=-1)    #define FD_SET(f,s) ((s)->fd=(f))
    #   #define select(n,r,w,e,tv) fdpoll_select(r,w,tv)
    # with fdpoll_select() one poll() of r's (else w's) fd for POLLIN (if r) | POLLOUT (if w)
    # with tv's timeout in ms, returning poll()'s result:
    sed -i '/^#include <netdb.h>/a #include "../../fdpoll.h"' src-b34/src/stream.c
    make -C src-b34/app/consapp/str2str/gcc && cp src-b34/app/consapp/str2str/gcc/str2str str2str-b34
    # the same for demo5 into src-demo5 (its makefile builds as is), into demo5/str2str

str2str then serves 10,240 rovers, at the cost of scanning 10,240 client slots every cycle.
demo5's str2str (branch demo5, 75a2e562) answers NTRIP clients only inside the write of input
data (its ntripc accepts and replies when the server thread has bytes to send): rovers that
connect before the base station sends, as here, get no reply and time out, so it is not found by
default (``--str2str demo5=var/bench/rtklib/demo5/str2str`` runs it and shows that).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import (  # noqa: E402
    BENCH_DIR,
    Record,
    Spread,
    counter_delta,
    interleaved,
    ratios,
    sysctl,
    tcp_counters,
)
from benchmarks._ntrip_load import raise_nofile  # noqa: E402

BIN = Path(sys.executable).parent
LOAD = Path(__file__).resolve().parent / "_ntrip_load.py"
CAPTURE = ROOT / "tests" / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
OUT = BENCH_DIR / "ntrip_fanout.json"
RTKLIB_DIR = BENCH_DIR / "rtklib"
MOUNT, SOURCE_PASSWORD, USER, PASSWORD = "BENCH", "bench-source", "rover", "rover-secret"
PER_PROCESS = 2500  # client connections per load process, at most
CLK_TCK = os.sysconf("SC_CLK_TCK")
RPS_CPUS = Path("/sys/class/net/lo/queues/rx-0/rps_cpus")
BACKLOG = "net.core.netdev_max_backlog"
GOAL_N, GOAL_P99_MS = 5000, 50.0
console = Console(width=150)


@dataclass(frozen=True)
class Caster:
    name: str  # "ours", "pygnssutils", "str2str-<build>"
    kind: str  # "ours", "pygnssutils", "str2str"
    path: Path | None = None  # str2str's binary


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


def start_caster(
    procs: Processes, caster: Caster, n: int, env: dict[str, str], workdir: Path, tag: str, log: IO[Any]
) -> tuple[subprocess.Popen[str], int, list[str], str]:
    """Start one caster; (its process, its rovers' port, the source's arguments, the mount)."""
    port = free_port()
    if caster.kind == "ours":
        server = procs.start(
            [str(BIN / "beidou"), "ntrip", "serve", "--port", str(port), "--source-timeout", "60"],
            cpu=0,
            env=env,
            log=log,
        )
        wait_port(port, server)
        return server, port, ["--port", str(port), "--mount", MOUNT, "--password", SOURCE_PASSWORD], MOUNT
    if caster.kind == "str2str":
        assert caster.path is not None
        source_port = free_port()
        server = procs.start(
            [
                str(caster.path),
                "-in",
                f"tcpsvr://:{source_port}",
                "-out",
                f"ntripc://{USER}:{PASSWORD}@:{port}/{MOUNT}",
            ],
            cpu=0,
            log=log,
        )
        wait_port(source_port, server)
        wait_port(port, server)
        return server, port, ["--port", str(source_port), "--raw"], MOUNT
    fifo = workdir / f"{tag}.fifo"
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
    wait_port(port, server)
    return server, port, ["--fifo", str(fifo)], "pygnssutils"  # gnssserver's one mountpoint


def served(src_keys: np.ndarray, keys: np.ndarray, lost: bool) -> bool:
    """A rover served: still connected at the end, and every frame the source sent, in order."""
    return not lost and np.array_equal(keys, src_keys)


def run_case(
    procs: Processes,
    caster: Caster,
    n: int,
    round_no: int,
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    """One caster, N rovers, one replay: the round's row (``error`` set if it could not run)."""
    tag = f"{caster.name}-{n}-{round_no}"
    log = open(workdir / f"{tag}.log", "w")  # noqa: SIM115 - closed below
    row: dict[str, Any] = {"caster": caster.name, "clients": n, "round": round_no}
    t0 = time.monotonic()
    try:
        server, port, source_target, mount = start_caster(procs, caster, n, env, workdir, tag, log)
        row["start_s"] = time.monotonic() - t0
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
        for proc in clients:
            read_line(proc, 60, "armed")
        net0 = tcp_counters()
        for proc in clients:  # every rover connects at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        connected = 0
        failures: list[str] = []
        firsts, lasts = [], []
        for proc in clients:
            line = read_line(proc, args.connect_timeout * 3 + n / 50, "ready")
            _, ok, _failed, first, last, why = line.split(" ", 5)
            connected += int(ok)
            firsts.append(float(first))
            lasts.append(float(last))
            if why != "{}":
                failures.append(why)
        accept_s = max(lasts) - min(firsts)
        row.update(
            connected=connected,
            connect_failures=failures,
            accept_s=accept_s,
            accept_per_s=connected / accept_s if accept_s > 0 else math.nan,
            connect_net=counter_delta(net0, tcp_counters()),
        )
        if connected == 0:
            raise RuntimeError("no client connected")
        source_out = workdir / f"{tag}-source.npz"
        net1 = tcp_counters()
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
        if args.profile is not None and caster.kind == "ours":
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
        row["replay_net"] = counter_delta(net1, tcp_counters())
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
        delivered = lost = skipped = n_served = 0
        for i in range(len(clients)):
            got = np.load(workdir / f"{tag}-clients{i}.npz")
            offsets = np.concatenate([[0], np.cumsum(got["lengths"])])
            for c in range(len(got["lengths"])):
                span = slice(offsets[c], offsets[c + 1])
                keys = got["keys"][span]
                n_served += served(src_keys, keys, bool(got["lost"][c]))
                kernel.append(latencies(src_keys, src_times, keys, got["kernel_times"][span]))
                read.append(latencies(src_keys, src_times, keys, got["read_times"][span]))
            delivered += int(got["lengths"].sum())
            lost += int(got["lost"].sum())
            skipped += int(got["skipped"].sum())
        row.update(
            served=n_served,
            served_pct=100 * n_served / n,
            frames_sent=len(src_keys),
            frames_expected=len(src_keys) * n,
            frames_delivered=delivered,
            delivered_pct=100 * delivered / max(1, len(src_keys) * n),
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
        row["wall_s"] = time.monotonic() - t0
        for leftover in workdir.glob(f"{tag}*"):
            if leftover.suffix != ".log" and not args.keep:
                leftover.unlink()
    return row


def str2str_casters(specs: Sequence[str] | None) -> list[Caster]:
    """``NAME=PATH`` or ``PATH`` (named by its file); none given: every var/bench/rtklib/str2str-*."""
    if specs is None:
        found = sorted(p for p in RTKLIB_DIR.glob("str2str-*") if p.is_file() and os.access(p, os.X_OK))
        return [Caster(p.name, "str2str", p) for p in found]
    out = []
    for i, spec in enumerate(specs):
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec).name, spec
            name = name if name != "str2str" else f"str2str{i + 1}"
        elif not name.startswith("str2str"):
            name = f"str2str-{name}"
        if not os.access(path, os.X_OK):
            raise SystemExit(f"--str2str {spec}: not an executable file")
        out.append(Caster(name, "str2str", Path(path).resolve()))
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="100,1000,5000", help="comma-separated N")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per N")
    parser.add_argument("--seconds", type=float, default=5.0, help="replay length per round")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: N 50,300, 2 rounds of 3 s (overrides those)"
    )
    parser.add_argument("--capture", type=Path, default=CAPTURE)
    parser.add_argument(
        "--str2str",
        action="append",
        default=None,
        metavar="[NAME=]PATH",
        help="an RTKLIB str2str binary to run as a caster (repeatable); default var/bench/rtklib/str2str-*",
    )
    parser.add_argument("--no-str2str", action="store_true", help="run no str2str")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated casters to run: ours, pygnssutils (or peer), str2str (every build) or a build's name",
    )
    parser.add_argument(
        "--backlog", type=int, default=100_000, help=f"{BACKLOG} during the run (0: leave it)"
    )
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
    if args.quick:
        args.clients, args.rounds, args.seconds, args.grace = "50,300", 2, 3.0, 0.5
    return args


def chosen_casters(args: argparse.Namespace) -> list[Caster]:
    casters = [Caster("ours", "ours"), Caster("pygnssutils", "pygnssutils")]
    if not args.no_str2str:
        casters += str2str_casters(args.str2str)
    if args.only:
        wanted = {"pygnssutils" if w.strip() == "peer" else w.strip() for w in args.only.split(",")}
        casters = [c for c in casters if c.name in wanted or c.kind in wanted]
    if not casters:
        raise SystemExit("no caster to run")
    return casters


@contextmanager
def raised_backlog(value: int) -> Iterator[dict[str, Any]]:
    """``net.core.netdev_max_backlog`` at ``value`` for the run, restored after (on error and
    Ctrl-C too: the harness's ``sysctl`` restores in a ``finally``)."""
    path = Path("/proc/sys") / BACKLOG.replace(".", "/")
    before = "unknown"
    with suppress(OSError):
        before = path.read_text().strip()
    if not value:
        yield {"before": before, "during": before, "changed": False}
        return
    with sysctl(BACKLOG, str(value)) as during:
        yield {"before": before, "during": during, "changed": during == str(value)}
    after = path.read_text().strip()
    console.print(f"{BACKLOG} restored to {after} (was {before}, {during} during the run)")


def main() -> None:
    args = parse_args()
    ns = [int(x.replace("_", "")) for x in args.clients.split(",") if x.strip()]
    casters = chosen_casters(args)
    soft, hard = raise_nofile()
    cores = os.cpu_count() or 1
    pinned = args.pin and cores >= 2
    command = shlex.join([sys.executable, *sys.argv])
    console.print(f"[dim]$ {command}[/]")
    console.print(
        f"[bold]NTRIP fan-out[/bold]: casters {', '.join(c.name for c in casters)}; N {ns}; "
        f"{args.rounds} interleaved rounds; {args.capture.name}, {args.seconds:g} s at recorded pace; "
        + ("caster pinned to CPU 0, source + rovers to CPU 1" if pinned else "nothing pinned")
        + f"; open files {soft}/{hard}"
    )
    if max(ns) + 64 > soft:
        console.print(f"[red]N={max(ns)} needs more open files than the limit {soft}[/red]")
    record = Record(
        "ntrip_fanout",
        command,
        params={
            "clients": ns,
            "rounds": args.rounds,
            "seconds": args.seconds,
            "grace_s": args.grace,
            "capture": args.capture.name,
            "cores": cores,
            "pinned": pinned,
            "nofile": [soft, hard],
            "casters": [c.name for c in casters],
        },
        peers=peer_versions(casters),
    )
    workdir = Path(tempfile.mkdtemp(prefix="ntrip-fanout-"))
    rows: list[dict[str, Any]] = []
    try:
        with (
            raised_backlog(args.backlog) as backlog,
            processes(args.pin) as procs,
            steered_loopback(1, args.steer and pinned) as steering,
        ):
            record.params["netdev_max_backlog"] = backlog
            record.params["loopback"] = steering
            console.print(f"{steering}; {BACKLOG} {backlog['during']} for the run (was {backlog['before']})")
            with console.status("accounts: beidou db upgrade, ntrip mount add, ntrip user add"):
                env = prepare_accounts(workdir)
            for n in ns:
                done = 0

                def contender(caster: Caster, n: int = n) -> Any:
                    def run() -> float:
                        nonlocal done
                        round_no = done // len(casters) + 1
                        with console.status(f"N={n:,} round {round_no}: {caster.name}"):
                            row = run_case(procs, caster, n, round_no, args, env, workdir)
                        done += 1
                        rows.append(row)
                        console.print(brief(row))
                        return float(row.get("p99_ms", math.nan))

                    return run

                interleaved({c.name: contender(c) for c in casters}, args.rounds)
    finally:
        if args.keep:
            console.print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        if rows:
            record.rounds = {"rows": rows}
            record.summary = summarize(rows, casters, ns)
            saved = record.save(args.json)
            show(record.summary, casters, ns)
            console.print(
                f"[dim]load before/after {record.machine_before['loadavg']} / "
                f"{record.machine_after['loadavg']}; every round in {saved}[/]"
            )


def peer_versions(casters: list[Caster]) -> dict[str, str]:
    from importlib.metadata import version

    out = {
        "pygnssutils": f"{version('pygnssutils')}, GNSSSocketServer ntripmode=1 NTRIP 1.0, parsing=2 "
        "(PARSE_META, no pyrtcm), protfilter=4, outformat=2, maxclients=N, listen backlog 4096"
    }
    for c in casters:
        if c.kind == "str2str":
            out[c.name] = (
                f"{c.path}: -in tcpsvr://:P1 -out ntripc://user:pass@:P2/{MOUNT} (server cycle 10 ms)"
            )
    return out


def brief(row: dict[str, Any]) -> str:
    head = f"  N={row['clients']:,} r{row['round']} {row['caster']:>14}: "
    if "p99_ms" not in row:
        return head + f"[red]{row.get('error', '?')}[/red]"
    net = row["replay_net"]
    return head + (
        f"served {row['served']:,}/{row['clients']:,}, frames {row['delivered_pct']:.1f}%, "
        f"p50/p99 {row['p50_ms']:.1f}/{row['p99_ms']:.1f} ms, accept {row['accept_s']:.2f} s, "
        f"CPU {row['caster_cpu_pct']:.0f}%, RTOs {net.get('TCPTimeouts', '?')}, "
        f"backlog drops {net.get('backlog_dropped', '?')}"
    )


SUMMED = {
    "served_pct": lambda r: r["served_pct"],
    "delivered_pct": lambda r: r["delivered_pct"],
    "p50_ms": lambda r: r["p50_ms"],
    "p99_ms": lambda r: r["p99_ms"],
    "max_ms": lambda r: r["max_ms"],
    "read_p99_ms": lambda r: r["read_p99_ms"],
    "accept_s": lambda r: r["accept_s"],
    "accept_per_s": lambda r: r["accept_per_s"],
    "caster_cpu_pct": lambda r: r["caster_cpu_pct"],
    "replay_rtos": lambda r: r["replay_net"].get("TCPTimeouts", math.nan),
    "replay_retrans": lambda r: r["replay_net"].get("RetransSegs", math.nan),
    "replay_backlog_dropped": lambda r: r["replay_net"].get("backlog_dropped", math.nan),
    "connect_syn_retrans": lambda r: r["connect_net"].get("TCPSynRetrans", math.nan),
    "connect_listen_overflows": lambda r: r["connect_net"].get("ListenOverflows", math.nan),
}


def summarize(rows: list[dict[str, Any]], casters: list[Caster], ns: list[int]) -> dict[str, Any]:
    """Per N and caster: the median (min-max) of each figure over the rounds that ran; per N the
    per-round p99 ratios of each peer over ours; the goals' verdicts."""
    out: dict[str, Any] = {}
    for n in ns:
        per: dict[str, Any] = {}
        ok: dict[str, list[dict[str, Any]]] = {}
        for c in casters:
            mine = [r for r in rows if r["clients"] == n and r["caster"] == c.name]
            ok[c.name] = [r for r in mine if "p99_ms" in r]
            figures: dict[str, Any] = {"rounds": len(mine), "failed_rounds": len(mine) - len(ok[c.name])}
            if ok[c.name]:
                figures.update({k: Spread.of([f(r) for r in ok[c.name]]) for k, f in SUMMED.items()})
                figures["all_served_every_round"] = all(r["served"] == n for r in ok[c.name])
            per[c.name] = figures
        ours_rounds = [r for r in rows if r["clients"] == n and r["caster"] == "ours"]
        for c in casters:
            if c.name == "ours":
                continue
            theirs = [r for r in rows if r["clients"] == n and r["caster"] == c.name]
            pairs = [
                (t["p99_ms"], o["p99_ms"])
                for o, t in zip(ours_rounds, theirs, strict=False)
                if "p99_ms" in o and "p99_ms" in t
            ]
            if pairs:
                per[c.name]["p99_over_ours"] = ratios([t for t, _ in pairs], [o for _, o in pairs])
        out[f"N={n}"] = per
    goal = out.get(f"N={GOAL_N}", {}).get("ours", {})
    if "p99_ms" in goal:
        verdict = goal["p99_ms"].verdict(GOAL_P99_MS, higher_is_better=False)
        if not goal["all_served_every_round"]:
            verdict = "not met (frames lost)"
        out["goal_p99_under_50ms_at_5000"] = verdict
        for c in casters:
            ratio = out[f"N={GOAL_N}"][c.name].get("p99_over_ours")
            if c.kind == "str2str" and ratio is not None:
                # ours at or below str2str: str2str's p99 over ours >= 1 across the spread
                out[f"goal_p99_at_or_below_{c.name}_at_5000"] = ratio.verdict(1.0)
    return out


def show(summary: dict[str, Any], casters: list[Caster], ns: list[int]) -> None:
    for n in ns:
        per = summary.get(f"N={n}", {})
        rounds = max((f.get("rounds", 0) for f in per.values()), default=0)
        table = Table(title=f"N = {n:,} rovers: median (min-max) of {rounds} interleaved rounds")
        cols = [
            "caster",
            "served rovers %",
            "frames delivered %",
            "p50 ms",
            "p99 ms",
            "max ms",
            "read p99 ms",
            "accept s (rovers/s)",
            "caster CPU %",
            "RTOs / backlog drops (replay)",
            "SYN retrans / listen overflows (connect)",
        ]
        for col in cols:
            table.add_column(col, justify="left" if col == "caster" else "right")
        for c in casters:
            f = per.get(c.name, {})
            if "p99_ms" not in f:
                table.add_row(c.name, f"{f.get('failed_rounds', 0)} rounds failed", *[""] * (len(cols) - 2))
                continue
            name = c.name + (f" ({f['failed_rounds']} failed)" if f["failed_rounds"] else "")
            table.add_row(
                name,
                f["served_pct"].fmt(1),
                f["delivered_pct"].fmt(1),
                f["p50_ms"].fmt(1),
                f["p99_ms"].fmt(1),
                f["max_ms"].fmt(0),
                f["read_p99_ms"].fmt(1),
                f"{f['accept_s'].fmt(2)} ({f['accept_per_s'].median:,.0f})",
                f["caster_cpu_pct"].fmt(0),
                f"{f['replay_rtos'].fmt(0)} / {f['replay_backlog_dropped'].fmt(0)}",
                f"{f['connect_syn_retrans'].fmt(0)} / {f['connect_listen_overflows'].fmt(0)}",
            )
        console.print(table)
        for c in casters:
            ratio = per.get(c.name, {}).get("p99_over_ours")
            if ratio is not None:
                console.print(f"  p99 {c.name} / ours, per round: {ratio.fmt(2, 'x')}")
    for key, verdict in summary.items():
        if key.startswith("goal_"):
            console.print(f"{key}: [bold]{verdict}[/bold]")


if __name__ == "__main__":
    main()
