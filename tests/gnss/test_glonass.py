"""GLONASS broadcast orbits and clocks against RTKLIB 2.4.3's ``geph2pos``, and their use.

The expected values are RTKLIB's own, for the real records of ``rinex/matstatic_base.nav``:
``data/gnss/glonass/matstatic_geph2pos.json``, written by ``make_expected.py`` beside it through
pyrtklib 0.2.7 (see the README there); this test needs neither RTKLIB nor pyrtklib.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

from gnss import glonass
from gnss.rinex import read_nav, read_obs
from gnss.rtk.broadcast import BroadcastNav, gpst_seconds, leap_seconds
from gnss.rtk.obsdata import build
from gnss.rtk.options import RtkOptions
from gnss.rtk.satellites import sat_states

DATA = Path(__file__).parents[1] / "data" / "gnss"
EXPECTED = json.loads((DATA / "glonass" / "matstatic_geph2pos.json").read_text())
NAV = DATA / "rinex" / "matstatic_base.nav"
WEEK_S: Final = 604_800.0
POS_TOL_M: Final = 1e-3  # the "mm level"
CLOCK_TOL_S: Final = 1e-12  # "ps level"
# RTKLIB's velocity is a finite difference of two integrations 1 ms apart (satpos -> ephpos),
# i.e. the velocity 0.5 ms later (0.3 mm/s at GLONASS's 0.6 m/s^2) plus the two integrations'
# difference over 1 ms (up to 5 mm/s when their step counts differ): ours is the integrated one.
VEL_TOL_M_S: Final = 1e-2


def _toe_abs(rec: dict[str, Any]) -> float:
    return float(rec["toe_gpst"]["week"] * WEEK_S + rec["toe_gpst"]["tow_s"])


def _rtklib_records() -> glonass.GlonassArrays:
    recs = EXPECTED["records"]
    return glonass.GlonassArrays(
        prn=np.array([int(r["sat"][1:]) for r in recs]),
        toe_s=np.array([_toe_abs(r) for r in recs]),
        pos_m=np.array([r["pos_m"] for r in recs]),
        vel_m_s=np.array([r["vel_m_s"] for r in recs]),
        acc_m_s2=np.array([r["acc_m_s2"] for r in recs]),
        tau_n_s=np.array([r["taun_s"] for r in recs]),
        gamma_n=np.array([r["gamn"] for r in recs]),
        freq_num=np.array([r["frq"] for r in recs]),
    )


def _ours() -> tuple[list[str], glonass.GlonassArrays]:
    """Our records (read_nav + BroadcastNav's UTC -> GPST), in RTKLIB's order."""
    nav = BroadcastNav(read_nav(NAV), "R")
    names, records = nav.glonass_records
    sats, toe = names.tolist(), records.toe_s
    order = []
    for rec in EXPECTED["records"]:
        match = [i for i, s in enumerate(sats) if s == rec["sat"] and toe[i] == _toe_abs(rec)]
        assert len(match) == 1, f"{rec['sat']} at toe {rec['toe_gpst']}: ours has {len(match)}"
        order.append(match[0])
    return sats, records.take(np.asarray(order, dtype=np.intp))


@pytest.mark.parametrize(
    "k", range(len(EXPECTED["offsets_s"])), ids=lambda k: f"toe{EXPECTED['offsets_s'][k]:+}s"
)
def test_states_match_rtklib_geph2pos(k: int) -> None:
    """All 19 records at once, each at toe + offset: position to the mm, clock to the ps."""
    eph = _rtklib_records()
    dt = EXPECTED["offsets_s"][k]
    pos, vel, clock = glonass.glonass_state(eph, eph.toe_s + dt)
    states = [r["states"][k] for r in EXPECTED["records"]]
    assert np.abs(pos - np.array([s["pos_m"] for s in states])).max() < POS_TOL_M
    assert np.abs(clock - np.array([s["clock_s"] for s in states])).max() < CLOCK_TOL_S
    assert np.abs(vel - np.array([s["vel_satpos_m_s"] for s in states])).max() < VEL_TOL_M_S
    by_clk = glonass.clock_offset(eph, eph.toe_s + dt)
    assert np.abs(by_clk - np.array([s["clock_by_geph2clk_s"] for s in states])).max() < CLOCK_TOL_S


def test_rinex_records_read_as_rtklib_reads_them() -> None:
    """Same toe in GPST (UTC rounded to 15 min + leap seconds), state, TauN, GammaN, channel."""
    _, ours = _ours()
    ref = _rtklib_records()
    np.testing.assert_array_equal(ours.toe_s, ref.toe_s)
    np.testing.assert_array_equal(ours.prn, ref.prn)
    np.testing.assert_allclose(ours.pos_m, ref.pos_m, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.vel_m_s, ref.vel_m_s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.acc_m_s2, ref.acc_m_s2, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(ours.tau_n_s, ref.tau_n_s)
    np.testing.assert_array_equal(ours.gamma_n, ref.gamma_n)
    np.testing.assert_array_equal(ours.freq_num, ref.freq_num)


def test_selection_nearest_healthy_record_within_30_min() -> None:
    nav = BroadcastNav(read_nav(NAV), "GR")
    sats = np.array(["G05", "R01", "R02", "R10", "R05"])
    recs = {(r["sat"], _toe_abs(r)): r for r in EXPECTED["records"]}
    first = min(t for _, t in recs)
    second = max(t for _, t in recs)
    at = first + 600.0  # nearer the first record (the second is 1800 s after it)
    sel = nav.select(sats, at)
    np.testing.assert_array_equal(sel.valid, [True, True, False, False, False])  # R02/R10 unhealthy, no R05
    np.testing.assert_array_equal(sel.glonass_rows, [1, 2, 3, 4])
    assert sel.glonass.toe_s[0] == first
    assert nav.select(sats, second - 600.0).glonass.toe_s[0] == second
    assert nav.select(sats, second + 1800.0).valid[1]  # the edge of the 30 min
    assert not nav.select(sats, second + 1800.5).valid[1]
    assert not nav.select(sats, first - 1800.5).valid[1]


def test_leap_seconds_table() -> None:
    utc = np.array(["1980-01-06", "2016-12-31T23:59:59", "2017-01-01", "2024-06-24"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(leap_seconds(utc), [0, 17, 18, 18])


def test_fdma_wavelengths_from_the_broadcast_channels() -> None:
    """Carriers 1602 + 0.5625 k and 1246 + 0.4375 k MHz (GLONASS ICD 3.3.1.4); where the
    observation header lists the channels, the broadcast's give the same wavelengths."""
    k = np.arange(-7, 7)
    np.testing.assert_allclose(glonass.carrier_hz(k, 1), (1602.0 + 0.5625 * k) * 1e6, rtol=0, atol=1e-3)
    np.testing.assert_allclose(glonass.carrier_hz(k, 2), (1246.0 + 0.4375 * k) * 1e6, rtol=0, atol=1e-3)
    obs = read_obs(DATA / "rinex" / "matstatic_rover_60s.obs")
    nav = BroadcastNav(read_nav(NAV), "R")
    from_header = build(obs, None, "R", 2)
    no_header = build(obs, None, "R", 2, glonass_channels=nav.glonass_channels)
    np.testing.assert_array_equal(from_header.wavelength_m, no_header.wavelength_m)
    assert from_header.signals["R"] == ("1C", "2C")
    stripped = dataclasses.replace(obs, header=dataclasses.replace(obs.header, glonass_slots={}))
    assert np.isnan(build(stripped, None, "R", 2).wavelength_m).all()
    filled = build(stripped, None, "R", 2, glonass_channels=nav.glonass_channels)
    np.testing.assert_allclose(filled.wavelength_m, from_header.wavelength_m, rtol=1e-15)


def test_sat_states_place_glonass_at_transmission() -> None:
    """Through BroadcastNav and sat_states, a satellite's position for a 20 000 km pseudorange
    is the RK4 state at reception - flight time - clock offset (RTKLIB's satposs)."""
    nav = BroadcastNav(read_nav(NAV), "GECJR")
    sats = np.array(["G05", "R01", "R17"])
    t = _toe_abs(EXPECTED["records"][0]) + 437.375
    pr = np.array([2.1e7, 2.0e7, 2.2e7])
    states = sat_states(nav, sats, t, pr)
    assert states.valid.tolist() == [True, True, True]
    eph = nav.select(sats, t).glonass
    clk = glonass.clock_offset(eph, t - pr[1:] / glonass.C_MPS)
    pos, _, clock = glonass.glonass_state(eph, t - pr[1:] / glonass.C_MPS - clk)
    np.testing.assert_array_equal(states.pos_m[1:], pos)
    np.testing.assert_array_equal(states.clock_s[1:], clock)
    assert float(np.linalg.norm(states.pos_m[1])) == pytest.approx(25.5e6, rel=0.01)  # GLONASS's orbit radius
    assert gpst_seconds(np.array(["1980-01-13"], dtype="datetime64[ns]"))[0] == WEEK_S


def test_options_take_glonass_for_code_positioning_only() -> None:
    """Single and DGNSS read GLONASS; the carrier-phase modes accept it and leave it out."""
    assert RtkOptions(mode="single", systems="GR").systems_used == "GR"
    assert RtkOptions(mode="dgnss", systems="GECJR").systems_used == "GECJR"
    assert RtkOptions(mode="kinematic", systems="GECJR").systems_used == "GECJ"
    assert RtkOptions(mode="static", systems="GR").systems_used == "G"
    with pytest.raises(ValueError, match="besides GLONASS"):
        RtkOptions(mode="kinematic", systems="R")
    with pytest.raises(ValueError, match="letters of"):
        RtkOptions(mode="single", systems="GS")
