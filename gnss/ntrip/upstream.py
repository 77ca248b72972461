"""Mirror a mountpoint of another caster (a commercial provider, a neighbouring network) and
re-serve it here under a local name.

``Upstream`` is an NTRIP client that never gives up: it pulls ``remote_mount`` (NTRIP 1.0, answered
``ICY 200 OK``, or 2.0, chunked), feeds every byte to ``Caster.ingest`` of the local mount (so the
local rovers get whole CRC-checked frames, byte for byte as the upstream sent them), and on any
failure - refused, unreachable, closed, silent for ``read_timeout_s`` - reconnects after an
exponential backoff with jitter, capped at ``max_backoff_s``, back to ``initial_backoff_s`` after a
connection that delivered frames.

The local mount is declared with ``Caster.add_local_mount`` when the ``Upstream`` is made, so it
is in the sourcetable (offline while the upstream is away). Local rovers authenticate as for any
mount: the caster asks its ``Accounts.client_allowed(local_mount, ...)``; with the database
accounts that is any NTRIP user whose mount list is unrestricted or names the local mount.

After ``ICY 200 OK`` an NTRIP 1.0 caster may or may not send header lines and a blank line before
the stream; whatever follows the status line goes to the RTCM framer, which skips non-frame bytes,
so both shapes work without guessing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import structlog

from gnss.ntrip.caster import Caster, Mount
from gnss.ntrip.protocol import BadRequest, ChunkDecoder
from gnss.ntrip.sourcetable import MountInfo
from gnss.rtcm.framing import RtcmFramer

log = structlog.get_logger(__name__)

USER_AGENT = "NTRIP beidou-mobility/1.0"


class UpstreamRefused(Exception):
    """The upstream caster answered, but not with a stream (401, unknown mount, ...)."""


@dataclass(frozen=True, slots=True)
class MirrorSpec:
    """``LOCAL=ntrip://user:pass@host:port/MOUNT`` as the CLI takes it (``ntrip1://`` for v1)."""

    local_mount: str
    host: str
    port: int
    remote_mount: str
    user: str | None
    password: str | None
    version: int = 2


@dataclass(frozen=True, slots=True)
class NtripUrl:
    """``ntrip://user:pass@host:port/MOUNT`` (``ntrip1://`` for NTRIP 1.0)."""

    host: str
    port: int
    mount: str
    user: str | None
    password: str | None
    version: int = 2


def parse_ntrip_url(url: str) -> NtripUrl:
    parts = urlsplit(url)
    if parts.scheme not in ("ntrip", "ntrip1", "ntrip2"):
        raise ValueError("the caster URL's scheme is ntrip:// (v2), ntrip2:// or ntrip1://")
    mount = parts.path.lstrip("/")
    if not parts.hostname or not mount or "/" in mount:
        raise ValueError("the caster URL needs a host and one mountpoint: ntrip://host:port/MOUNT")
    try:
        port = parts.port or 2101
    except ValueError as exc:
        raise ValueError("bad port in the caster URL") from exc
    return NtripUrl(
        host=parts.hostname,
        port=port,
        mount=mount,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        version=1 if parts.scheme == "ntrip1" else 2,
    )


def parse_mirror(text: str) -> MirrorSpec:
    local, sep, url = text.partition("=")
    if not sep or not local:
        raise ValueError("expected LOCAL=ntrip://user:pass@host:port/MOUNT")
    u = parse_ntrip_url(url)
    return MirrorSpec(local, u.host, u.port, u.mount, u.user, u.password, u.version)


def backoff_delay(
    failures: int, initial_s: float, max_s: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after ``failures`` consecutive failed attempts (0 for the first failure):
    ``initial_s * 2**failures`` capped at ``max_s``, times a jitter in [0.5, 1) so mirrors restarted
    together do not knock on the upstream at the same instant."""
    base = min(max_s, initial_s * (2.0 ** min(failures, 30)))
    return base * (0.5 + 0.5 * rand())


def request_head(
    host: str, port: int, mount: str, user: str | None, password: str | None, version: int, gga: str | None
) -> bytes:
    lines = [f"GET /{mount} HTTP/1.1" if version == 2 else f"GET /{mount} HTTP/1.0", f"Host: {host}:{port}"]
    if version == 2:
        lines.append("Ntrip-Version: Ntrip/2.0")
    lines.append(f"User-Agent: {USER_AGENT}")
    if user is not None or password is not None:
        token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode()
        lines.append(f"Authorization: Basic {token}")
    if version == 2 and gga:
        lines.append(f"Ntrip-GGA: {gga}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


GgaSource = str | Callable[[], str | None] | None


class NtripPull:
    """An NTRIP client that never gives up: pulls ``mount`` of the caster at ``host:port`` and hands
    every byte of the stream to :meth:`received`; subclasses say what that means.

    ``gga`` (a GGA sentence, or a function giving the latest one) is sent to casters that need the
    rover's position (VRS mounts, ``NEAREST``): as the ``Ntrip-GGA`` header (v2) and in-band
    every ``gga_every_s``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        mount: str,
        user: str | None = None,
        password: str | None = None,
        *,
        version: int = 2,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        read_timeout_s: float = 10.0,
        gga: GgaSource = None,
        gga_every_s: float = 10.0,
    ) -> None:
        if version not in (1, 2):
            raise ValueError("NTRIP version is 1 or 2")
        self.host, self.port, self.remote_mount = host, port, mount
        self.user, self.password, self.version = user, password, version
        self.initial_backoff_s, self.max_backoff_s = initial_backoff_s, max_backoff_s
        self.read_timeout_s = read_timeout_s
        self.gga, self.gga_every_s = gga, gga_every_s
        self.connects = 0  # streams opened (the first one and every reconnection)
        self.failures = 0  # consecutive failed attempts since the last productive connection
        self.bytes_in = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    # --- what a subclass does with the stream ---------------------------------------------------

    def opened(self) -> None:
        """The caster answered with a stream."""

    def received(self, data: bytes) -> None:
        raise NotImplementedError

    def closed(self) -> None:
        """The stream ended (whatever the reason)."""

    # --- the connection -------------------------------------------------------------------------

    def current_gga(self) -> str | None:
        return self.gga() if callable(self.gga) else self.gga

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """Pull forever: one session after another, with backoff in between."""
        log_ = log.bind(upstream=f"{self.host}:{self.port}/{self.remote_mount}")
        while True:
            bytes_before = self.bytes_in
            try:
                await self._session()
                self.last_error = "closed by upstream"
            except (OSError, TimeoutError, asyncio.IncompleteReadError, BadRequest, UpstreamRefused) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self.bytes_in > bytes_before:
                self.failures = 0  # it worked for a while: start the backoff over
            delay = backoff_delay(self.failures, self.initial_backoff_s, self.max_backoff_s)
            self.failures += 1
            log_.warning("ntrip_upstream_down", error=self.last_error, retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.read_timeout_s
        )
        try:
            writer.write(
                request_head(
                    self.host,
                    self.port,
                    self.remote_mount,
                    self.user,
                    self.password,
                    self.version,
                    self.current_gga(),
                )
            )
            await writer.drain()
            chunked = await self._read_answer(reader)
            await self._stream(reader, writer, chunked)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_answer(self, reader: asyncio.StreamReader) -> bool:
        """Check the status line (and, for HTTP, read the head); whether the body is chunked."""
        status = await asyncio.wait_for(reader.readline(), self.read_timeout_s)
        if status.startswith(b"ICY 200"):
            return False  # NTRIP 1.0: whatever follows is the stream (see the module's notes)
        words = status.split()
        if len(words) < 2 or not words[0].startswith(b"HTTP/1.") or words[1] != b"200":
            raise UpstreamRefused(status.decode("latin-1").strip() or "closed")
        headers: dict[str, str] = {}
        while True:
            line = await asyncio.wait_for(reader.readline(), self.read_timeout_s)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "sourcetable" in headers.get("content-type", ""):
            raise UpstreamRefused(f"no mountpoint {self.remote_mount} upstream (sourcetable)")
        return "chunked" in headers.get("transfer-encoding", "").lower()

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunked: bool
    ) -> None:
        self.opened()
        self.connects += 1
        log.info("ntrip_upstream_up", upstream=self.remote_mount, connects=self.connects)
        decoder = ChunkDecoder() if chunked else None
        sender = asyncio.get_running_loop().create_task(self._send_gga(writer)) if self.gga else None
        try:
            while True:
                data = await asyncio.wait_for(reader.read(65536), self.read_timeout_s)
                if not data:
                    return
                if decoder is not None:
                    data = decoder.feed(data)
                self.bytes_in += len(data)
                self.received(data)
                if decoder is not None and decoder.done:
                    return
        finally:
            if sender is not None:
                sender.cancel()
            self.closed()

    async def _send_gga(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                gga = self.current_gga()
                if gga:
                    writer.write(gga.strip().encode("ascii") + b"\r\n")
                    await writer.drain()
                await asyncio.sleep(self.gga_every_s)


class Upstream(NtripPull):
    """Pull ``remote_mount`` of the caster at ``host:port`` into ``local_mount`` of ``caster``.

    ``start()`` runs it as a task, ``stop()`` ends it.
    """

    def __init__(
        self,
        caster: Caster,
        local_mount: str,
        host: str,
        port: int,
        remote_mount: str,
        user: str | None = None,
        password: str | None = None,
        *,
        version: int = 2,
        identifier: str = "",
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        read_timeout_s: float = 10.0,
        gga: GgaSource = None,
        gga_every_s: float = 10.0,
    ) -> None:
        super().__init__(
            host,
            port,
            remote_mount,
            user,
            password,
            version=version,
            initial_backoff_s=initial_backoff_s,
            max_backoff_s=max_backoff_s,
            read_timeout_s=read_timeout_s,
            gga=gga,
            gga_every_s=gga_every_s,
        )
        self.caster = caster
        self.local_mount = local_mount
        self._mount: Mount | None = None
        self._framer = RtcmFramer()
        caster.add_local_mount(MountInfo(local_mount, identifier=identifier or f"{remote_mount} via {host}"))

    def opened(self) -> None:
        self._mount = self.caster.claim_mount(self.local_mount)
        self._framer = RtcmFramer()

    def received(self, data: bytes) -> None:
        assert self._mount is not None
        self.caster.ingest(self._mount, self._framer, data)

    def closed(self) -> None:
        if self._mount is not None:
            self.caster.release_mount(self._mount)
            self._mount = None
