"""Cycle slips from the Doppler, on synthetic cases and on real receivers' data.

Real data: on the MatRTKLIB 60 s set (two receivers, no slips) nothing is flagged; on the NovAtel
OEM729 capture the detector, on its own, finds QZSS J04's phase jumps of 55-237 m - each one an
epoch the receiver itself flagged as loss of lock (RTCM lock time), an independent witness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gnss.rinex import read_obs
from gnss.rtk.obsdata import ReceiverEpochs, build
from gnss.rtk.rtcm_input import obsset_from_rtcm
from gnss.rtk.slips import DopplerTracker, doppler_slips

DATA = Path(__file__).parents[1] / "data" / "gnss"
L1_M = 299_792_458.0 / 1575.42e6


def test_a_clock_jump_common_to_all_is_not_a_slip_but_one_jumping_satellite_is() -> None:
    rng = np.random.default_rng(1)
    dop = rng.uniform(-3000, 3000, (8, 1))
    change = -dop * 1.0 + rng.normal(0, 0.02, (8, 1))  # phase follows the Doppler, 2 cm noise
    clock_jump_cyc = 0.001 * 299_792_458.0 / L1_M  # a 1 ms receiver clock step
    wl = np.full((8, 1), L1_M)
    assert not doppler_slips(change + clock_jump_cyc, dop, 1.0, wl, 1.0).any()
    change[3] += 12.0  # 2.3 m
    assert doppler_slips(change + clock_jump_cyc, dop, 1.0, wl, 1.0)[:, 0].tolist() == [
        k == 3 for k in range(8)
    ]
    change[3] -= 12.0 - 4.0  # 4 cycles: 0.76 m, under a 1 m threshold (LLI and GF's job)
    assert not doppler_slips(change, dop, 1.0, wl, 1.0).any()
    assert not doppler_slips(np.full((3, 1), np.nan), dop[:3], 1.0, wl[:3], 1.0).any()


def run_tracker(epochs: ReceiverEpochs, wl: np.ndarray) -> np.ndarray:
    tracker = DopplerTracker(*wl.shape)
    return np.array(
        [
            tracker.update(float(t), epochs.cp_cyc[k], epochs.dop_hz[k], wl, 1.0)
            for k, t in enumerate(epochs.t_gpst_s)
        ]
    )


def test_no_false_slip_on_two_real_receivers() -> None:
    rinex = DATA / "rinex"
    data = build(
        read_obs(rinex / "matstatic_rover_60s.obs"), read_obs(rinex / "matstatic_base_60s.obs"), "GECJ", 2
    )
    assert data.base is not None
    for epochs in (data.rover, data.base):
        assert np.isfinite(epochs.dop_hz).sum() > 4000  # the files do carry Doppler
        assert not run_tracker(epochs, data.wavelength_m).any()


def test_real_jumps_are_found_and_the_receiver_flagged_each_one() -> None:
    raw = (DATA / "rtcm3" / "qzsl6tool_20221213-010900.rtcm").read_bytes()
    data, _, _ = obsset_from_rtcm(raw, None, "GECJ", 2)
    slips = run_tracker(data.rover, data.wavelength_m)
    flagged = (data.rover.lli & 1) != 0
    found = np.argwhere(slips)
    assert len(found) >= 10
    assert {str(data.sats[s]) for _, s, _ in found} == {"J04"}
    assert np.all(flagged[slips])  # every Doppler slip is one the receiver reported
