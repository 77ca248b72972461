"""The receiver agent: read a receiver (serial port or TCP) and forward every byte to the platform's
receiver listener (``beidou gnss listen``), reconnecting on both sides.

A receiver keeps talking while the network is down: bytes read meanwhile are held (up to
``max_buffer``; the oldest are dropped and counted beyond that) and sent once the listener is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


class LoginRefused(Exception):
    """The listener refused the token: retrying will not help."""


@dataclass
class AgentStats:
    bytes_read: int = 0
    bytes_sent: int = 0
    bytes_dropped: int = 0
    connects: int = 0


async def serial_source(device: str, baud: int, opened: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    """A serial receiver (pyserial); reads run in a thread so the loop stays free. ``device`` is a
    port (``/dev/ttyUSB0``, ``COM3``) or a pyserial URL (``rfc2217://host:port``)."""
    import serial  # the agent's only hardware dependency, imported where it is needed

    port = serial.serial_for_url(device, baudrate=baud, timeout=0.2)  # opening flushes its input
    log.info("receiver_port_open", device=device, baud=baud)
    if opened is not None:
        opened.set()
    try:
        while True:
            data = await asyncio.to_thread(port.read, 4096)
            if data:
                yield data
    finally:
        port.close()


async def tcp_source(host: str, port: int, *, retry_s: float = 2.0) -> AsyncIterator[bytes]:
    """A receiver that serves its output on a TCP port (most network receivers can)."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            log.warning("receiver_unreachable", host=host, port=port, error=str(exc))
            await asyncio.sleep(retry_s)
            continue
        try:
            while data := await reader.read(65536):
                yield data
        except ConnectionError:
            pass
        finally:
            writer.close()
        log.warning("receiver_disconnected", host=host, port=port)
        await asyncio.sleep(retry_s)


Connect = Callable[[], Awaitable[asyncio.StreamWriter]]


async def listener_login(host: str, port: int, token: str) -> asyncio.StreamWriter:
    """Open a connection to the receiver listener and log in with the device token."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(token.encode() + b"\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), 10)
    if not answer.startswith(b"OK"):
        writer.close()
        raise LoginRefused(answer.decode(errors="replace").strip() or "closed")
    return writer


class Forwarder:
    """Bytes in, bytes out to a server that may come and go: a bounded buffer and a sender that
    reconnects with exponential backoff. ``connect`` opens and logs in (the receiver listener, an
    NTRIP caster mount...); ``encode`` frames each piece for the wire (e.g. HTTP chunks)."""

    def __init__(
        self,
        connect: Connect,
        *,
        encode: Callable[[bytes], bytes] = bytes,
        max_buffer: int = 4 << 20,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.connect = connect
        self.encode = encode
        self.max_buffer = max_buffer
        self.backoff_max_s = backoff_max_s
        self.stats = AgentStats()
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self._done = False

    def put(self, data: bytes) -> None:
        self.stats.bytes_read += len(data)
        self._queue.append(data)
        self._queued += len(data)
        while self._queued > self.max_buffer and len(self._queue) > 1:
            dropped = self._queue.popleft()
            self._queued -= len(dropped)
            self.stats.bytes_dropped += len(dropped)
        self._ready.set()

    def close(self) -> None:
        self._done = True
        self._ready.set()

    async def run(self) -> None:
        """Send until closed and drained; reconnect with exponential backoff."""
        backoff = 0.5
        while not (self._done and not self._queue):
            try:
                writer = await self.connect()
                self.stats.connects += 1
                backoff = 0.5
                await self._pump(writer)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            except LoginRefused:
                raise
            except (OSError, TimeoutError) as exc:
                log.warning("server_unreachable", error=str(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        while True:
            while self._queue:
                data = self._queue[0]
                writer.write(self.encode(data))
                await writer.drain()  # raises on a broken connection: the chunk stays queued
                self._queue.popleft()
                self._queued -= len(data)
                self.stats.bytes_sent += len(data)
            if self._done:
                return
            self._ready.clear()
            await self._ready.wait()


async def forward(source: AsyncIterator[bytes], host: str, port: int, token: str) -> AgentStats:
    """Read ``source`` to its end (a file replay) or forever (a receiver), forwarding every byte
    to the receiver listener."""
    return await relay(source, Forwarder(lambda: listener_login(host, port, token)))


async def relay(source: AsyncIterator[bytes], forwarder: Forwarder) -> AgentStats:
    """Feed a forwarder from a source until the source ends and everything is sent."""
    sender = asyncio.create_task(forwarder.run())
    try:
        async for data in source:
            forwarder.put(data)
            if sender.done():
                break
        forwarder.close()
        await sender
    finally:
        if not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    return forwarder.stats
