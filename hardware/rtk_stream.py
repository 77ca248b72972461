"""Cloud RTK workers on any number of machines: rover sessions through Redis streams.

The in-process :class:`gnss.rtk.pool.RtkPool` (worker processes of one machine, fed through
multiprocessing queues) stays the embedded default. With ``BEIDOU_RTK_TRANSPORT=redis`` the
listener's side is :class:`hardware.rtk_stream_pool.RedisRtkPool` (the same methods) and the workers are
``python -m hardware.rtk_stream --redis URL`` processes, anywhere that reaches the Redis server.

Keys (``prefix`` default ``rtk:``), per session ``s``:

- ``in:s``       the session's stream: base bytes, base resets, rover bytes, flush, end - in
                 the order the listener handed them over. One consumer group (``workers``)
                 reads it, so Redis tracks what was delivered to whom (the pending list).
- ``owner:s``    the worker that holds the session: a lease (``SET NX PX``) renewed every
                 ``lease_s / 6``. Sticky: only the owner reads the session's stream, so one
                 filter sees all its epochs in order.
- ``spec:s``     the session's options (``SessionSpec``), ``sessions`` the set of open sessions.
- ``snap:s``     the engine pickled by its owner every ``snapshot_every_s``, with the stream id
                 it has applied up to.
- ``fixes:s``    the stored fixes, one field per epoch (ISO time): written with ``HSETNX``
                 together with the answer in one Lua script, so an epoch solved twice (a
                 replay after a takeover) is stored and answered once.
- ``out:d``      the answers stream of listener ``d``.

Takeover: a worker that dies (killed, its machine gone) stops renewing its leases; within
``lease_s`` (3 s) they expire and the next scan of another worker (every 0.5 s) claims each of
its sessions - the least loaded live worker first. The new owner restores the engine from the
snapshot (or, without one, starts a new one: the filter restarted), replays the session's
stream from the snapshot's id up to what the group had delivered to the dead worker, acknowledges
the dead worker's pending entries and reads on. Requests the dead worker had not answered are
answered by the replay; an epoch it had already stored is not stored or answered again.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Final

import redis
import structlog

from gnss.fixes import PositionFix
from gnss.rtk.pool import Answer, SessionSpec

__all__ = ["Keys", "StreamWorker", "main"]

log = structlog.get_logger(__name__)

GROUP: Final = "workers"
LEASE_S: Final = 3.0
SCAN_S: Final = 0.5
SNAPSHOT_EVERY_S: Final = 2.0
ANSWER_TIMEOUT_S: Final = 30.0
FIXES_TTL_S: Final = 3600  # the stored fixes of an ended session stay this long (late replays)

# KEYS: fixes hash, answers stream. ARGV: session, seq, worker, answer (fixes left out), then
# (epoch, fix) pairs. The fixes not stored yet are stored and answered; the others counted.
_STORE_AND_ANSWER: Final = """
local fields = {'session', ARGV[1], 'seq', ARGV[2], 'worker', ARGV[3], 'answer', ARGV[4]}
local dup = 0
for i = 5, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    table.insert(fields, 'fix')
    table.insert(fields, ARGV[i + 1])
  else
    dup = dup + 1
  end
end
table.insert(fields, 'dup')
table.insert(fields, tostring(dup))
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '100000', '*', unpack(fields))
return dup
"""
# KEYS: owner key. ARGV: worker, lease ms. Renew the lease only if it is still ours.
_RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "rtk:"

    @property
    def sessions(self) -> str:
        return self.prefix + "sessions"

    @property
    def workers(self) -> str:
        return self.prefix + "workers"

    def stream(self, s: str) -> str:
        return f"{self.prefix}in:{s}"

    def owner(self, s: str) -> str:
        return f"{self.prefix}owner:{s}"

    def spec(self, s: str) -> str:
        return f"{self.prefix}spec:{s}"

    def snapshot(self, s: str) -> str:
        return f"{self.prefix}snap:{s}"

    def fixes(self, s: str) -> str:
        return f"{self.prefix}fixes:{s}"

    def answers(self, listener: str) -> str:
        return f"{self.prefix}out:{listener}"


def _epoch_key(fix: PositionFix) -> str:
    return fix.time.isoformat() if fix.time is not None else f"tod:{fix.tod}"


# --- a worker ------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Held:
    live: Any  # gnss.rtk.live.LiveRtk
    spec: SessionSpec
    applied: str = "0-0"  # the stream id applied up to
    snapped: str = "0-0"  # ... at the last snapshot
    snap_due: float = 0.0
    base_error: str | None = None
    extra: dict[str, int] = field(default_factory=dict)


class StreamWorker:
    """One worker process: claims sessions, reads their streams, answers, snapshots."""

    def __init__(
        self,
        url: str,
        name: str | None = None,
        *,
        prefix: str = "rtk:",
        lease_s: float = LEASE_S,
        snapshot_every_s: float = SNAPSHOT_EVERY_S,
    ) -> None:
        self.r: Any = redis.Redis.from_url(url)  # (redis-py's reply types are unions of everything)
        self.name = name or f"{os.uname().nodename}-{os.getpid()}"
        self.keys = Keys(prefix)
        self.lease_ms = int(lease_s * 1000)
        self.beat_s = lease_s / 6.0
        self.snapshot_every_s = snapshot_every_s
        self.held: dict[str, _Held] = {}
        self.stopping = False
        self._store = self.r.register_script(_STORE_AND_ANSWER)
        self._renew = self.r.register_script(_RENEW)

    def run(self) -> None:
        import gnss.rtk.live  # noqa: F401  (the engine's imports, seconds, before the first lease)

        next_beat = next_scan = 0.0
        while not self.stopping:
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + self.beat_s
            if now >= next_scan:
                self._scan()
                next_scan = now + SCAN_S
            if not self.held:
                time.sleep(0.05)
                continue
            streams = {self.keys.stream(s): ">" for s in self.held}
            try:
                got = self.r.xreadgroup(GROUP, self.name, streams, count=20, block=100)
            except redis.ResponseError:  # a stream deleted under us (session ended): rescan
                got = []
            for stream, entries in got or []:
                session = stream.decode().removeprefix(self.keys.prefix + "in:")
                for entry_id, fields in entries:
                    self._apply(session, entry_id.decode(), fields)
            self._snapshots()
        self._leave()

    def _leave(self) -> None:
        """A stop asked for (SIGTERM): last snapshots, then the leases given up, so another
        worker takes the sessions at its next scan instead of after the lease."""
        for session, held in list(self.held.items()):
            state = pickle.dumps(held.live, protocol=pickle.HIGHEST_PROTOCOL)
            self.r.hset(self.keys.snapshot(session), mapping={"state": state, "id": held.applied})
            self.r.delete(self.keys.owner(session))
        self.held.clear()
        self.r.hdel(self.keys.workers, self.name)

    # -- ownership ---------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self.r.hset(self.keys.workers, self.name, str(time.time()))
        for session in list(self.held):
            if not self._renew(keys=[self.keys.owner(session)], args=[self.name, self.lease_ms]):
                log.warning("rtk_session_lost", session=session, worker=self.name)
                self.held.pop(session, None)  # someone else holds it now: let go

    def _scan(self) -> None:
        sessions = sorted(s.decode() for s in self.r.smembers(self.keys.sessions))
        if not sessions:
            return
        owners = self.r.mget([self.keys.owner(s) for s in sessions])
        free = [s for s, o in zip(sessions, owners, strict=True) if o is None and s not in self.held]
        if not free:
            return
        now = time.time()
        beats = {k.decode(): float(v) for k, v in self.r.hgetall(self.keys.workers).items()}
        alive = {w for w, t in beats.items() if now - t < self.lease_ms / 1000.0 and w != self.name}
        load = dict.fromkeys(alive, 0)
        for o in owners:
            if o is not None and o.decode() in load:
                load[o.decode()] += 1
        for session in free:
            if load and len(self.held) > min(load.values()):
                return  # a less loaded worker will take it
            if self.r.set(self.keys.owner(session), self.name, nx=True, px=self.lease_ms):
                self._take(session)

    def _take(self, session: str) -> None:
        """Claim: restore (or start) the engine, replay what the previous owner was given."""
        from gnss.rtk.live import LiveRtk

        k = self.keys
        raw_spec = self.r.get(k.spec(session))
        if raw_spec is None:  # ended meanwhile
            self.r.delete(k.owner(session))
            return
        spec: SessionSpec = pickle.loads(raw_spec)
        snap = self.r.hgetall(k.snapshot(session))
        restored = b"state" in snap
        if restored:
            held = _Held(pickle.loads(snap[b"state"]), spec, snap[b"id"].decode(), snap[b"id"].decode())
        else:
            held = _Held(_new_engine(LiveRtk, spec), spec)
        self.held[session] = held
        groups = {g["name"].decode(): g for g in self.r.xinfo_groups(k.stream(session))}
        delivered = groups[GROUP]["last-delivered-id"].decode()
        replayed = 0
        if delivered != "0-0":
            for entry_id, fields in self.r.xrange(k.stream(session), f"({held.applied}", delivered):
                self._apply(session, entry_id.decode(), fields, ack=False)
                replayed += 1
            pending = self.r.xpending_range(k.stream(session), GROUP, "-", delivered, 10_000)
            if pending:
                self.r.xack(k.stream(session), GROUP, *[p["message_id"] for p in pending])
        log.info("rtk_session_taken", session=session, worker=self.name, restored=restored, replayed=replayed)

    # -- work ----------------------------------------------------------------------------------

    def _apply(self, session: str, entry_id: str, fields: dict[bytes, bytes], *, ack: bool = True) -> None:
        from gnss.rtk.live import LiveRtk

        held = self.held.get(session)
        stream = self.keys.stream(session)
        kind = fields[b"kind"].decode()
        seq = int(fields[b"seq"])
        reply = fields[b"reply"].decode()
        if held is None:
            return
        if kind == "end":
            self._end(session)
            return
        live = held.live
        try:
            if kind == "base":
                live.feed_base(fields[b"data"])
            elif kind == "base_reset":
                live.reset_base()
            else:
                fixes = live.feed_rover(fields[b"data"]) if kind == "rover" else live.flush_rover()
                stats = {
                    "solved": live.solved,
                    "unsolved": live.unsolved,
                    "skipped": live.skipped,
                    "base_switches": live.base_switches,
                }
                error, held.base_error = held.base_error, None
                self._answer(session, seq, reply, Answer([], error, live.last_gga, stats), fixes)
        except Exception:  # one rover's bad stream must not take down its worker
            held.live = _new_engine(LiveRtk, held.spec)
            error = f"{kind}: " + traceback.format_exc(limit=5)
            if seq:
                self._answer(session, seq, reply, Answer([], error=error), [])
            else:
                held.base_error = error
        held.applied = entry_id
        if ack:
            self.r.xack(stream, GROUP, entry_id)

    def _answer(self, session: str, seq: int, reply: str, answer: Answer, fixes: list[PositionFix]) -> None:
        args: list[Any] = [session, seq, self.name, pickle.dumps(answer)]
        for fix in fixes:
            args += [_epoch_key(fix), pickle.dumps(fix)]
        self._store(keys=[self.keys.fixes(session), self.keys.answers(reply)], args=args)

    def _end(self, session: str) -> None:
        k = self.keys
        self.held.pop(session, None)
        pipe = self.r.pipeline()
        pipe.delete(k.stream(session), k.snapshot(session), k.owner(session))
        pipe.expire(k.fixes(session), FIXES_TTL_S)
        pipe.execute()

    def _snapshots(self) -> None:
        now = time.monotonic()
        for session, held in list(self.held.items()):
            if held.applied == held.snapped or now < held.snap_due:
                continue
            state = pickle.dumps(held.live, protocol=pickle.HIGHEST_PROTOCOL)
            self.r.hset(self.keys.snapshot(session), mapping={"state": state, "id": held.applied})
            held.snapped, held.snap_due = held.applied, now + self.snapshot_every_s


def _new_engine(cls: Any, spec: SessionSpec) -> Any:
    import numpy as np

    base = None if spec.base_ecef_m is None else np.asarray(spec.base_ecef_m, dtype=np.float64)
    approx = None if spec.approx_time is None else np.datetime64(spec.approx_time, "ns")
    return cls(spec.options, base_ecef_m=base, approx_time=approx)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="A cloud RTK worker reading rover sessions from Redis streams.")
    ap.add_argument(
        "--redis", default=os.environ.get("BEIDOU_RTK_REDIS_URL") or os.environ.get("BEIDOU_REDIS_URL")
    )
    ap.add_argument("--name", default=None, help="consumer name (default: host-pid)")
    ap.add_argument("--prefix", default="rtk:")
    ap.add_argument("--lease", type=float, default=LEASE_S, help="session lease, seconds")
    ap.add_argument("--snapshot-every", type=float, default=SNAPSHOT_EVERY_S)
    args = ap.parse_args(argv)
    if not args.redis:
        ap.error("--redis (or BEIDOU_RTK_REDIS_URL) is required")
    worker = StreamWorker(
        args.redis, args.name, prefix=args.prefix, lease_s=args.lease, snapshot_every_s=args.snapshot_every
    )

    def stop(*_: object) -> None:
        worker.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
