"""Make rtklib_antmodel.json: RTKLIB 2.4.3 b34's receiver antenna model on the css078 antennas.

Run with the RTKLIB peer venv (pyrtklib 0.2.7 = RTKLIB 2.4.3 b34), from the repository root::

    var/bench/rtklib-venv/bin/python tests/data/gnss/antex/make_rtklib_antmodel.py

It reads ../rinex/test.atx (the header and the two receiver antennas of cssrlib's test.atx) and,
as a check that the cut lost nothing RTKLIB uses, the original in shared/data/gnss/rinex/
cssrlib_doy078_static/test.atx: both must give the same tables. Then, with RTKLIB's own
functions: ``readpcv`` (the per-frequency offsets and NOAZI values RTKLIB keeps), ``searchpcv``
(which antenna a type string selects, with and without radome) and ``antmodel`` (the range
correction per frequency slot) over a grid of azimuth / elevation, with and without the PCV
(``pos1-posopt2``) and with and without an antenna delta. The test (tests/gnss/test_antex.py)
needs only the JSON. pyrtklib's ``searchpcv`` returns a pointer into the table that Python later
frees: objects are kept alive and the process leaves through ``os._exit``.
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pyrtklib as rtk

HERE = Path(__file__).resolve().parent
TRIMMED = HERE.parent / "rinex" / "test.atx"
ORIGINAL = (
    HERE.parents[3].parent / "shared" / "data" / "gnss" / "rinex" / "cssrlib_doy078_static" / "test.atx"
)
ANTENNAS = ("JAVRINGANT_DM   SCIS", "TRM59800.80     NONE")
QUERIES = (
    "JAVRINGANT_DM   SCIS",
    "TRM59800.80     NONE",
    "JAVRINGANT_DM SCIS",
    "TRM59800.80",
    "JAVRINGANT_DM NONE",
    "TRM59800.80 SCIS",
    "TRM59800",
    "SCIS",
    "Unknown",
)
AZ_DEG = (0.0, 17.3, 45.0, 90.0, 135.0, 180.0, 222.2, 270.0, 315.0, 359.0)
EL_DEG = (-5.0, 0.0, 2.5, 7.0, 15.0, 23.4, 30.0, 45.3, 60.0, 77.7, 89.0, 90.0)
DELTAS_ENU = ((0.0, 0.0, 0.0), (0.1, -0.2, 1.5))
KEEP: list[Any] = []  # pyrtklib objects that must not be freed


def _text(chars: Any) -> str:
    """A C string of an ``Arr1Dchar`` (its item 0 reads up to the NUL)."""
    return str(chars[0])


def _table(path: Path) -> tuple[Any, list[dict[str, Any]]]:
    pcvs = rtk.pcvs_t()
    KEEP.append(pcvs)
    if not rtk.readpcv(str(path), pcvs):
        raise SystemExit(f"readpcv failed: {path}")
    rows = []
    for i in range(pcvs.n):
        p = pcvs.pcv[i]
        KEEP.append(p)
        if p.sat:
            continue
        rows.append(
            {
                "type": _text(p.type),
                "off_enu_m": [[p.off[f, j] for j in range(3)] for f in range(rtk.NFREQ)],
                "var_m": [[p.var[f, j] for j in range(19)] for f in range(rtk.NFREQ)],
            }
        )
    return pcvs, rows


def _arr(values: tuple[float, ...] | list[float]) -> Any:
    a = rtk.Arr1Ddouble(len(values))
    for i, v in enumerate(values):
        a[i] = float(v)
    KEEP.append(a)
    return a


def main() -> None:
    pcvs, receivers = _table(TRIMMED)
    _, original = _table(ORIGINAL)
    if receivers != original:
        raise SystemExit("the trimmed ANTEX reads differently from the original")
    t0 = rtk.gtime_t()
    found: dict[str, str | None] = {}
    for q in QUERIES:
        p = rtk.searchpcv(0, q, t0, pcvs)
        KEEP.append(p)
        found[q] = None if p is None else _text(p.type)
    cases = []
    for ant in ANTENNAS:
        pcv = rtk.searchpcv(0, ant, t0, pcvs)
        KEEP.append(pcv)
        for delta in DELTAS_ENU:
            for opt in (0, 1):
                dant_rows = []
                for az in AZ_DEG:
                    for el in EL_DEG:
                        dant = _arr([0.0] * rtk.NFREQ)
                        rtk.antmodel(pcv, _arr(delta), _arr([az * rtk.D2R, el * rtk.D2R]), opt, dant)
                        dant_rows.append([dant[f] for f in range(rtk.NFREQ)])
                cases.append({"antenna": ant, "delta_enu_m": list(delta), "pcv": opt, "dant_m": dant_rows})
    fixture = {
        "provenance": (
            f"RTKLIB {rtk.VER_RTKLIB} {rtk.PATCH_LEVEL} via pyrtklib {version('pyrtklib')}: readpcv, "
            "searchpcv(0, type) and antmodel(pcv, del, azel, opt, dant) on tests/data/gnss/rinex/test.atx "
            "(identical tables from the original cssrlib test.atx); made by make_rtklib_antmodel.py"
        ),
        "nfreq": rtk.NFREQ,
        "receivers": receivers,
        "searchpcv": found,
        "az_deg": list(AZ_DEG),
        "el_deg": list(EL_DEG),
        "cases": cases,
    }
    out = HERE / "rtklib_antmodel.json"
    # one line per top-level entry and per case: diffable without a line per number
    lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in fixture.items() if k != "cases"]
    body = ",\n".join(f"  {json.dumps(c)}" for c in cases)
    out.write_text("{\n" + ",\n".join(lines) + ',\n "cases": [\n' + body + "\n ]\n}\n")
    print(f"wrote {out} ({out.stat().st_size} B)")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
