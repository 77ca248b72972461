"""Worker processes for live RTK: the filter's arithmetic never runs in an event loop.

A rover session's state (its Kalman filter, its epochs, its navigation data) lives in exactly one
worker process, for the whole session: the pool pins each session to the worker with the fewest
sessions when it opens. Requests go to that worker through its own queue, so a session's base
bytes and rover bytes are applied in the order they were handed over; each worker answers on its
own pipe (a worker that dies mid-write can corrupt only its own), read by one thread that hands
the answers to the event loop.

Processes are started with ``spawn``: the parent runs an event loop and threads, and forking
those is undefined behaviour. BLAS is held to one thread per worker (see
:func:`gnss.rtk.solve.solve_epochs`), so N workers use N cores.

Failures, and what they cost:

- an exception in one session's engine: that session starts over inside the worker (reported
  with the request's answer, or with the next answer for base bytes); its worker's other
  sessions go on;
- a worker that dies (killed, out of memory): its process sentinel wakes the reader thread, the
  worker is replaced at once, its sessions reopened empty and their pending requests answered
  "worker died" - nobody waits for a timeout;
- a worker that hangs: a request unanswered for ``answer_timeout_s`` kills it, which is the case
  above;
- after :meth:`RtkPool.close`, requests are answered "pool closed" at once and bytes dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Final

import numpy as np
import structlog

from gnss.fixes import PositionFix
from gnss.rtk.options import RtkOptions

__all__ = ["Answer", "RtkPool", "SessionSpec"]

log = structlog.get_logger(__name__)

ANSWER_TIMEOUT_S: Final = 30.0
OWNER_CHECK_S: Final = 2.0  # how often an idle worker checks that its owner is alive
_STOP: Final = ("stop", "", 0, None)
_WAIT_S: Final = 0.5  # the reader thread's longest sleep (it re-reads the worker list after it)


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


def _worker_main(requests: Any, answers: Connection) -> None:
    """One worker's loop: sessions by id, requests in order, fixes out."""
    # Ctrl-C in a terminal (and a service manager's SIGTERM) reaches the whole process group: the
    # owner stops the workers in order (sessions flushed first), so a worker must not die of the
    # signal meant for the owner. It leaves by itself if the owner is gone (killed outright).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    owner = os.getppid()
    from gnss.rtk.live import LiveRtk  # the engine's imports happen in the worker only

    sessions: dict[str, tuple[LiveRtk, SessionSpec]] = {}
    base_errors: dict[str, str] = {}

    def make(spec: SessionSpec) -> LiveRtk:
        base = None if spec.base_ecef_m is None else np.asarray(spec.base_ecef_m, dtype=np.float64)
        approx = None if spec.approx_time is None else np.datetime64(spec.approx_time, "ns")
        return LiveRtk(spec.options, base_ecef_m=base, approx_time=approx)

    while True:
        try:
            kind, session, seq, payload = requests.get(timeout=OWNER_CHECK_S)
        except queue.Empty:
            if os.getppid() != owner:
                return
            continue
        if kind == "stop":
            return
        if kind == "open":
            sessions[session] = (make(payload), payload)
            continue
        if kind == "end":
            sessions.pop(session, None)
            base_errors.pop(session, None)
            continue
        entry = sessions.get(session)
        if entry is None:
            if seq:
                answers.send((seq, Answer([], error=f"no session {session}")))
            continue
        live, spec = entry
        try:
            if kind == "base":
                live.feed_base(payload)
            elif kind == "base_reset":
                live.reset_base()
            else:
                fixes = live.feed_rover(payload) if kind == "rover" else live.flush_rover()
                stats = {
                    "solved": live.solved,
                    "unsolved": live.unsolved,
                    "skipped": live.skipped,
                    "base_switches": live.base_switches,
                }
                answers.send((seq, Answer(fixes, base_errors.pop(session, None), live.last_gga, stats)))
        except Exception:  # one rover's bad stream must not take down its worker
            sessions[session] = (make(spec), spec)
            error = f"{kind}: " + traceback.format_exc(limit=5)
            if seq:
                answers.send((seq, Answer([], error=error)))
            else:
                base_errors[session] = error  # told with the session's next answer


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    requests: Any
    answers: Connection
    sessions: set[str] = field(default_factory=set)


class RtkPool:
    """``start()`` inside the event loop, ``open``/``base``/``rover``/``end`` per session, ``close()``."""

    def __init__(self, workers: int = 1, *, answer_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        if workers < 1:
            raise ValueError("at least one worker")
        self.n_workers = workers
        self.answer_timeout_s = answer_timeout_s
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._owner: dict[str, _Worker] = {}
        self._specs: dict[str, SessionSpec] = {}
        self._pending: dict[int, tuple[asyncio.Future[Answer], str]] = {}
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | None = None
        self._closed = False
        # answer pipes of replaced workers, closed by the reader thread itself: closed from the
        # loop while the reader still watches them, their fd numbers could be reused by the new
        # worker's pipes under the reader's eyes
        self._retired: list[Connection | BaseProcess] = []  # (a process's sentinel is an fd too)
        self.errors = 0
        self.restarts = 0

    @property
    def sessions(self) -> int:
        return len(self._owner)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._workers = [self._spawn() for _ in range(self.n_workers)]
        self._reader = threading.Thread(target=self._read_answers, name="rtk-answers", daemon=True)
        self._reader.start()

    def _spawn(self, sessions: set[str] | None = None) -> _Worker:
        requests = self._ctx.Queue()
        answers, answers_in = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=_worker_main, args=(requests, answers_in), daemon=True)
        process.start()
        answers_in.close()  # the worker's end: a dead worker then reads as EOF here
        return _Worker(process, requests, answers, sessions if sessions is not None else set())

    async def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.requests.put(_STOP)
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5.0)
            if worker.process.is_alive():
                worker.process.kill()
                await asyncio.to_thread(worker.process.join, 5.0)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5.0)
        for worker in self._workers:
            _discard(worker)
        for obj in self._retired:
            with contextlib.suppress(ValueError):
                obj.close()
        self._retired.clear()
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_result(Answer([], error="pool closed"))
        self._pending.clear()
        self._workers = []
        self._owner.clear()

    # --- sessions --------------------------------------------------------------------------

    def open(self, session: str, spec: SessionSpec) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")
        if session in self._owner:
            raise ValueError(f"session {session} is open")
        worker = min(self._workers, key=lambda w: len(w.sessions))
        worker.sessions.add(session)
        self._owner[session] = worker
        self._specs[session] = spec
        worker.requests.put(("open", session, 0, spec))

    def base(self, session: str, data: bytes) -> None:
        """The base's bytes for this session; applied before any rover bytes handed over later."""
        self._send(session, "base", bytes(data))

    def base_reset(self, session: str) -> None:
        """The session's base stream was (re)connected: what came before is of another stream."""
        self._send(session, "base_reset", None)

    def _send(self, session: str, kind: str, payload: bytes | None) -> None:
        worker = self._owner.get(session)
        if self._closed or worker is None or not worker.process.is_alive():
            return  # a dead worker's sessions start over when it is replaced: nothing to keep
        worker.requests.put((kind, session, 0, payload))

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
            if not self._closed:
                worker.requests.put(("end", session, 0, None))

    async def _ask(self, session: str, kind: str, payload: bytes | None) -> Answer:
        assert self._loop is not None, "start() the pool first"
        worker = self._owner.get(session)
        if self._closed or worker is None:
            return Answer([], error="pool closed" if self._closed else f"no session {session}")
        seq = next(self._seq)
        fut: asyncio.Future[Answer] = self._loop.create_future()
        self._pending[seq] = (fut, session)
        worker.requests.put((kind, session, seq, payload))
        try:
            answer = await asyncio.wait_for(fut, self.answer_timeout_s)
        except TimeoutError:
            answer = Answer([], error="no answer from the worker: killed, to be replaced")
            if worker.process.is_alive():
                worker.process.kill()  # hung: its sentinel brings the replacement
        finally:
            self._pending.pop(seq, None)
        if answer.error is not None:
            self.errors += 1
            log.warning("rtk_session_error", session=session, error=answer.error)
        return answer

    # --- the reader thread and worker deaths ----------------------------------------------------

    def _read_answers(self) -> None:
        """Answers from every worker's pipe, and the deaths of workers, into the event loop."""
        assert self._loop is not None
        reported: set[BaseProcess] = set()  # processes whose death was reported
        while not self._closed:
            try:
                self._read_once(reported)
            except Exception:  # the thread must outlive any surprise, or every answer is lost
                log.exception("rtk_reader_error")
                time.sleep(_WAIT_S)

    def _read_once(self, reported: set[BaseProcess]) -> None:
        while self._retired:
            with contextlib.suppress(ValueError):  # (a process object still running)
                self._retired.pop().close()
        workers = list(self._workers)
        reported &= {w.process for w in workers}  # (objects, not pids: pids are reused)
        conns = {w.answers: w for w in workers}
        sentinels = {w.process.sentinel: w for w in workers if w.process not in reported}
        try:
            ready = wait([*conns, *sentinels], _WAIT_S)
        except (OSError, ValueError):  # something closed while we looked at it: look again
            return
        for obj in ready:
            if obj in conns:
                self._receive(obj)
            elif isinstance(obj, int) and obj in sentinels:
                worker = sentinels[obj]
                reported.add(worker.process)
                self._call(self._worker_died, worker, worker.process)

    def _receive(self, conn: Connection) -> None:
        try:
            while conn.poll():
                seq, answer = conn.recv()
                self._call(self._resolve, seq, answer)
        except (EOFError, OSError):
            return  # its worker is gone; the sentinel tells
        except Exception:  # an answer that does not unpickle: lose it, keep the others
            log.exception("rtk_answer_unreadable")

    def _call(self, fn: Any, *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop has closed
            self._closed = True

    def _resolve(self, seq: int, answer: Answer) -> None:
        entry = self._pending.get(seq)
        if entry is not None and not entry[0].done():
            entry[0].set_result(answer)

    def _worker_died(self, worker: _Worker, process: BaseProcess) -> None:
        """(In the event loop.) Replace a dead worker: new process, queue and pipe; its sessions
        reopened empty; their pending requests answered now. Its sentinel said so: the process
        may not be reaped yet (its pipes close before it becomes a zombie), so it is joined."""
        if self._closed or worker not in self._workers or worker.process is not process:
            return
        process.join(1.0)
        self.restarts += 1
        log.error("rtk_worker_died", exitcode=worker.process.exitcode, sessions=len(worker.sessions))
        try:
            fresh = self._spawn(worker.sessions)
        except OSError:  # no process today (descriptors, memory): requests fail until one can start
            log.exception("rtk_worker_restart_failed")
            assert self._loop is not None
            self._loop.call_later(1.0, self._worker_died, worker, process)
            return
        _discard(worker, close_answers=False)
        old_answers = worker.answers
        worker.process, worker.requests, worker.answers = fresh.process, fresh.requests, fresh.answers
        self._retired += [old_answers, process]  # the reader closes them once it has moved on
        for session in worker.sessions:
            worker.requests.put(("open", session, 0, self._specs[session]))
        for fut, session in list(self._pending.values()):
            if session in worker.sessions and not fut.done():
                fut.set_result(Answer([], error="worker died"))


def _discard(worker: _Worker, *, close_answers: bool = True) -> None:
    """Let go of a worker's queue and pipe without waiting on them: a queue whose reader is dead
    must not block the interpreter's exit flushing what it still holds."""
    worker.requests.cancel_join_thread()
    worker.requests.close()
    if close_answers:
        worker.answers.close()
