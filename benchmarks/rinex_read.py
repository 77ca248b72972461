"""RINEX reading: our gnss.rinex beside georinex 1.16 on the MatRTKLIB static set (shared/data).

Reads rover.obs (RINEX 3.04, 3.5 MB, 301 epochs x 58 satellites, 5 systems) and base.nav (mixed
RINEX 3.04) with both readers, best of N runs each, and checks that the values agree: every
observation value NaN-aware, every LLI/SSI column georinex produces, epoch times to 1 ms
(georinex truncates fractional seconds through a float), and every field of the G/R/C/J
navigation records (georinex keys records by (sv, time), which collapses Galileo's I/NAV and
F/NAV records of the same toc, so E is not compared). georinex is a dev dependency of ours.

    python benchmarks/rinex_read.py [--repeat 3] [--peer-repeat 3]
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


def best_of(fn: Callable[[], Any], n: int) -> tuple[Any, float]:
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


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
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (best is kept)")
    parser.add_argument("--peer-repeat", type=int, default=3, help="runs of georinex (best is kept)")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 130))
    console.print(f"[dim]$ {shlex.join([sys.executable, *sys.argv])}[/]")
    if not OBS.exists():
        console.print(f"[yellow]{OBS} not found[/]")
        return
    import georinex as gr

    def peer(path: Path, **kw: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gr.load(path, **kw)

    table = Table(
        title=f"RINEX read, best of {args.repeat} (ours) / {args.peer_repeat} (georinex {gr.__version__})"
    )
    for col in ("file", "ours s", "georinex s", "speed-up", "values compared", "mismatches"):
        table.add_column(col, justify="right" if col != "file" else "left")
    with console.status("rover.obs"):
        obs, ours_s = best_of(lambda: read_obs(OBS), args.repeat)
        ref, peer_s = best_of(lambda: peer(OBS, useindicators=True), args.peer_repeat)
    n, bad = compare_obs(obs, ref)
    size = f"{OBS.stat().st_size / 1e6:.1f} MB, {obs.time.size} epochs x {obs.sats.size} sats"
    table.add_row(
        f"rover.obs ({size})", f"{ours_s:.3f}", f"{peer_s:.2f}", f"{peer_s / ours_s:.0f}x", str(n), str(bad)
    )
    with console.status("base.nav"):
        nav, ours_s = best_of(lambda: read_nav(NAV), args.repeat)
        refn, peer_s = best_of(lambda: peer(NAV), args.peer_repeat)
    n, bad = compare_nav(nav, refn)
    recs = sum(a.size for a in nav.ephemeris.values())
    table.add_row(
        f"base.nav ({recs} records, G/R/C/J compared)",
        f"{ours_s:.4f}",
        f"{peer_s:.2f}",
        f"{peer_s / ours_s:.0f}x",
        str(n),
        str(bad),
    )
    console.print(table)


if __name__ == "__main__":
    main()
