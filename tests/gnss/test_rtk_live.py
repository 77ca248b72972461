"""Live (cloud) RTK on the NovAtel OEM729 capture (Hiroshima, 2022-12-13), fed as it would arrive.

The capture is both rover and base (a zero baseline), so the truth is its own 1005 ARP: a fixed
solution must sit on it. The post-processing path (:func:`gnss.rtk.rtcm_input.solve_rtcm`, itself
checked against RTKLIB in test_rtk_e2e/test_rtk_rtcm) is the independent reference for the live
path: once the live session has received every ephemeris the file holds, the two must give the
same positions. A second base station is made by re-stamping the capture's station id (and its
CRC, computed with pyrtcm's CRC-24Q, not ours).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from pyrtcm.rtcmhelpers import calc_crc24q

from gnss.fixes import PositionFix
from gnss.geodesy import ecef_to_enu, ecef_to_geodetic, geodetic_to_ecef
from gnss.rtcm.decode import decode
from gnss.rtcm.framing import RtcmFramer
from gnss.rtcm.station import StationArp
from gnss.rtk.live import LiveRtk
from gnss.rtk.options import RtkOptions
from gnss.rtk.pool import RtkPool, SessionSpec
from gnss.rtk.posfile import PosSolutions, gpst_minus_utc_s
from gnss.rtk.rtcm_input import solve_rtcm

CAPTURE = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
KINEMATIC = RtkOptions(mode="kinematic", systems="GECJ", freqs=2)
F64 = NDArray[np.float64]


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    return [f.raw for f in RtcmFramer().feed(CAPTURE.read_bytes())]


@pytest.fixture(scope="module")
def arp(frames: list[bytes]) -> F64:
    station = next(
        r for r in (decode(f) for f in RtcmFramer().feed(b"".join(frames))) if isinstance(r, StationArp)
    )
    return np.asarray(station.ecef_m, dtype=np.float64)


def run(live: LiveRtk, frames: list[bytes], base_frames: list[bytes] | None = None) -> list[PositionFix]:
    """Base frame k, then rover frame k: each rover epoch finds its base epoch already there."""
    base_frames = frames if base_frames is None else base_frames
    out: list[PositionFix] = []
    for b, r in zip(base_frames, frames, strict=True):
        live.feed_base(b)
        out += live.feed_rover(r)
    return out + live.flush_rover()


def enu_error_m(fixes: list[PositionFix], arp: F64) -> F64:
    lat, lon, h = ecef_to_geodetic(arp)
    pts = geodetic_to_ecef([f.lat for f in fixes], [f.lon for f in fixes], [f.height or 0.0 for f in fixes])
    return ecef_to_enu(pts, lat, lon, h)


def gpst_of(fixes: list[PositionFix]) -> NDArray[np.datetime64]:
    utc = np.array([np.datetime64(f.time.replace(tzinfo=None), "ns") for f in fixes if f.time is not None])
    return utc + gpst_minus_utc_s(utc).astype("timedelta64[s]")


def test_zero_baseline_fixes_every_epoch_on_the_arp(frames: list[bytes], arp: F64) -> None:
    live = LiveRtk(KINEMATIC)
    fixes = run(live, frames)
    batch = solve_rtcm(CAPTURE, CAPTURE, KINEMATIC)
    # epochs before the first ephemerides have no solution (a file has them all from the start)
    assert live.solved == len(fixes) and live.solved + live.unsolved == len(batch.time)
    assert live.unsolved <= 6  # the capture's first ephemeris frames arrive within its first 6 s
    assert {f.quality for f in fixes} == {4}  # fixed, every epoch
    err = enu_error_m(fixes, arp)
    assert np.abs(err).max() < 0.005  # zero baseline: on the ARP to millimetres
    assert {f.station_id for f in fixes} == {str(decode_station(frames))}
    # the base epoch of the same time, for every epoch including the last: the capture ends each
    # epoch with a NavIC message, which the engine does not read but whose multiple-message bit
    # still closes the epoch
    assert [f.age_diff for f in fixes] == [0.0] * len(fixes)


def decode_station(frames: list[bytes]) -> int:
    return next(
        r.station_id
        for r in (decode(f) for f in RtcmFramer().feed(b"".join(frames)))
        if isinstance(r, StationArp)
    )


@pytest.mark.parametrize("mode", ["single", "kinematic"])
def test_live_equals_post_processing_once_the_navigation_is_complete(frames: list[bytes], mode: str) -> None:
    options = RtkOptions(mode=mode, systems="GECJ", freqs=2)  # type: ignore[arg-type]
    live = LiveRtk(options)
    fixes = run(live, frames)
    batch: PosSolutions = solve_rtcm(CAPTURE, CAPTURE, options)
    n_eph = len(live._nav.records)
    assert n_eph == 53  # every distinct ephemeris of the file (pyrtcm counts 1019/1042/1044/1045/1046)
    t_live = gpst_of(fixes)
    common, i, j = np.intersect1d(t_live, batch.time, return_indices=True)
    assert len(common) == len(fixes)
    last = slice(-30, None)  # the last 30 s: all ephemerides have arrived by then
    ours = np.array([[f.lat, f.lon, f.height] for f in fixes])[i][last]
    theirs = batch.llh[j][last]
    np.testing.assert_allclose(ours[:, :2], theirs[:, :2], atol=1e-9)  # degrees: 0.1 mm
    np.testing.assert_allclose(ours[:, 2], theirs[:, 2], atol=1e-4)
    assert [f.quality for f in np.array(fixes, dtype=object)[i][last]] == [
        {1: 4, 2: 5, 4: 2, 5: 1}[int(q)] for q in batch.q[j][last]
    ]


def test_bytes_in_any_pieces_and_noise_give_the_same_fixes(frames: list[bytes]) -> None:
    """The rover's stream cut anywhere (inside frames too), with garbage between its frames:
    the same fixes as frame by frame (single point: no base whose timing could differ)."""
    single = RtkOptions(mode="single", systems="GECJ", freqs=2)
    by_frame = LiveRtk(single)
    whole = [fix for f in frames for fix in by_frame.feed_rover(f)] + by_frame.flush_rover()
    rng = random.Random(7)
    live = LiveRtk(single)
    got: list[PositionFix] = []
    noise = k = 0
    while k < len(frames):
        group = frames[k : k + rng.randint(1, 5)]
        k += len(group)
        junk = [os.urandom(rng.randint(0, 40)).replace(b"\xd3", b"\x00") for _ in group]
        noise += sum(map(len, junk))
        data = b"".join(j + f for j, f in zip(junk, group, strict=True))
        cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            got += live.feed_rover(data[a:b])
    got += live.flush_rover()
    assert live.rover.stats.bytes_skipped == noise  # skipped and counted, nothing else lost
    assert live.rover.stats.frames == len(frames)
    assert got == whole


def test_a_chunk_of_many_epochs_solves_each_of_them_once(frames: list[bytes]) -> None:
    """Epoch by epoch, in 100-frame chunks, or the whole capture at once: the same fixes, each
    epoch once, in time order - a backlog beyond ``max_epochs_per_feed`` keeps its newest."""
    single = RtkOptions(mode="single", systems="GECJ", freqs=2)
    by_frame = LiveRtk(single)
    one_by_one = [fix for f in frames for fix in by_frame.feed_rover(f)] + by_frame.flush_rover()
    times = [f.time for f in one_by_one]
    assert times == sorted(set(times))  # distinct, increasing
    chunked = LiveRtk(single, max_epochs_per_feed=1000)
    got = [
        fix for k in range(0, len(frames), 100) for fix in chunked.feed_rover(b"".join(frames[k : k + 100]))
    ]
    assert got + chunked.flush_rover() == one_by_one
    whole = LiveRtk(single)  # the default cap: 10 epochs per chunk
    newest = whole.feed_rover(b"".join(frames))
    same_epochs = one_by_one[-10:]
    assert [f.time for f in newest] == [f.time for f in same_epochs]
    # the first of them has no previous solution to start from: the same point to a centimetre
    assert (
        max(abs(a.lat - b.lat) + abs(a.lon - b.lon) for a, b in zip(newest, same_epochs, strict=True)) < 1e-7
    )
    assert whole.skipped == by_frame.solved - 10  # all but the newest 10
    # the session's clock follows the epochs (so a session may run past a week's half)
    assert whole._t_ref == pytest.approx(
        float((gpst_of(newest[-1:])[0] - np.datetime64("1980-01-06", "ns")) / np.timedelta64(1, "s")),
        abs=0.01,
    )


def test_kinematic_in_chunks_fixes_every_epoch_once(frames: list[bytes], arp: F64) -> None:
    """~7 epochs a chunk, the base's chunk first (so its ephemerides come earlier than when
    interleaved frame by frame): every rover epoch solved once, fixed, on the ARP."""
    reference = run(LiveRtk(KINEMATIC), frames)
    live = LiveRtk(KINEMATIC)
    got: list[PositionFix] = []
    for k in range(0, len(frames), 100):
        live.feed_base(b"".join(frames[k : k + 100]))
        got += live.feed_rover(b"".join(frames[k : k + 100]))
    got += live.flush_rover()
    times = [f.time for f in got]
    assert times == sorted(set(times)) and set(times) >= {f.time for f in reference}
    assert {f.quality for f in got} == {4} and np.abs(enu_error_m(got, arp)).max() < 0.005


def with_crc(body: bytes) -> bytes:
    return body + calc_crc24q(body).to_bytes(3, "big")


def restamp(frame: bytes, station_id: int) -> bytes:
    """The frame with another reference station id (payload bits 12-23) and a fresh CRC."""
    body = bytearray(frame[:-3])
    word = int.from_bytes(body[3:6], "big")
    word = (word & 0xFFF000) | station_id
    body[3:6] = word.to_bytes(3, "big")
    return with_crc(bytes(body))


def msg_type(frame: bytes) -> int:
    return (frame[3] << 4) | (frame[4] >> 4)


def shift_arp_x(frame: bytes, metres: float) -> bytes:
    """A 1005 with its ECEF X (DF025: 38-bit signed, 0.1 mm, payload bit 34) moved."""
    payload = int.from_bytes(frame[3:-3], "big")
    n = (len(frame) - 6) * 8
    shift = n - 34 - 38
    field = (payload >> shift) & ((1 << 38) - 1)
    value = field - (1 << 38) if field >> 37 else field
    value += round(metres * 10_000)
    payload = (payload & ~(((1 << 38) - 1) << shift)) | ((value & ((1 << 38) - 1)) << shift)
    return with_crc(frame[:3] + payload.to_bytes(n // 8, "big"))


def test_a_base_changing_station_restarts_the_filter_and_waits_for_its_arp(
    frames: list[bytes], arp: F64
) -> None:
    old = decode_station(frames)
    new = (old + 1) % 4096
    half = len(frames) // 2
    held = 0
    base_frames: list[bytes] = []
    for k, f in enumerate(frames):
        if k < half:
            base_frames.append(f)
            continue
        if msg_type(f) == 1005 and held < 3:  # the new station's first three ARPs are lost
            held += 1
            base_frames.append(b"")
            continue
        base_frames.append(restamp(f, new))
    live = LiveRtk(KINEMATIC)
    fixes = run(live, frames, base_frames)
    assert live.base_switches == 1
    stations = [f.station_id for f in fixes]
    first_new = stations.index(str(new))
    before, after = fixes[:first_new], fixes[first_new:]
    assert {f.station_id for f in before if f.quality != 1} == {str(old)}
    # between the switch and the new ARP: single point only, never the old base's position
    gap = [f for f in before if f.quality == 1 and f.time and f.time > fixes[0].time]
    assert len(gap) >= 2
    assert {f.station_id for f in after} == {str(new)} and after[-1].quality == 4
    assert np.abs(enu_error_m([f for f in after if f.quality == 4], arp)).max() < 0.005


def test_same_station_id_at_another_place_is_another_base(frames: list[bytes], arp: F64) -> None:
    """Two bases with the same id (0 is a common default): the second one's 1005 is 2 m away in
    X. The filter must start over on it - a zero baseline then sits on the new ARP - instead of
    double-differencing against the old position."""
    half = len(frames) // 2
    base_frames = frames[:half] + [shift_arp_x(f, 2.0) if msg_type(f) == 1005 else f for f in frames[half:]]
    live = LiveRtk(KINEMATIC)
    fixes = run(live, frames, base_frames)
    assert live.base_switches == 1
    moved = arp + np.array([2.0, 0.0, 0.0])
    err_old = enu_error_m(fixes, arp)
    err_new = enu_error_m(fixes, moved)
    on_old = np.linalg.norm(err_old, axis=1) < 0.005
    on_new = np.linalg.norm(err_new, axis=1) < 0.005
    fixed = np.array([f.quality == 4 for f in fixes])
    assert np.all(on_old[fixed] | on_new[fixed])  # every fixed position on one of the two ARPs
    k = int(np.argmax(on_new))
    assert on_old[:k][fixed[:k]].all() and on_new[k:][fixed[k:]].all() and fixes[-1].quality == 4


def test_a_station_change_inside_an_epoch_splits_it(frames: list[bytes]) -> None:
    old = decode_station(frames)
    # from the 3rd MSM of some epoch on, another station id
    msm_idx = [k for k, f in enumerate(frames) if 1070 <= msg_type(f) <= 1137]
    cut = msm_idx[len(msm_idx) // 2 + 2]
    base_frames = frames[:cut] + [restamp(f, old + 7) for f in frames[cut:]]
    live = LiveRtk(KINEMATIC)
    seen: list[set[int]] = []
    on_epoch = live.base.on_epoch
    live.base.on_epoch = lambda epoch: (seen.append({m.station_id for m in epoch}), on_epoch(epoch))  # type: ignore[func-returns-value]
    run(live, frames, base_frames)
    assert all(len(ids) == 1 for ids in seen)  # no epoch holds two stations' messages
    assert live.base_switches == 1


async def test_worker_pool_gives_the_in_process_answers(frames: list[bytes]) -> None:
    reference = run(LiveRtk(KINEMATIC), frames)
    pool = RtkPool(2)
    pool.start()
    try:
        for name in ("a", "b"):
            pool.open(name, SessionSpec(KINEMATIC))
        got: dict[str, list[PositionFix]] = {"a": [], "b": []}
        for f in frames:
            for name in ("a", "b"):
                pool.base(name, f)
            answers = await asyncio.gather(pool.rover("a", f), pool.rover("b", f))
            for name, answer in zip(("a", "b"), answers, strict=True):
                assert answer.error is None
                got[name] += answer.fixes
        for name in ("a", "b"):
            got[name] += (await pool.flush(name)).fixes
        assert got["a"] == got["b"] == reference
        assert {len(w.sessions) for w in pool._workers} == {1}  # one session per worker
        # a dead worker is replaced; its session starts over instead of hanging
        victim = pool._owner["a"]
        victim.process.kill()
        await asyncio.to_thread(victim.process.join, 5.0)
        for _ in range(100):  # its sentinel tells the pool at once
            if pool.restarts:
                break
            await asyncio.sleep(0.05)
        assert pool.restarts == 1 and victim.process.is_alive()
        answer = await pool.rover("a", frames[0])
        assert answer.error is None and answer.fixes == []  # a new, empty session
        pool.end("a")
        pool.end("b")
        assert pool.sessions == 0
    finally:
        await pool.close()
    assert (await pool.rover("b", frames[0])).error == "pool closed"


async def test_a_worker_dying_during_a_request_answers_it_at_once(frames: list[bytes]) -> None:
    """Killed while the request waits (the worker is still importing NumPy): the answer is
    "worker died" from its process sentinel, not the 10-minute timeout set here."""
    pool = RtkPool(1, answer_timeout_s=600.0)
    pool.start()
    try:
        pool.open("a", SessionSpec(KINEMATIC))
        asking = asyncio.create_task(pool.rover("a", b"".join(frames[:50])))
        await asyncio.sleep(0)
        pool._owner["a"].process.kill()
        answer = await asyncio.wait_for(asking, 60)
        assert answer.error == "worker died" and pool.restarts == 1
        again = await pool.rover("a", frames[0])
        assert again.error is None
    finally:
        await pool.close()
