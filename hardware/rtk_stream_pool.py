"""The listener's side of cloud RTK over Redis streams (see :mod:`hardware.rtk_stream` for the
keys, the workers and the takeover)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pickle
import uuid
from typing import Any

import redis.asyncio as aioredis
import structlog

from gnss.fixes import PositionFix
from gnss.rtk.pool import Answer, RtkPool, SessionSpec
from hardware.rtk_stream import ANSWER_TIMEOUT_S, GROUP, Keys

__all__ = ["RedisRtkPool", "make_pool"]

log = structlog.get_logger(__name__)


class RedisRtkPool:
    """:class:`gnss.rtk.pool.RtkPool`'s methods over Redis streams: ``start()`` in the event
    loop, ``open``/``base``/``base_reset``/``rover``/``flush``/``end`` per session, ``close()``.
    The synchronous methods queue their command; one writer task sends them in order."""

    def __init__(self, url: str, *, prefix: str = "rtk:", answer_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.url = url
        self.keys = Keys(prefix)
        self.name = uuid.uuid4().hex[:12]
        self.answer_timeout_s = answer_timeout_s
        self._redis: Any = None  # aioredis.Redis
        self._outbox: asyncio.Queue[tuple[str, str, int, bytes | SessionSpec | None]] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._open: set[str] = set()
        self._seq = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.errors = 0
        self.restarts = 0  # (the workers' business here: takeovers show as answering workers)
        self.duplicates = 0  # epochs solved again after a takeover, not stored or answered twice
        self.answered_by: dict[str, str] = {}  # session -> the worker that answered last

    @property
    def sessions(self) -> int:
        return len(self._open)

    def start(self) -> None:
        self._redis = aioredis.Redis.from_url(self.url)
        self._tasks = [asyncio.create_task(self._write()), asyncio.create_task(self._read())]

    async def close(self) -> None:
        self._closed = True
        for session in list(self._open):
            self.end(session)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outbox.join(), 5.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result(Answer([], error="pool closed"))
        self._pending.clear()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.delete(self.keys.answers(self.name))
            await self._redis.aclose()

    def open(self, session: str, spec: SessionSpec) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")
        if session in self._open:
            raise ValueError(f"session {session} is open")
        self._open.add(session)
        self._outbox.put_nowait(("open", session, 0, spec))

    def base(self, session: str, data: bytes) -> None:
        if session in self._open:
            self._outbox.put_nowait(("base", session, 0, bytes(data)))

    def base_reset(self, session: str) -> None:
        if session in self._open:
            self._outbox.put_nowait(("base_reset", session, 0, None))

    async def rover(self, session: str, data: bytes) -> Answer:
        return await self._ask(session, "rover", bytes(data))

    async def flush(self, session: str) -> Answer:
        return await self._ask(session, "flush", None)

    def end(self, session: str) -> None:
        if session in self._open:
            self._open.discard(session)
            self._outbox.put_nowait(("end", session, 0, None))

    async def _ask(self, session: str, kind: str, payload: bytes | None) -> Answer:
        if self._closed or session not in self._open:
            return Answer([], error="pool closed" if self._closed else f"no session {session}")
        seq = next(self._seq)
        fut: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[seq] = fut
        self._outbox.put_nowait((kind, session, seq, payload))
        try:
            answer = await asyncio.wait_for(fut, self.answer_timeout_s)
        except TimeoutError:
            answer = Answer([], error="no answer from any worker")
        finally:
            self._pending.pop(seq, None)
        if answer.error is not None:
            self.errors += 1
            log.warning("rtk_session_error", session=session, error=answer.error)
        return answer

    async def _write(self) -> None:
        """Commands to Redis in the order they were queued, in pipelined batches."""
        assert self._redis is not None
        keys = self.keys
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty() and len(batch) < 500:
                batch.append(self._outbox.get_nowait())
            try:
                pipe = self._redis.pipeline(transaction=False)
                for kind, session, seq, payload in batch:
                    if kind == "open":
                        pipe.set(keys.spec(session), pickle.dumps(payload))
                        pipe.xgroup_create(keys.stream(session), GROUP, id="0", mkstream=True)
                        pipe.sadd(keys.sessions, session)
                        continue
                    fields: dict[str, Any] = {"kind": kind, "seq": seq, "reply": self.name}
                    if isinstance(payload, bytes):
                        fields["data"] = payload
                    pipe.xadd(keys.stream(session), fields)
                    if kind == "end":
                        pipe.srem(keys.sessions, session)
                        pipe.delete(keys.spec(session))
                await pipe.execute(raise_on_error=False)
            except Exception:  # Redis away: these commands are lost, their askers time out
                log.exception("rtk_stream_write_failed", commands=len(batch))
            finally:
                for _ in batch:
                    self._outbox.task_done()

    async def _read(self) -> None:
        """Answers from the workers into the waiting requests."""
        assert self._redis is not None
        stream, last = self.keys.answers(self.name), "0-0"
        while True:
            try:
                got = await self._redis.xread({stream: last}, count=500, block=1000)
            except Exception:
                log.exception("rtk_stream_read_failed")
                await asyncio.sleep(0.5)
                continue
            for _, entries in got or []:
                for entry_id, fields in entries:
                    last = entry_id
                    self._answered(fields)
            if got:
                await self._redis.xtrim(stream, minid=last)

    def _answered(self, fields: list[tuple[bytes, bytes]] | dict[bytes, bytes]) -> None:
        items = fields.items() if isinstance(fields, dict) else fields
        fixes: list[PositionFix] = []
        head: dict[bytes, bytes] = {}
        for key, value in items:
            if key == b"fix":
                fixes.append(pickle.loads(value))
            else:
                head[key] = value
        session = head[b"session"].decode()
        self.answered_by[session] = head[b"worker"].decode()
        self.duplicates += int(head[b"dup"])
        fut = self._pending.get(int(head[b"seq"]))
        if fut is not None and not fut.done():
            answer: Answer = pickle.loads(head[b"answer"])
            fut.set_result(Answer(fixes, answer.error, answer.gga, answer.stats))


def make_pool(transport: str, workers: int, redis_url: str | None) -> RtkPool | RedisRtkPool:
    """The cloud RTK pool a deployment asked for (``BEIDOU_RTK_TRANSPORT``): ``local`` worker
    processes of this one, or ``redis`` streams read by workers anywhere."""
    if transport == "redis":
        if not redis_url:
            raise ValueError("BEIDOU_RTK_TRANSPORT=redis needs BEIDOU_RTK_REDIS_URL or BEIDOU_REDIS_URL")
        return RedisRtkPool(redis_url)
    return RtkPool(workers)
