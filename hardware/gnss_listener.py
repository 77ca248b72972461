"""TCP listener for receivers that can only open a socket (``beidou gnss listen --port``).

Protocol: the first line is the device token (``gnss_receiver``); the listener answers ``OK`` or
``ERROR <reason>`` and closes. Then raw receiver output - NMEA, RTCM 3, UBX, noise - flows as it
comes. A rover that can only speak NTRIP uploads the same way as a base station does to a caster
(``SOURCE <token> /<any mount>`` for NTRIP 1.0, or ``POST /<mount>`` with the token as the Basic
password, chunked or not, for 2.0); the mount name is not used.

With cloud RTK on (``rtk``), a stream that carries RTCM is solved by the platform
(:mod:`hardware.cloud_rtk`): its frames go to the rover's RTK session and the fixes that come back
are stored like NMEA fixes.

Fixes are committed in batches (every ``batch_s`` or when the connection ends); a batch already
committed is never lost, and a resend after a reconnect stores nothing twice (one point
per receiver and second; occupancy evidence keyed by its stay).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from core.errors import DomainError
from core.live import LiveStore
from core.settings import Settings
from gnss.fixes import FixAssembler, PositionFix
from gnss.framer import StreamFramer
from gnss.ntrip import replies
from gnss.ntrip.protocol import BadRequest, ChunkDecoder, parse_head
from gnss.rtcm.framing import RtcmFrame
from hardware.cloud_rtk import CloudRtk, RoverLink
from parking.availability.service import LiveAvailability
from parking.identity import service as identity
from parking.identity.access import TokenCache, authenticate
from parking.tracks.service import IngestResult, PositionTracker, Receiver, ingest_fixes, receiver_of
from parking.unit import unit_of_work

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger(__name__)

MAX_TOKEN_LINE = 512
NTRIP_UPLOAD = (b"SOURCE ", b"POST ")
MAX_HEAD_LINES = 32


@dataclass(frozen=True, slots=True)
class Login:
    receiver: Receiver
    chunked: bool = False  # an NTRIP 2.0 upload with chunked transfer encoding


@dataclass
class ListenerStats:
    connections: int = 0
    finished: int = 0  # connections whose last batch is committed
    refused: int = 0
    bytes_in: int = 0
    fixes: int = 0
    stored: int = 0


class ReceiverListener:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        store: LiveStore,
        *,
        batch_s: float = 1.0,
        idle_timeout_s: float = 120.0,
        login_timeout_s: float = 10.0,
        rtk: CloudRtk | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.store = store
        self.live = LiveAvailability(store)
        self.tracker = PositionTracker()
        self.tokens = TokenCache()
        self.batch_s = batch_s
        self.idle_timeout_s = idle_timeout_s
        self.login_timeout_s = login_timeout_s
        self.stats = ListenerStats()
        self.rtk = rtk
        self._connections: dict[asyncio.Task[object], asyncio.StreamWriter] = {}
        self._lock = asyncio.Lock()  # one receiver's batch at a time through the shared tracker

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, limit=MAX_TOKEN_LINE * 2)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        task = asyncio.current_task()
        if task is not None:
            self._connections[task] = writer
        try:
            login = await self._login(reader, writer)
            if login is None:
                return
            self.stats.connections += 1
            log.info("gnss_receiver_connected", receiver=str(login.receiver.id), peer=str(peer))
            await self._stream(login, reader)
            self.stats.finished += 1
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except Exception:  # a database or worker failure ends this connection, not the listener
            log.exception("gnss_receiver_failed", peer=str(peer))
        finally:
            if task is not None:
                self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self, grace_s: float = 10.0) -> None:
        """End every connection - before the RTK pool goes away. Each connection is cut at the
        socket, so its handler ends as on a hang-up: the last epoch solved, the last fixes
        committed. A handler still busy after ``grace_s`` is cancelled."""
        tasks = list(self._connections)
        for writer in list(self._connections.values()):
            writer.transport.abort()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _login(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Login | None:
        try:
            async with asyncio.timeout(self.login_timeout_s):
                line = await reader.readuntil(b"\n")
                ntrip = line.startswith(NTRIP_UPLOAD)
                head = [line]
                while ntrip and head[-1].strip():  # an NTRIP head ends with an empty line
                    if len(head) > MAX_HEAD_LINES:
                        raise asyncio.LimitOverrunError("NTRIP head too long", 0)
                    head.append(await reader.readuntil(b"\n"))
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
            await self._refuse(writer, "the first line must be the device token")
            return None
        if not ntrip:
            receiver = await self._receiver(line.strip().decode("ascii", "replace"), writer, None)
            return None if receiver is None else Login(receiver)
        try:
            request = parse_head(b"\r\n".join(h.rstrip(b"\r\n") for h in head[:-1]))
        except BadRequest as exc:
            self.stats.refused += 1
            log.info("gnss_receiver_bad_ntrip_head", error=str(exc))
            writer.write(replies.bad_request())
            return None
        receiver = await self._receiver(request.password or "", writer, request.version)
        if receiver is None:
            return None
        writer.write(replies.upload_accepted(request.version))
        await writer.drain()
        return Login(receiver, chunked=request.chunked)

    async def _receiver(self, token: str, writer: asyncio.StreamWriter, ntrip: int | None) -> Receiver | None:
        try:
            async with self.sessionmaker() as db:
                principal = await authenticate(
                    db, token, admin_token=self.settings.admin_token, cache=self.tokens
                )
            receiver = receiver_of(principal)
        except DomainError as exc:
            await self._refuse(writer, exc.detail, ntrip=ntrip)
            return None
        if ntrip is None:
            writer.write(replies.TOKEN_OK)
            await writer.drain()
        return receiver

    async def _refuse(self, writer: asyncio.StreamWriter, reason: str, ntrip: int | None = None) -> None:
        self.stats.refused += 1
        writer.write(replies.token_refused(reason) if ntrip is None else replies.source_refused(ntrip))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _stream(self, login: Login, reader: asyncio.StreamReader) -> None:
        framer, assembler = StreamFramer(), FixAssembler()
        chunks = ChunkDecoder() if login.chunked else None
        rover: RoverLink | None = None
        pending: list[PositionFix] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_s
        try:
            while True:
                timeout = max(0.0, min(self.idle_timeout_s, deadline - loop.time()))
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), timeout)
                except TimeoutError:
                    chunk = None
                    if loop.time() < deadline:  # idle for idle_timeout_s
                        break
                if chunk == b"":
                    break
                if chunk and chunks is not None:
                    try:
                        chunk = chunks.feed(chunk)
                    except BadRequest:
                        log.warning("gnss_receiver_bad_chunking", receiver=str(login.receiver.id))
                        break
                if chunk:
                    self.stats.bytes_in += len(chunk)
                    rtcm = bytearray()
                    for record in framer.feed(chunk):
                        if isinstance(record, RtcmFrame):
                            rtcm += record.raw
                        else:
                            pending += assembler.push(record)
                    if rtcm and self.rtk is not None:
                        rover = rover or self.rtk.open(str(login.receiver.id))
                        pending += await rover.feed(bytes(rtcm))
                if loop.time() >= deadline:
                    await self._commit(login.receiver, pending)
                    pending = []
                    deadline = loop.time() + self.batch_s
                if chunks is not None and chunks.done:  # the upload's last chunk
                    break
            for record in framer.flush():
                if not isinstance(record, RtcmFrame):
                    pending += assembler.push(record)
            pending += assembler.flush()
        finally:
            try:
                if rover is not None:
                    pending += await rover.close()
            finally:
                await self._commit(login.receiver, pending)  # what was accepted is kept

    async def _commit(self, receiver: Receiver, fixes: list[PositionFix]) -> None:
        if not fixes:
            return
        result = IngestResult()
        async with self._lock, unit_of_work(self.sessionmaker, self.settings, self.live) as ctx:
            await ingest_fixes(ctx, receiver, fixes, self.tracker, self.store, result)
            await identity.seen(ctx, receiver.id, vehicle=receiver.lot_id is None)
        self.stats.fixes += result.fixes
        self.stats.stored += result.stored
