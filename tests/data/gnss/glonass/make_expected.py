"""Expected GLONASS satellite states for tests/gnss/test_glonass.py, from RTKLIB 2.4.3 b34 itself.

Run with the peer venv of benchmarks/rtk.py (pyrtklib 0.2.7 = RTKLIB 2.4.3 b34), from the repo root:

    var/bench/rtklib-venv/bin/python tests/data/gnss/glonass/make_expected.py

It reads ../rinex/matstatic_base.nav with RTKLIB's ``readrnx`` (which also converts each record's
UTC reference time to GPST with RTKLIB's leap-second table), then for every GLONASS record and
every offset of ``OFFSETS_S`` from its toe calls ``geph2pos`` (position, clock: RK4 integration
of the PZ-90 equations of motion, 60 s steps) and ``satpos`` with broadcast ephemerides (whose
velocity is RTKLIB's finite difference of ``geph2pos`` over 1 ms), and writes
``matstatic_geph2pos.json`` beside this script. Nothing here is computed by our code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyrtklib as rtk

HERE = Path(__file__).resolve().parent
NAV = HERE.parent / "rinex" / "matstatic_base.nav"
OUT = HERE / "matstatic_geph2pos.json"
# offsets from toe (s): both signs, whole and partial 60 s steps, up to RTKLIB's MAXDTOE_GLO
OFFSETS_S = (-1800.0, -930.5, -61.25, -0.5, 0.0, 0.125, 59.75, 60.0, 437.375, 1199.0, 1800.0)


def _sat_id(sat: int) -> str:
    prn = rtk.Arr1Dint(1)
    if rtk.satsys(sat, prn) != rtk.SYS_GLO:
        raise SystemExit(f"satellite number {sat} is not GLONASS")
    return f"R{prn[0]:02d}"


def main() -> None:
    obs, nav, sta = rtk.obs_t(), rtk.nav_t(), rtk.sta_t()
    if rtk.readrnx(str(NAV), 1, "", obs, nav, sta) != 1:
        raise SystemExit(f"readrnx failed on {NAV}")
    records = []
    for k in range(nav.ng):
        g = nav.geph[k]
        week = rtk.Arr1Dint(1)
        toe_tow = rtk.time2gpst(g.toe, week)
        evaluations = []
        for dt in OFFSETS_S:
            t = rtk.timeadd(g.toe, dt)
            rs, dts, var = rtk.Arr1Ddouble(3), rtk.Arr1Ddouble(1), rtk.Arr1Ddouble(1)
            rtk.geph2pos(t, g, rs, dts, var)
            rs6, dts2, var6, svh = rtk.Arr1Ddouble(6), rtk.Arr1Ddouble(2), rtk.Arr1Ddouble(1), rtk.Arr1Dint(1)
            if not rtk.satpos(t, t, g.sat, 0, nav, rs6, dts2, var6, svh):  # 0: EPHOPT_BRDC
                raise SystemExit(f"satpos failed for sat {g.sat} at toe{dt:+}")
            evaluations.append(
                {
                    "dt_s": dt,
                    "pos_m": [rs[i] for i in range(3)],
                    "clock_s": dts[0],
                    "clock_by_geph2clk_s": rtk.geph2clk(t, g),
                    "vel_satpos_m_s": [rs6[i] for i in range(3, 6)],
                    "var_m2": var[0],
                }
            )
        records.append(
            {
                "sat": _sat_id(g.sat),
                "toe_gpst": {"week": week[0], "tow_s": toe_tow},
                "taun_s": g.taun,
                "gamn": g.gamn,
                "frq": g.frq,
                "svh": g.svh,
                "pos_m": list(g.pos),
                "vel_m_s": list(g.vel),
                "acc_m_s2": list(g.acc),
                "states": evaluations,
            }
        )
    head = {
        "provenance": (
            "RTKLIB 2.4.3 b34 (PyPI pyrtklib 0.2.7): readrnx + geph2pos/geph2clk/satpos on "
            "tests/data/gnss/rinex/matstatic_base.nav, by tests/data/gnss/glonass/make_expected.py"
        ),
        "nav": "tests/data/gnss/rinex/matstatic_base.nav",
        "offsets_s": list(OFFSETS_S),
    }
    # one line per record: small, and a diff shows which record changed
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    body = ",\n  ".join(json.dumps(r, separators=(",", ":")) for r in records)
    OUT.write_text("{\n" + "\n".join(lines) + '\n "records": [\n  ' + body + "\n ]\n}\n")
    print(f"{len(records)} GLONASS records x {len(OFFSETS_S)} times -> {OUT}")


if __name__ == "__main__":
    main()
