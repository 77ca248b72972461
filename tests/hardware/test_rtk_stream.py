"""Cloud RTK through Redis streams, against the real Redis: three worker processes on loopback,
one killed mid-run with SIGKILL; every rover session keeps getting fixes, the dead worker's
sessions are taken over within 5 s, and no epoch is stored (or answered) twice.

The rovers are the NovAtel OEM729 capture (Hiroshima, 2022-12-13) as both rover and base - a
zero baseline, fixed from the first epochs with a base - replayed at 5x its recorded pace. The
reference is the same bytes through one in-process engine (``LiveRtk``): the epochs it fixes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gnss.quality import FixQuality
from gnss.rtk.live import LiveRtk
from gnss.rtk.options import RtkOptions
from gnss.rtk.pool import SessionSpec
from hardware.gnss_replay import paced_chunks
from hardware.rtk_stream import Keys
from hardware.rtk_stream_pool import RedisRtkPool
from tests.support import REDIS_URL

ROOT = Path(__file__).parents[2]
CAPTURE = ROOT / "tests" / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
SPEED = 5.0  # the 60 s capture in 12 s
SESSIONS = 4
KILL_AFTER_S = 4.0
OPTIONS = RtkOptions(mode="kinematic", systems="GECJ", freqs=2)


def _reference_epochs(data: bytes) -> set[str]:
    live = LiveRtk(OPTIONS)
    fixes = []
    for piece in _pieces(data):
        live.feed_base(piece)
        fixes += live.feed_rover(piece)
    fixes += live.flush_rover()
    return {f.time.isoformat() for f in fixes if f.time is not None and f.quality == FixQuality.RTK_FIXED}


def _pieces(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.fixture
def redis_db() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"the test Redis at {REDIS_URL} is needed: {exc}")
    return client


@pytest.fixture
def stream_workers(redis_db: redis.Redis) -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    """Three worker processes on loopback under a key prefix of their own; gone afterwards."""
    prefix = f"test-rtk-{uuid.uuid4().hex[:8]}:"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hardware.rtk_stream",
                "--redis",
                REDIS_URL,
                "--name",
                name,
                "--prefix",
                prefix,
            ],
            cwd=ROOT,
            env=env,
        )
        for name in ("w1", "w2", "w3")
    }
    try:
        yield prefix, workers
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in workers.values():
            try:
                proc.wait(10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
        for key in redis_db.scan_iter(match=f"{prefix}*"):
            redis_db.delete(key)


async def test_three_workers_one_killed_every_session_keeps_fixing_once(
    redis_db: redis.Redis, stream_workers: tuple[str, dict[str, subprocess.Popen[bytes]]]
) -> None:
    prefix, workers = stream_workers
    keys = Keys(prefix)
    pool = RedisRtkPool(REDIS_URL, prefix=prefix, answer_timeout_s=20.0)
    pool.start()
    data = CAPTURE.read_bytes()
    sessions = [f"rover-{i}" for i in range(SESSIONS)]
    answers: dict[str, list[tuple[float, str, list[str], int]]] = {s: [] for s in sessions}
    killed: dict[str, float] = {}
    try:
        # the workers are up (each has beaten once) before the rovers push
        deadline = time.monotonic() + 30.0
        while redis_db.hlen(keys.workers) < 3:
            assert time.monotonic() < deadline, "the workers did not start"
            await asyncio.sleep(0.1)

        async def rover(session: str) -> None:
            pool.open(session, SessionSpec(OPTIONS))
            async for piece in paced_chunks(data, speed=SPEED):
                pool.base(session, piece)  # the base's bytes first, as a base ahead of its rover
                ans = await pool.rover(session, piece)
                assert ans.error is None, ans.error
                times = [f.time.isoformat() for f in ans.fixes if f.time is not None]
                fixed = sum(f.quality == FixQuality.RTK_FIXED for f in ans.fixes)
                answers[session].append((time.monotonic(), pool.answered_by.get(session, ""), times, fixed))
            ans = await pool.flush(session)
            times = [f.time.isoformat() for f in ans.fixes if f.time is not None]
            fixed = sum(f.quality == FixQuality.RTK_FIXED for f in ans.fixes)
            answers[session].append((time.monotonic(), pool.answered_by.get(session, ""), times, fixed))

        async def killer() -> None:
            await asyncio.sleep(KILL_AFTER_S)
            owners = {s: (redis_db.get(keys.owner(s)) or b"").decode() for s in sessions}
            victim = next(w for w in ("w1", "w2", "w3") if w in owners.values())
            workers[victim].send_signal(signal.SIGKILL)
            killed["at"] = time.monotonic()
            killed.update({s: 0.0 for s, w in owners.items() if w == victim})
            killed["victim"] = float(("w1", "w2", "w3").index(victim))

        await asyncio.gather(killer(), *(rover(s) for s in sessions))
        victim = ("w1", "w2", "w3")[int(killed["victim"])]
        assert workers[victim].wait(5.0) == -signal.SIGKILL
        # the three workers shared the sessions before the kill
        before = {a[1] for s in sessions for a in answers[s] if a[0] < killed["at"]}
        assert len(before) >= 2

        reference = _reference_epochs(data)
        assert len(reference) >= 50  # of the capture's 60 epochs
        t_kill = killed["at"]
        for s in sessions:
            got = [t for a in answers[s] for t in a[2]]
            assert len(got) == len(set(got)), f"{s}: an epoch answered twice"
            stored = {k.decode() for k in redis_db.hkeys(keys.fixes(s))}
            assert stored == set(got)  # stored once per rover + epoch, what was answered
            fixed_epochs = {t for a in answers[s] if a[3] for t in a[2]}
            assert len(fixed_epochs & reference) >= len(reference) - 3, s  # the fixes of one engine
            after = [a for a in answers[s] if a[0] > t_kill + 5.0]
            assert sum(a[3] for a in after) >= 10, f"{s}: no fixes after the kill"
            if s in killed:  # a dead worker's session: another worker answers within 5 s
                first = next(a for a in answers[s] if a[0] > t_kill and a[1] != victim)
                assert first[0] - t_kill < 5.0, f"{s}: takeover took {first[0] - t_kill:.1f} s"
                assert all(a[1] != victim for a in answers[s] if a[0] > first[0])
        assert sum(1 for s in sessions if s in killed) >= 1
    finally:
        await pool.close()
