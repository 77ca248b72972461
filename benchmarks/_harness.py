"""What every benchmark shares: interleaved rounds, medians with their spread, the machine's
state, and one JSON record per run under ``var/bench/`` holding every round.

Rules the figures follow (the README quotes only what these produce):
- ours and the peer do the same work on the same input, in rounds interleaved A B A B, so a
  disturbance of the shared 2-core machine hits both sides alike;
- a figure is the median of its rounds, printed with its spread (min-max); a ratio is the median
  of the per-round ratios (each round's A over the B that ran beside it);
- a goal is "met" only when the whole spread of the figure is on the right side of it;
- the machine's load, and for network runs the dropped packets and TCP retransmissions, are
  recorded before and after, so a reader can tell a quiet run from a disturbed one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "var" / "bench"


@dataclass(frozen=True)
class Spread:
    """A figure of several rounds: the median and the range it came from."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no rounds")
        return cls(float(statistics.median(values)), float(min(values)), float(max(values)), len(values))

    def fmt(self, digits: int = 0, unit: str = "") -> str:
        f = f"{{:,.{digits}f}}"
        return f"{f.format(self.median)}{unit} ({f.format(self.low)}-{f.format(self.high)})"

    def meets(self, goal: float, *, higher_is_better: bool = True) -> bool:
        """True only when the whole spread is on the right side of the goal."""
        return self.low >= goal if higher_is_better else self.high <= goal

    def verdict(self, goal: float, *, higher_is_better: bool = True) -> str:
        if self.meets(goal, higher_is_better=higher_is_better):
            return "met"
        if Spread.of([self.median]).meets(goal, higher_is_better=higher_is_better):
            return "met by the median, not the whole spread"
        return "not met"


def interleaved(
    contenders: dict[str, Callable[[], float]], rounds: int, *, between: Callable[[], None] | None = None
) -> dict[str, list[float]]:
    """Run each contender once per round, in the same order every round (A B A B ...); each
    call returns its figure for that round."""
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            results[name].append(run())
            if between is not None:
                between()
    return results


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> Spread:
    """The per-round ratios of two interleaved series (each round's pair ran side by side)."""
    return Spread.of([a / b for a, b in zip(numerator, denominator, strict=True) if b])


def rate(fn: Callable[[], int], seconds: float) -> float:
    """Items per second of ``fn`` (which returns how many items one call handled), run for about
    ``seconds``."""
    start, items = time.perf_counter(), 0
    while (elapsed := time.perf_counter() - start) < seconds:
        items += fn()
    return items / elapsed


# --- the machine -------------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


# The kernel's counters a network benchmark reports beside its latencies: (file's table, name).
NET_COUNTERS = {
    "RetransSegs": "Tcp",  # segments retransmitted, for any reason
    "TCPTimeouts": "TcpExt",  # retransmission timeouts (RTO) that fired: each stalls >= 200 ms
    "TCPSynRetrans": "TcpExt",  # SYNs sent again (a connect that waited for its RTO)
    "ListenOverflows": "TcpExt",  # handshakes dropped because a listener's accept queue was full
    "ListenDrops": "TcpExt",  # every SYN or handshake a listener dropped (overflows included)
}


def parse_proc_table(text: str) -> dict[str, dict[str, int]]:
    """``/proc/net/snmp`` or ``/proc/net/netstat``: pairs of lines ``Table: names...`` then
    ``Table: values...``, as {table: {name: value}}."""
    out: dict[str, dict[str, int]] = {}
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if head[0] != values[0] or not head[0].endswith(":"):
            continue
        out[head[0][:-1]] = {k: int(v) for k, v in zip(head[1:], values[1:], strict=True)}
    return out


def parse_softnet_dropped(text: str) -> int:
    """Packets dropped because a CPU's input backlog (``net.core.netdev_max_backlog``) was
    full: the second column of ``/proc/net/softnet_stat`` (hexadecimal, one line per CPU)."""
    return sum(int(cols[1], 16) for cols in (ln.split() for ln in text.splitlines()) if len(cols) > 1)


def tcp_counters() -> dict[str, int]:
    """The counters of ``NET_COUNTERS`` (from /proc/net/snmp and /proc/net/netstat) and
    ``backlog_dropped`` (/proc/net/softnet_stat, summed over CPUs); all grow for the whole
    machine, so a run reports their difference over its window."""
    tables = {**parse_proc_table(_read("/proc/net/snmp")), **parse_proc_table(_read("/proc/net/netstat"))}
    out = {name: tables[table][name] for name, table in NET_COUNTERS.items() if name in tables.get(table, {})}
    out["backlog_dropped"] = parse_softnet_dropped(_read("/proc/net/softnet_stat"))
    return out


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What each counter grew by between two ``tcp_counters()`` readings."""
    return {k: after[k] - before[k] for k in after if k in before}


def machine_state() -> dict[str, Any]:
    load1, load5, load15 = os.getloadavg()
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "cpus": os.cpu_count(),
        "tcp": tcp_counters(),
    }


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@contextmanager
def sysctl(name: str, value: str) -> Iterator[str | None]:
    """Set a kernel parameter for the run (root only) and restore it after; yields the value in
    force during the run (None when it could not be changed)."""
    path = Path("/proc/sys") / name.replace(".", "/")
    try:
        before = path.read_text().strip()
    except OSError:
        yield None
        return
    try:
        path.write_text(value)
    except OSError:
        yield before
        return
    try:
        yield value
    finally:
        path.write_text(before)


@dataclass
class Record:
    """One benchmark run: its parameters, every round, the summaries, the machine before/after."""

    name: str
    command: str
    params: dict[str, Any] = field(default_factory=dict)
    peers: dict[str, str] = field(default_factory=dict)  # peer -> its version and settings
    rounds: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    machine_before: dict[str, Any] = field(default_factory=machine_state)
    machine_after: dict[str, Any] = field(default_factory=dict)
    revision: str = field(default_factory=git_revision)
    python: str = field(default_factory=platform.python_version)

    def save(self, path: Path | None = None) -> Path:
        self.machine_after = machine_state()
        path = path or BENCH_DIR / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1, default=_jsonable))
        return path


def _jsonable(value: object) -> object:
    if isinstance(value, Spread):
        return asdict(value)
    return str(value)
