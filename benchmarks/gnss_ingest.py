"""GNSS ingestion hot paths against their peers, on the real captures of tests/data/gnss, in
interleaved rounds (``benchmarks/_harness.py``: each round runs ours, then the peer, for about
``--seconds`` each; a figure is the median of the rounds with its min-max; a ratio is the median
of the per-round ratios; a goal is met only when the whole spread of the ratio meets it).

(a) NMEA, from the raw bytes of every capture of tests/data/gnss/nmea (11 files, 324 kB):
    ours: ``gnss.framer.StreamFramer`` - scan the bytes for NMEA/RTCM/UBX/comment starts, cut
    whole clean lines (printable ASCII within the length cap), ``pynmea2.parse`` each, wrap it
    in our typed record (``gnss.nmea``), count it by address;
    peer: ``data.decode("ascii", "replace").splitlines()`` and ``pynmea2.parse`` on every line,
    skipping the ones it refuses.
    Both verify the checksum the same way (``pynmea2.parse`` with its default ``check=False``:
    verified when present). Rates are sentences/s with both sides credited with the number of
    sentences the peer reads per pass (ours reads two more: sentences that follow binary bytes
    on the same line, which ``splitlines`` hands to pynmea2 glued to the binary).
(b) RTCM 3, from the raw bytes of every capture of tests/data/gnss/rtcm3 (10 files, 2,843
    messages): both sides frame (preamble, length), check the CRC-24Q and decode every message.
    ours: ``RtcmFramer().feed`` + ``gnss.rtcm.decode`` (typed records, MSM into NumPy arrays);
    peer: iterate ``pyrtcm.RTCMReader(stream, quitonerror=0)`` (defaults: CRC validated, full
    parse). Both find the same 2,843 messages (checked); the column "not decoded" counts the
    messages each side framed but has no field table for (type 63 and u-blox's 4072 on both).
(b') the same on one stream of the captures' MSM frames only (1,357 frames), both from bytes.
(c) the constant-velocity smoother on the real GGA/GST fixes of the NMEA captures, against
    filterpy; see ``benchmarks/_smoother_bench.py`` for the data, the model and what is timed.
    One receiver: ours vs one filterpy ``KalmanFilter``. 100 and 10,000 receivers: ours (one
    batched call per epoch) vs filterpy with one ``KalmanFilter`` per receiver (the only way
    filterpy can run many), and vs filterpy's equations batched by hand with NumPy.

Goals from the issue: (a) >= 0.7x, (b) >= 5x, (c) >= 50x at 10,000 receivers vs filterpy.
Every round, the peers' versions and settings and the machine's load before and after are saved
to var/bench/gnss_ingest.json.

    python benchmarks/gnss_ingest.py [--seconds 1.0] [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pynmea2
from pyrtcm import RTCMReader
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _smoother_bench as sm  # noqa: E402
from benchmarks._harness import Record, Spread, interleaved, rate, ratios  # noqa: E402
from gnss.framer import StreamFramer  # noqa: E402
from gnss.rtcm import RtcmFramer, Unknown, decode  # noqa: E402
from gnss.rtcm.msm import is_msm  # noqa: E402

DATA = ROOT / "tests" / "data" / "gnss"
FILTERPY_EACH = "filterpy, 1 per receiver"
NUMPY_BATCHED = "NumPy-batched filterpy"
console = Console(width=200)


@dataclass(frozen=True)
class Row:
    """One line of the table: ours against one peer of a group of interleaved contenders."""

    case: str
    peer: str
    unit: str
    goal: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Group:
    """Contenders run in the same interleaved rounds; each returns its rate for one round."""

    key: str
    contenders: dict[str, Callable[[], float]]
    rows: tuple[Row, ...]


# --- (a) NMEA ----------------------------------------------------------------------------------


def nmea_group(seconds: float) -> tuple[Group, dict[str, Any]]:
    captures = [p.read_bytes() for p in sorted((DATA / "nmea").glob("*.log"))]

    def peer_pass() -> int:
        n = 0
        for data in captures:
            for line in data.decode("ascii", "replace").splitlines():
                try:
                    pynmea2.parse(line)
                except pynmea2.ParseError:
                    continue
                n += 1
        return n

    def ours_pass() -> int:
        n = 0
        for data in captures:
            framer = StreamFramer()
            framer.feed(data)
            framer.flush()
            n += sum(framer.stats.nmea.values())
        return n

    per_pass, ours_reads = peer_pass(), ours_pass()

    def ours_credited() -> int:
        ours_pass()
        return per_pass

    group = Group(
        "a_nmea",
        {
            "ours": lambda: rate(ours_credited, seconds),
            "pynmea2.parse loop": lambda: rate(peer_pass, seconds),
        },
        (Row("(a) NMEA", "pynmea2.parse loop", "sentence/s", 0.7),),
    )
    facts = {"bytes": sum(map(len, captures)), "sentences_peer": per_pass, "sentences_ours": ours_reads}
    return group, facts


# --- (b) RTCM ----------------------------------------------------------------------------------


def rtcm_group(
    key: str, label: str, streams: list[bytes], seconds: float, goal: float | None
) -> tuple[Group, dict[str, Any]]:
    def peer_pass() -> tuple[int, int]:
        n = stub = 0
        for data in streams:
            for _raw, msg in RTCMReader(io.BytesIO(data), quitonerror=0):
                if msg is not None:
                    n += 1
                    stub += msg._unknown  # no field table: "Not_Yet_Implemented"
        return n, stub

    def ours_pass() -> tuple[int, int]:
        n = unknown = 0
        for data in streams:
            for frame in RtcmFramer().feed(data):
                rec = decode(frame)
                n += 1
                unknown += isinstance(rec, Unknown) or rec is None
        return n, unknown

    (peer_n, peer_stub), (ours_n, ours_unknown) = peer_pass(), ours_pass()
    assert peer_n == ours_n, f"both must find the same messages: pyrtcm {peer_n}, ours {ours_n}"
    not_decoded = f"{ours_unknown} / {peer_stub} of {ours_n:,}"
    group = Group(
        key,
        {
            "ours": lambda: rate(lambda: ours_pass()[0], seconds),
            "pyrtcm RTCMReader": lambda: rate(lambda: peer_pass()[0], seconds),
        },
        (Row(label, "pyrtcm RTCMReader", "message/s", goal, not_decoded),),
    )
    facts = {"messages": ours_n, "not_decoded_ours": ours_unknown, "not_decoded_pyrtcm": peer_stub}
    return group, facts


# --- (c) smoother ------------------------------------------------------------------------------


def smoother_groups(seconds: float) -> tuple[list[Group], dict[str, Any]]:
    tracks = sm.real_tracks()
    single = sm.single_batches(tracks)
    facts: dict[str, Any] = {
        "tracks": {tr.name: len(tr.t) for tr in tracks},
        "max_position_difference_m": {},
    }
    agree = sm.agreement(single, {"ours": sm.OURS, "filterpy": sm.FILTERPY})
    facts["max_position_difference_m"]["1"] = agree
    groups = [
        Group(
            "c_1",
            {
                "ours": lambda: sm.rate(sm.OURS, single, seconds),
                "filterpy KalmanFilter": lambda: sm.rate(sm.FILTERPY, single, seconds),
            },
            (Row("(c) 1 receiver", "filterpy KalmanFilter", "fix/s"),),
        )
    ]
    check = sm.batch(tracks, 100)
    facts["max_position_difference_m"]["100"] = sm.agreement(
        [check], {"ours": sm.OURS, "filterpy": sm.FILTERPY, "numpy": sm.STACKED}
    )
    for n in (100, 10_000):
        b = check if n == 100 else sm.batch(tracks, n)
        if n != 100:  # filterpy's per-receiver objects do the same sums at any N: checked at 100
            facts["max_position_difference_m"][str(n)] = sm.agreement(
                [b], {"ours": sm.OURS, "numpy": sm.STACKED}
            )
        facts["epochs"] = b.shape[0]
        groups.append(
            Group(
                f"c_{n}",
                {
                    "ours": lambda b=b: sm.rate(sm.OURS, [b], seconds),
                    FILTERPY_EACH: lambda b=b: sm.rate(sm.FILTERPY, [b], seconds),
                    NUMPY_BATCHED: lambda b=b: sm.rate(sm.STACKED, [b], seconds),
                },
                (
                    Row(
                        f"(c) {n:,} receivers",
                        FILTERPY_EACH,
                        "fix/s",
                        50.0 if n == 10_000 else None,
                    ),
                    Row(f"(c) {n:,} receivers", NUMPY_BATCHED, "fix/s"),
                ),
            )
        )
    worst = max(v for d in facts["max_position_difference_m"].values() for v in d.values())
    assert worst < 1e-6, f"positions differ by {worst} m: not the same work"
    return groups, facts


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="per contender and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    record = Record(
        name="gnss_ingest",
        command=" ".join(["python", *sys.argv]),
        params={"seconds": args.seconds, "rounds": args.rounds},
        peers={
            "pynmea2": f"{version('pynmea2')}: pynmea2.parse(line) (check=False: checksum verified when present) "
            "on data.decode('ascii', 'replace').splitlines()",
            "pyrtcm": f"{version('pyrtcm')}: RTCMReader(io.BytesIO(data), quitonerror=0), defaults "
            "validate=VALCKSUM (CRC-24Q checked), parsed=PARSE_FULL, labelmsm=1",
            "filterpy": f"{version('filterpy')}: KalmanFilter(dim_x=6, dim_z=3), predict(F=F_k, Q=Q_k), "
            "update(z, R=diag(sigma^2)); F, Q, R and ENU z computed before timing",
            "numpy": f"{version('numpy')}: filterpy's predict/update equations over (N, 6, 6) arrays, "
            "np.matmul + np.linalg.solve, Joseph form",
        },
    )
    console.print(
        f"[bold]GNSS ingestion[/bold]  {args.rounds} interleaved rounds of {args.seconds} s per contender"
    )
    console.print(
        f"machine before: load {record.machine_before['loadavg']}, {record.machine_before['cpus']} CPUs"
    )

    rtcm_files = sorted(p for p in (DATA / "rtcm3").iterdir() if p.name != "README.md")
    rtcm = [p.read_bytes() for p in rtcm_files]
    msm = [b"".join(f.raw for data in rtcm for f in RtcmFramer().feed(data) if is_msm(f.msg_type))]
    groups: list[Group] = []
    facts: dict[str, Any] = {}
    g, facts["a_nmea"] = nmea_group(args.seconds)
    groups.append(g)
    g, facts["b_rtcm"] = rtcm_group("b_rtcm", "(b) RTCM, all", rtcm, args.seconds, 5.0)
    groups.append(g)
    g, facts["b_msm"] = rtcm_group("b_msm", "(b') RTCM, MSM", msm, args.seconds, None)
    groups.append(g)
    with console.status("(c) checking that the smoothers agree"):
        smoother, facts["c_smoother"] = smoother_groups(args.seconds)
    groups += smoother
    record.params["data"] = facts

    for group in groups:
        with console.status(f"{group.rows[0].case}: {args.rounds} rounds"):
            record.rounds[group.key] = interleaved(group.contenders, args.rounds)

    table = Table(title=f"median (min-max) of {args.rounds} interleaved rounds, same input both sides")
    for col in (
        "case",
        "unit",
        "ours",
        "peer",
        "peer rate",
        "ours/peer",
        "goal",
        "verdict",
        "not decoded",
    ):
        left = col in ("case", "unit", "peer", "verdict")
        table.add_column(col, justify="left" if left else "right", no_wrap=col != "verdict")
    for group in groups:
        rounds = record.rounds[group.key]
        ours = Spread.of(rounds["ours"])
        for row in group.rows:
            peer = Spread.of(rounds[row.peer])
            ratio = ratios(rounds["ours"], rounds[row.peer])
            verdict = ratio.verdict(row.goal) if row.goal is not None else "-"
            record.summary[f"{row.case} vs {row.peer}"] = {
                "unit": row.unit,
                "ours": ours,
                "peer": peer,
                "ratio": ratio,
                "goal": row.goal,
                "verdict": verdict,
                "not_decoded": row.note or None,
            }
            table.add_row(
                row.case,
                row.unit,
                ours.fmt(),
                row.peer,
                peer.fmt(),
                ratio.fmt(2, "x"),
                f">= {row.goal:g}x" if row.goal is not None else "-",
                verdict,
                row.note or "-",
            )
    console.print(table)
    a, c = facts["a_nmea"], facts["c_smoother"]
    console.print(
        f"(a) per pass: {a['bytes']:,} bytes; the peer reads {a['sentences_peer']:,} sentences, "
        f"ours {a['sentences_ours']:,}; both credited with {a['sentences_peer']:,}."
    )
    console.print(
        f"(c) tracks {c['tracks']}; {c['epochs']} epochs per receiver when batched; largest position "
        f"difference from ours: {max(v for d in c['max_position_difference_m'].values() for v in d.values()):.1e} m."
    )
    path = record.save()
    console.print(
        f"machine after: load {record.machine_after['loadavg']}; every round in {path.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
