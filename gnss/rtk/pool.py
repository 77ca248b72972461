"""Worker processes for live RTK: the filter's arithmetic never runs in an event loop.

A rover session's state (its Kalman filter, its epochs, its navigation data) lives in exactly one
worker process, for the whole session: the pool pins each session to the worker with the fewest
sessions when it opens. Requests go to that worker through its own queue, so a session's base
bytes and rover bytes are applied in the order they were handed over; answers (the fixes of a
rover chunk) come back on one shared queue, read by a thread that hands them to the event loop.

Processes are started with ``spawn``: the parent runs an event loop and threads, and forking
those is undefined behaviour. BLAS is held to one thread per worker (see
:func:`gnss.rtk.solve.solve_epochs`), so N workers use N cores.

A failing session (an exception in the engine) is reported, logged and started over inside the
worker; the other sessions of that worker go on. A worker that dies (killed, out of memory) is
restarted, its sessions reopened empty, and their pending requests answered with no fixes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing as mp
import threading
import traceback
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, Final

import numpy as np
import structlog
from numpy.typing import NDArray

from gnss.fixes import PositionFix
from gnss.rtk.options import RtkOptions

__all__ = ["Answer", "RtkPool", "SessionSpec", "ecef_tuple"]

log = structlog.get_logger(__name__)

ANSWER_TIMEOUT_S: Final = 30.0
_STOP: Final = ("stop", "", 0, None)


@dataclass(frozen=True, slots=True)
class SessionSpec:
    options: RtkOptions
    base_ecef_m: tuple[float, float, float] | None = None
    approx_time: str | None = None  # ISO time, for recorded streams (GPS week resolution)


@dataclass(frozen=True, slots=True)
class Answer:
    fixes: list[PositionFix]
    error: str | None = None
    gga: str | None = None  # the latest fix's GGA sentence
    stats: dict[str, int] = field(default_factory=dict)


def _worker_main(requests: Any, answers: Any) -> None:
    """One worker's loop: sessions by id, requests in order, fixes out."""
    from gnss.rtk.live import LiveRtk  # the engine's imports happen in the worker only

    sessions: dict[str, tuple[LiveRtk, SessionSpec]] = {}

    def make(spec: SessionSpec) -> LiveRtk:
        base = None if spec.base_ecef_m is None else np.asarray(spec.base_ecef_m, dtype=np.float64)
        approx = None if spec.approx_time is None else np.datetime64(spec.approx_time, "ns")
        return LiveRtk(spec.options, base_ecef_m=base, approx_time=approx)

    while True:
        kind, session, seq, payload = requests.get()
        if kind == "stop":
            return
        if kind == "open":
            sessions[session] = (make(payload), payload)
            continue
        if kind == "end":
            sessions.pop(session, None)
            continue
        entry = sessions.get(session)
        if entry is None:
            if seq:
                answers.put((seq, Answer([], error=f"no session {session}")))
            continue
        live, spec = entry
        try:
            if kind == "base":
                live.feed_base(payload)
            else:
                fixes = live.feed_rover(payload) if kind == "rover" else live.flush_rover()
                stats = {
                    "solved": live.solved,
                    "unsolved": live.unsolved,
                    "base_switches": live.base_switches,
                }
                answers.put((seq, Answer(fixes, gga=live.last_gga, stats=stats)))
        except Exception:  # one rover's bad stream must not take down its worker
            sessions[session] = (make(spec), spec)
            if seq:
                answers.put((seq, Answer([], error=traceback.format_exc(limit=5))))


@dataclass
class _Worker:
    process: BaseProcess
    requests: Any
    sessions: set[str] = field(default_factory=set)


class RtkPool:
    """``start()`` inside the event loop, ``open``/``base``/``rover``/``end`` per session, ``close()``."""

    def __init__(self, workers: int = 1, *, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.n_workers = workers
        self.answer_timeout_s = answer_timeout_s
        self._ctx = mp.get_context("spawn")
        self._answers: Any = None
        self._workers: list[_Worker] = []
        self._owner: dict[str, _Worker] = {}
        self._specs: dict[str, SessionSpec] = {}
        self._pending: dict[int, tuple[asyncio.Future[Answer], str]] = {}
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self.errors = 0
        self.restarts = 0

    @property
    def sessions(self) -> int:
        return len(self._owner)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._answers = self._ctx.Queue()
        self._workers = [self._spawn() for _ in range(self.n_workers)]
        self._reader = threading.Thread(target=self._read_answers, name="rtk-answers", daemon=True)
        self._reader.start()

    def _spawn(self) -> _Worker:
        requests = self._ctx.Queue()
        process = self._ctx.Process(target=_worker_main, args=(requests, self._answers), daemon=True)
        process.start()
        return _Worker(process, requests)

    async def close(self) -> None:
        for worker in self._workers:
            worker.requests.put(_STOP)
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5.0)
            if worker.process.is_alive():
                worker.process.kill()
        if self._answers is not None:
            self._answers.put(None)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5.0)
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_result(Answer([], error="pool closed"))
        self._pending.clear()
        self._workers = []

    # --- sessions --------------------------------------------------------------------------

    def open(self, session: str, spec: SessionSpec) -> None:
        if session in self._owner:
            raise ValueError(f"session {session} is open")
        worker = min(self._workers, key=lambda w: len(w.sessions))
        worker.sessions.add(session)
        self._owner[session] = worker
        self._specs[session] = spec
        worker.requests.put(("open", session, 0, spec))

    def base(self, session: str, data: bytes) -> None:
        """The base's bytes for this session; applied before any rover bytes handed over later."""
        self._owner[session].requests.put(("base", session, 0, bytes(data)))

    async def rover(self, session: str, data: bytes) -> Answer:
        return await self._ask(session, "rover", bytes(data))

    async def flush(self, session: str) -> Answer:
        """End of the rover's stream: its last, unfinished epoch is solved as it is."""
        return await self._ask(session, "flush", None)

    def end(self, session: str) -> None:
        worker = self._owner.pop(session, None)
        self._specs.pop(session, None)
        if worker is not None:
            worker.sessions.discard(session)
            worker.requests.put(("end", session, 0, None))

    async def _ask(self, session: str, kind: str, payload: bytes | None) -> Answer:
        assert self._loop is not None, "start() the pool first"
        worker = self._owner[session]
        if not worker.process.is_alive():
            self._restart(worker)
        seq = next(self._seq)
        fut: asyncio.Future[Answer] = self._loop.create_future()
        self._pending[seq] = (fut, session)
        worker.requests.put((kind, session, seq, payload))
        try:
            answer = await asyncio.wait_for(fut, self.answer_timeout_s)
        except TimeoutError:
            answer = Answer([], error="no answer from the worker")
        finally:
            self._pending.pop(seq, None)
        if answer.error is not None:
            self.errors += 1
            log.warning("rtk_session_error", session=session, error=answer.error)
        return answer

    def _restart(self, worker: _Worker) -> None:
        """A dead worker: a new process in its place, its sessions reopened (empty)."""
        self.restarts += 1
        log.error("rtk_worker_died", exitcode=worker.process.exitcode, sessions=len(worker.sessions))
        fresh = self._spawn()
        worker.process, worker.requests = fresh.process, fresh.requests
        for session in worker.sessions:
            worker.requests.put(("open", session, 0, self._specs[session]))
        for seq, (fut, session) in list(self._pending.items()):
            if session in worker.sessions and not fut.done():
                fut.set_result(Answer([], error="worker restarted"))
                self._pending.pop(seq, None)

    def _read_answers(self) -> None:
        assert self._loop is not None
        while True:
            try:
                item = self._answers.get()
            except (EOFError, OSError):
                return
            if item is None:
                return
            seq, answer = item
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                self._loop.call_soon_threadsafe(self._resolve, seq, answer)

    def _resolve(self, seq: int, answer: Answer) -> None:
        entry = self._pending.get(seq)
        if entry is not None and not entry[0].done():
            entry[0].set_result(answer)


def ecef_tuple(a: NDArray[np.float64] | None) -> tuple[float, float, float] | None:
    return None if a is None else (float(a[0]), float(a[1]), float(a[2]))
