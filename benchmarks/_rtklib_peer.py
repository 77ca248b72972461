"""RTKLIB's side of benchmarks/rtk.py, run by the interpreter of a venv of its own.

RTKLIB runs in process through the PyPI bindings ``pyrtklib`` (RTKLIB 2.4.3 b34) and
``pyrtklib5`` (rtklibexplorer's demo5, "EX 2.5.0"). Both are pybind11 modules that register the
same C++ types, so one process can import only one of them: benchmarks/rtk.py keeps one of these
processes per engine alive for the whole run, in the venv ``var/bench/rtklib-venv`` (kept apart
from the project's, as the bindings are peers, not dependencies), and hands it one job at a time,
so that the engines' runs can be interleaved (ours, 2.4.3, demo5, ours, ...) without paying a
process start or an import per run. The conversation is JSON lines, one request on stdin, one
answer on stdout::

    -> {"engine": "pyrtklib" | "pyrtklib5"}
    <- {"engine": ..., "package_version": ..., "rtklib_version": ...}
    -> {"set": name, "conf": path, "dir": data dir, "rover": file, "base": file, "nav": file,
        "base_ecef": [x, y, z] | "base_llh": [lat_deg, lon_deg, h_m], "out": path}
    <- {"set", "conf", "engine", "seconds", "epochs", "out", "status", "nf", "navsys", "modear"}
    ...                                                      (until stdin closes)

Each job is what ``rnx2rtkp -k conf -o out [-r x y z | -l lat lon h] rover base nav`` does, with
the same C calls: ``resetsysopts()``, ``loadopts(conf, sysopts)``, ``getsysopts(prcopt, solopt,
filopt)``, then the base position into ``prcopt.rb`` with ``refpos = 0`` (the conf says
``ant2-postype=llh`` without a value: rnx2rtkp's ``-l``/``-r`` give it), then
``postpos(ts=0, te=0, ti=0, tu=0, ...)`` over the three files. Files are named relative to the
data directory (the working directory during the run), as for the reference runs, so the .pos
header and relative paths in the conf (``file-rcvantfile=test.atx``) are the same.

The timed region is the ``postpos`` call alone: it opens and reads the RINEX observation and
navigation files (and the receiver ANTEX file a conf names), solves every epoch forward, and
writes the .pos file. Reading the option file (``loadopts``/``getsysopts``) is outside it, as
reading the conf is outside ours.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def _epochs(path: Path) -> int:
    with path.open() as f:
        return sum(1 for line in f if line.strip() and not line.startswith("%"))


def _run(rtk: Any, job: dict[str, Any], engine: str) -> dict[str, Any]:
    out = Path(job["out"]).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.chdir(job["dir"])
    try:
        rtk.resetsysopts()
        if not rtk.loadopts(str(Path(job["conf"]).resolve()), rtk.sysopts[0]):
            raise SystemExit(f"loadopts failed: {job['conf']}")
        prcopt, solopt, filopt = rtk.prcopt_t(), rtk.solopt_t(), rtk.filopt_t()
        rtk.getsysopts(prcopt, solopt, filopt)
        rb = rtk.Arr1Ddouble(3)
        if "base_ecef" in job:
            for i, v in enumerate(job["base_ecef"]):
                rb[i] = float(v)
        else:
            lat, lon, h = job["base_llh"]
            llh = rtk.Arr1Ddouble(3)
            llh[0], llh[1], llh[2] = lat * rtk.D2R, lon * rtk.D2R, float(h)
            rtk.pos2ecef(llh, rb)
        prcopt.refpos = prcopt.rovpos = 0  # POSOPT_POS, as rnx2rtkp -r / -l
        for i in range(3):
            prcopt.rb[i] = rb[i]
            prcopt.ru[i] = rb[i]
        files = [job["rover"], job["base"], job["nav"]]
        # pyrtklib takes the output path as Arr1Dchar, pyrtklib5 as str
        outfile = rtk.Arr1Dchar(str(out)) if engine == "pyrtklib" else str(out)
        ts, te = rtk.gtime_t(), rtk.gtime_t()
        t0 = time.perf_counter()
        status = rtk.postpos(ts, te, 0.0, 0.0, prcopt, solopt, filopt, files, len(files), outfile, "", "")
        seconds = time.perf_counter() - t0
        events = out.with_name(out.stem + "_events.pos")  # demo5 writes one, empty without event marks
        if events.exists() and not _epochs(events):
            events.unlink()
    finally:
        os.chdir(here)
    return {
        "set": job["set"],
        "conf": Path(job["conf"]).stem,
        "engine": engine,
        "seconds": seconds,
        "epochs": _epochs(out) if out.exists() else 0,
        "out": str(out),
        "status": status,
        # what the conf set, as RTKLIB read it (demo5 rejects "l1+2" and keeps its default nf=2)
        "nf": prcopt.nf,
        "navsys": prcopt.navsys,
        "modear": prcopt.modear,
    }


def _answer(channel: TextIO, payload: dict[str, Any]) -> None:
    channel.write(json.dumps(payload) + "\n")
    channel.flush()


def main() -> None:
    # RTKLIB's C code may write to stdout: keep it off the JSON channel
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    hello = json.loads(sys.stdin.readline())
    engine = hello["engine"]
    if engine not in ("pyrtklib", "pyrtklib5"):
        raise SystemExit(f"unknown engine {engine!r}")
    rtk = importlib.import_module(engine)
    from importlib.metadata import version

    _answer(
        channel,
        {
            "engine": engine,
            "package_version": version(engine),
            "rtklib_version": f"{rtk.VER_RTKLIB} {rtk.PATCH_LEVEL}".strip(),
        },
    )
    for line in sys.stdin:
        if line.strip():
            _answer(channel, _run(rtk, json.loads(line), engine))


if __name__ == "__main__":
    main()
