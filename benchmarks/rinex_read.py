"""RINEX reading: our gnss.rinex beside georinex 1.16 on the MatRTKLIB static set (shared/data).

Reads rover.obs (RINEX 3.04, 3.5 MB, 301 epochs x 58 satellites, 5 systems) and base.nav (mixed
RINEX 3.04) with both readers in interleaved rounds (ours, georinex, ours, georinex, ...; the
median and range of the rounds are reported, every round saved to var/bench/rinex_read.json),
after one untimed warm-up read each, and checks that the values agree: every
observation value NaN-aware, every LLI/SSI column georinex produces, epoch times to 1 ms
(georinex truncates fractional seconds through a float), and every field of the G/R/C/J
navigation records (georinex keys records by (sv, time), which collapses Galileo's I/NAV and
F/NAV records of the same toc, so E is not compared). georinex is a dev dependency of ours.

    python benchmarks/rinex_read.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._harness import Record, Spread, interleaved, ratios  # noqa: E402
from gnss.rinex import read_nav, read_obs  # noqa: E402
from tests.support import shared_data  # noqa: E402

OBS = shared_data("gnss", "rinex", "matrtklib_static", "rover.obs")
NAV = shared_data("gnss", "rinex", "matrtklib_static", "base.nav")
_KEPLER = ["Crs", "DeltaN", "M0", "Cuc", "Eccentricity", "Cus", "sqrtA", "Toe"]
_KEPLER += ["Cic", "Omega0", "Cis", "Io", "Crc", "omega", "OmegaDot", "IDOT"]
_GPS = ["SVclockBias", "SVclockDrift", "SVclockDriftRate", "IODE", *_KEPLER]
_GPS += ["CodesL2", "GPSWeek", "L2Pflag", "SVacc", "health", "TGD", "IODC", "TransTime", "FitIntvl"]
_BDS = ["SVclockBias", "SVclockDrift", "SVclockDriftRate", "AODE", *_KEPLER]
_BDS += ["BDTWeek", "SVacc", "SatH1", "TGD1", "TGD2", "TransTime", "AODC"]
_GLO = ["SVclockBias", "SVrelFreqBias", "MessageFrameTime", "X", "dX", "dX2", "health"]
_GLO += ["Y", "dY", "dY2", "FreqNum", "Z", "dZ", "dZ2", "AgeOpInfo"]
PEER_FIELDS = {"G": _GPS, "J": _GPS, "C": _BDS, "R": _GLO}


def timed(fn: Callable[[], Any], keep: list[Any]) -> Callable[[], float]:
    """A contender for ``interleaved``: one read, its seconds; the last result kept for checking."""

    def run() -> float:
        t0 = time.perf_counter()
        keep[:] = [fn()]
        return time.perf_counter() - t0

    return run


def compare_obs(obs: Any, ref: Any) -> tuple[int, int]:
    """(values compared, mismatches), NaN-aware; LLI/SSI where georinex has the column."""
    if obs.sats.tolist() != ref.sv.values.tolist():
        return 0, 1
    lag = (obs.time - ref.time.values.astype("datetime64[ns]")).astype(np.int64)
    bad = int(((lag < 0) | (lag > 1_000_000)).sum())
    n = 0
    for code, arr in obs.data.items():
        if code not in ref:
            bad += int(np.isfinite(arr).sum())
            continue
        want = ref[code].values
        bad += int((~((arr == want) | (np.isnan(arr) & np.isnan(want)))).sum())
        n += int(np.isfinite(arr).sum())
        for ind, mine in (("ssi", obs.ssi[code]), ("lli", obs.lli[code])):
            if f"{code}{ind}" in ref:
                bad += int((mine != np.nan_to_num(ref[f"{code}{ind}"].values)).sum())
    return n, bad


def compare_nav(nav: Any, ref: Any) -> tuple[int, int]:
    n = bad = 0
    for system, names in PEER_FIELDS.items():
        recs = nav.ephemeris.get(system)
        if recs is None:
            continue
        for rec in recs:
            row = ref.sel(sv=rec["sat"], time=rec["toc"])
            for mine, theirs in zip(recs.dtype.names[2:], names, strict=True):
                want, got = float(row[theirs].values), float(rec[mine])
                same = got == want or (np.isnan(want) and (np.isnan(got) or got == -1))
                same = same or abs(got - want) <= 1e-15 * abs(want)  # km -> m products
                bad += not same
                n += 1
    return n, bad


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of both readers")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 130))
    command = shlex.join([sys.executable, *sys.argv])
    console.print(f"[dim]$ {command}[/]")
    if not OBS.exists():
        console.print(f"[red]{OBS} not found: the benchmark needs the shared RINEX set[/]")
        raise SystemExit(2)
    import georinex as gr

    def peer(path: Path, **kw: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gr.load(path, **kw)

    record = Record(
        "rinex_read",
        command,
        params={"rounds": args.rounds, "obs": str(OBS), "nav": str(NAV)},
        peers={"georinex": f"{gr.__version__}, gr.load(useindicators=True) for obs, gr.load for nav"},
    )
    table = Table(title=f"RINEX read: median (min-max) of {args.rounds} interleaved rounds, seconds")
    for col in (
        "file",
        "ours s",
        f"georinex {gr.__version__} s",
        "speed-up",
        "values compared",
        "mismatches",
    ):
        table.add_column(col, justify="right" if col != "file" else "left")
    for name, path, ours_fn, peer_fn, compare in (
        ("rover.obs", OBS, lambda: read_obs(OBS), lambda: peer(OBS, useindicators=True), compare_obs),
        ("base.nav", NAV, lambda: read_nav(NAV), lambda: peer(NAV), compare_nav),
    ):
        mine: list[Any] = []
        theirs: list[Any] = []
        with console.status(f"{name}: warm-up"):
            ours_fn(), peer_fn()
        with console.status(f"{name}: {args.rounds} rounds"):
            rounds = interleaved(
                {"ours": timed(ours_fn, mine), "georinex": timed(peer_fn, theirs)}, args.rounds
            )
        n, bad = compare(mine[0], theirs[0])
        ours_s, peer_s = Spread.of(rounds["ours"]), Spread.of(rounds["georinex"])
        speedup = ratios(rounds["georinex"], rounds["ours"])
        record.rounds[name] = rounds
        record.summary[name] = {
            "ours_s": ours_s,
            "georinex_s": peer_s,
            "speedup": speedup,
            "values_compared": n,
            "mismatches": bad,
        }
        if name == "rover.obs":
            obs = mine[0]
            label = f"rover.obs ({path.stat().st_size / 1e6:.1f} MB, {obs.time.size} epochs x {obs.sats.size} sats)"
        else:
            recs = sum(a.size for a in mine[0].ephemeris.values())
            label = f"base.nav ({recs} records, G/R/C/J compared)"
        table.add_row(label, ours_s.fmt(4), peer_s.fmt(2), speedup.fmt(0, "x"), str(n), str(bad))
    console.print(table)
    saved = record.save()
    console.print(
        f"[dim]load before/after {record.machine_before['loadavg']} / {record.machine_after['loadavg']}; rounds in {saved}[/]"
    )


if __name__ == "__main__":
    main()
