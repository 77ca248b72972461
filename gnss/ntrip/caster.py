"""The NTRIP caster: base stations push RTCM 3 to mountpoints, rovers pull them (asyncio).

What a relay must guarantee, and how:

- **Exactly the bytes received, whole frames only.** A source's bytes go through the RTCM framer;
  each CRC-checked frame is relayed as it arrived. A client that joins mid-stream gets the next
  frame, never half of one; noise between frames is not relayed.
- **A slow client never delays the others.** Frames are written to a client's transport while its
  buffer is small; beyond that they wait in a bounded per-client queue whose oldest frames are
  dropped (and counted) when it is full; a client whose queue stays full for ``lag_timeout_s`` is
  disconnected. Fan-out never awaits a client.
- **A silent source is dropped** after ``source_timeout_s`` and its mount shows offline.
- Accounts (mount source passwords, users) are asked of an ``Accounts`` object on every
  connection, so changes apply without a restart.
- **Mounts the accounts do not know.** A mount re-served from another caster
  (``gnss.ntrip.upstream``) is declared with ``add_local_mount`` and fed through ``claim_mount``
  / ``ingest`` / ``release_mount``; it is listed in the sourcetable, rovers pull it with the same
  ``client_allowed`` check as any mount, and no base station may push to it.
- **The virtual ``NEAREST`` mount** (with ``nearest=NearestPolicy()``): always in the
  sourcetable with nmea=1; a rover gets nothing until its first GGA, then the frames of the
  nearest live base. The rover's ``Client`` sits in that base's fan-out set and is moved to another
  base's set between two frames (fan-out is synchronous), so it only ever receives whole frames,
  byte for byte as the base sent them. Rules (hysteresis, silence) and the moves and periodic
  checks that apply them (``NearestRoll``) are in ``gnss.ntrip.nearest``.
  Candidates are all live mounts with an ARP, mirrors included. It is opt-in (``beidou ntrip
  serve`` turns it on) so that a caster built without it lists exactly its accounts' mounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from gnss.nmea import Gga, parse_sentence
from gnss.ntrip import replies
from gnss.ntrip.mounts import StreamStats
from gnss.ntrip.nearest import NearestPolicy, NearestRoll
from gnss.ntrip.protocol import MAX_HEAD, BadRequest, ChunkDecoder, Request, chunk, parse_head
from gnss.ntrip.sourcetable import MountInfo, sourcetable
from gnss.rtcm.framing import RtcmFramer

log = structlog.get_logger(__name__)

HIGH_WATER = 64 * 1024  # bytes in a client's transport buffer before frames queue instead
QUEUE_FRAMES = 256  # per-client backlog in frames; the oldest go first when it is full
NEAREST = "NEAREST"
NEAREST_INFO = MountInfo(NEAREST, identifier="nearest live base", nmea=1)


def gga_position(line: bytes) -> tuple[float, float] | None:
    """The lat/lon of a GGA sentence (with or without checksum), or None."""
    text = line.strip().decode("ascii", "replace")
    if not text.startswith("$") or text[3:6] != "GGA":
        return None
    try:
        gga = parse_sentence(text)
    except ValueError:
        return None
    if isinstance(gga, Gga) and gga.lat is not None and gga.lon is not None:
        return gga.lat, gga.lon
    return None


class Accounts(Protocol):
    """Who may push and pull which mount (backed by the platform database in production)."""

    async def source_allowed(self, mount: str, user: str | None, password: str | None) -> bool: ...
    async def client_allowed(self, mount: str, user: str | None, password: str | None) -> bool: ...
    async def mounts(self) -> list[MountInfo]: ...


@dataclass(eq=False)
class Client:
    writer: asyncio.StreamWriter
    version: int
    mount: str
    user: str | None
    backlog: deque[tuple[bytes, int]] = field(default_factory=deque)  # (bytes, frames in them)
    queued: int = 0  # frames in the backlog
    dropped: int = 0
    full_since: float | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    position: tuple[float, float] | None = None  # the rover's lat/lon from its latest GGA
    serving: str | None = None  # NEAREST rovers: the base whose fan-out the client is in
    switches: int = 0  # NEAREST rovers: how many times it changed base

    def __post_init__(self) -> None:
        self.transport = self.writer.transport


@dataclass
class Mount:
    name: str
    stats: StreamStats = field(default_factory=StreamStats)
    source: asyncio.StreamWriter | None = None
    clients: set[Client] = field(default_factory=set)
    claimed: bool = False  # fed by the caster itself (an upstream pull), not by a pushing source
    live: Callable[[], bool] | None = None  # a virtual mount's own idea of being online

    @property
    def online(self) -> bool:
        if self.live is not None:
            return self.live()
        return self.source is not None or self.claimed


class Caster:
    def __init__(
        self,
        accounts: Accounts,
        *,
        source_timeout_s: float = 10.0,
        lag_timeout_s: float = 10.0,
        head_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        nearest: NearestPolicy | None = None,
    ) -> None:
        self.accounts = accounts
        self.nearest = nearest  # None: no NEAREST mount
        self.source_timeout_s = source_timeout_s
        self.lag_timeout_s = lag_timeout_s
        self.head_timeout_s = head_timeout_s
        self.clock = clock
        self.mounts: dict[str, Mount] = {}
        self.local_mounts: dict[str, MountInfo] = {}
        self.bad_requests = 0
        self._nearest: NearestRoll[Client] | None = None
        if nearest is not None:
            rovers: set[Client] = set()  # NEAREST's own clients, served from their base's fan-out
            self._nearest = NearestRoll(nearest, self.mounts, rovers, clock)
            self.mounts[NEAREST] = Mount(NEAREST, clients=rovers, live=self._nearest.any_live)

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD * 2, backlog=4096)

    async def close(self) -> None:
        """Cut every source and client so their handlers end before the server goes away."""
        if self._nearest is not None:
            self._nearest.stop()
        for mount in self.mounts.values():
            for client in list(mount.clients):
                client.closed = True
                client.wake.set()
                client.writer.transport.abort()
            if mount.source is not None:
                mount.source.transport.abort()
        await asyncio.sleep(0)

    def mount(self, name: str) -> Mount:
        if name not in self.mounts:
            self.mounts[name] = Mount(name)
        return self.mounts[name]

    def add_local_mount(self, info: MountInfo) -> None:
        """Serve a mount the accounts do not list (a mirror of another caster's mount): it joins
        the sourcetable; no source may push to it, the caster feeds it (``claim_mount``)."""
        if info.name == NEAREST:
            raise ValueError(f"{NEAREST} is the caster's virtual mountpoint")
        self.local_mounts[info.name] = info
        self.mount(info.name)  # in the snapshot (offline) from now on

    def claim_mount(self, name: str) -> Mount:
        """Mark a local mount online while the caster feeds it itself; ``release_mount`` ends it."""
        if name not in self.local_mounts:
            raise KeyError(f"{name} is not a local mount")
        mount = self.mount(name)
        if mount.online:
            raise RuntimeError(f"{name} already has a source")
        mount.claimed = True
        mount.stats.connected_at = self.clock()
        return mount

    def release_mount(self, mount: Mount) -> None:
        mount.claimed = False
        self._source_gone(mount)

    # --- connections ----------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.head_timeout_s)
                request = parse_head(head[:-4])
            except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError, BadRequest) as exc:
                self.bad_requests += 1
                log.info("ntrip_bad_request", error=type(exc).__name__)
                if not isinstance(exc, asyncio.IncompleteReadError):
                    writer.write(replies.bad_request())
                return
            if request.method in ("SOURCE", "POST"):
                await self._source(request, reader, writer)
            elif request.mount == "":
                await self._send_sourcetable(request, writer)
            else:
                await self._client(request, reader, writer)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()

    async def _send_sourcetable(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body = sourcetable(await self._described())
        writer.write(replies.sourcetable_reply(request.version, body))
        await writer.drain()

    async def _infos(self) -> list[MountInfo]:
        """The accounts' mounts, then the local ones (mirrors), then ``NEAREST``."""
        infos = list(await self.accounts.mounts())
        names = {info.name for info in infos}
        infos += [info for name, info in self.local_mounts.items() if name not in names]
        if self.nearest is not None and NEAREST not in names:
            infos.append(NEAREST_INFO)
        return infos

    async def _described(self) -> list[tuple[MountInfo, Mount | None]]:
        return [(info, self.mounts.get(info.name)) for info in await self._infos()]

    async def _source(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        v = request.version
        if request.mount in self.local_mounts or (self.nearest is not None and request.mount == NEAREST):
            # served by the caster itself (a mirror, or the virtual mount): not for a base station
            writer.write(replies.mount_taken(v))
            return
        if not await self.accounts.source_allowed(request.mount, request.user, request.password):
            writer.write(replies.source_refused(v, request.mount))
            return
        mount = self.mount(request.mount)
        if mount.source is not None:
            writer.write(replies.mount_taken(v))
            return
        mount.source = writer
        mount.stats.connected_at = self.clock()
        writer.write(replies.source_accepted(v))
        await writer.drain()
        log.info("ntrip_source_up", mount=mount.name, version=v)
        framer = RtcmFramer()
        chunks = ChunkDecoder() if request.chunked else None
        try:
            while True:
                data = await asyncio.wait_for(reader.read(65536), self.source_timeout_s)
                if not data:
                    break
                if chunks is not None:
                    data = chunks.feed(data)
                self.ingest(mount, framer, data)
                if chunks is not None and chunks.done:
                    break
        except TimeoutError:
            log.warning("ntrip_source_silent", mount=mount.name, timeout_s=self.source_timeout_s)
        except BadRequest:
            log.warning("ntrip_source_bad_chunking", mount=mount.name)
        finally:
            mount.source = None
            log.info("ntrip_source_down", mount=mount.name)
            self._source_gone(mount)

    async def _client(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        v = request.version
        names = {info.name for info in await self._infos()}
        if request.mount not in names:
            if v == 1:  # NTRIP 1.0: an unknown mount answers with the sourcetable
                await self._send_sourcetable(request, writer)
            else:
                writer.write(replies.not_found(2))
            return
        if not await self.accounts.client_allowed(request.mount, request.user, request.password):
            writer.write(replies.unauthorized(v, request.mount))
            return
        mount = self.mount(request.mount)
        client = Client(writer, v, mount.name, request.user)
        client.position = gga_position(request.headers.get("ntrip-gga", "").encode())
        writer.write(replies.stream_head(v))
        mount.clients.add(client)  # NEAREST: the rovers' roll, frames come from `serving`'s fan-out
        log.info("ntrip_client_up", mount=mount.name, user=request.user, version=v)
        roll = self._roll_of(client)
        if roll is not None:
            roll.place(client)
            roll.start()
        try:
            await asyncio.gather(self._drain(client), self._read_client(client, reader))
        finally:
            client.closed = True
            mount.clients.discard(client)
            if roll is not None and client.serving is not None:
                roll.move(client, None)

    async def _read_client(self, client: Client, reader: asyncio.StreamReader) -> None:
        """Whatever a client sends after its request: GGA lines (NTRIP 1.0 in-band); the end of
        it ends the client."""
        while not client.closed:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                await reader.read(MAX_HEAD)  # not a sentence: discard, keep the stream
                continue
            except asyncio.IncompleteReadError:
                client.closed = True
                client.wake.set()
                return
            position = gga_position(line)
            if position is not None:
                client.position = position
                if (roll := self._roll_of(client)) is not None:
                    roll.place(client)

    # --- fan-out --------------------------------------------------------------------------------

    def ingest(self, mount: Mount, framer: RtcmFramer, data: bytes) -> None:
        """A source's bytes (pushed, or pulled from an upstream caster): whole frames go out.

        The frames completed by one read leave as one batch: a base sends an epoch (10-20 frames)
        in one burst, and one write per client instead of one per frame is what keeps the last
        frame of the epoch from waiting behind N x frames system calls."""
        raws = []
        now = self.clock()
        for frame in framer.feed(data):
            mount.stats.observe(frame, now)
            raws.append(frame.raw)
        if raws:
            self._fan_out(mount, raws)

    def _fan_out(self, mount: Mount, raws: list[bytes]) -> None:
        now = self.clock()
        joined = raws[0] if len(raws) == 1 else b"".join(raws)
        v1 = (joined, len(raws))
        v2 = (chunk(joined), len(raws))
        sent = 0
        # the hot loop of the caster (thousands of clients per epoch): locals only, one write each
        for client in tuple(mount.clients):
            if client.closed:
                continue
            batch = v2 if client.version == 2 else v1
            transport = client.transport
            if not client.backlog and transport.get_write_buffer_size() < HIGH_WATER:
                transport.write(batch[0])
                sent += len(batch[0])
                client.full_since = None
                continue
            if client.queued + batch[1] > QUEUE_FRAMES:  # full: the oldest frames go
                while client.queued + batch[1] > QUEUE_FRAMES and client.backlog:
                    _, n = client.backlog.popleft()
                    client.queued -= n
                    client.dropped += n
                    mount.stats.frames_dropped += n
                if client.full_since is None:
                    client.full_since = now
                elif now - client.full_since > self.lag_timeout_s:
                    self._disconnect(mount, client, "lagging")
                    continue
            client.backlog.append(batch)
            client.queued += batch[1]
            client.wake.set()
        mount.stats.bytes_out += sent

    def _disconnect(self, mount: Mount, client: Client, reason: str) -> None:
        client.closed = True
        mount.clients.discard(client)
        mount.stats.clients_dropped += 1
        client.wake.set()
        client.writer.transport.abort()
        log.info(
            "ntrip_client_dropped", mount=mount.name, user=client.user, reason=reason, dropped=client.dropped
        )

    async def _drain(self, client: Client) -> None:
        """Move a client's backlog into its transport as fast as the client reads."""
        while not client.closed:
            await client.wake.wait()
            client.wake.clear()
            while client.backlog and not client.closed:
                data, n = client.backlog.popleft()
                client.queued -= n
                client.writer.write(data)
                self.mounts[client.serving or client.mount].stats.bytes_out += len(data)
                await client.writer.drain()
            client.full_since = None

    # --- NEAREST (rules, bookkeeping, timing: gnss.ntrip.nearest) ------------------------------

    def _roll_of(self, client: Client) -> NearestRoll[Client] | None:
        return self._nearest if client.mount == NEAREST else None

    def _source_gone(self, mount: Mount) -> None:
        if self._nearest is not None:
            self._nearest.source_gone(mount)

    def check_nearest(self) -> None:
        """Re-evaluate every NEAREST rover now (the periodic check does this by itself)."""
        assert self._nearest is not None
        self._nearest.check()

    # --- observability --------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, object]]:
        now = self.clock()
        out = []
        for name, m in sorted(self.mounts.items()):
            s = m.stats
            out.append(
                {
                    "mount": name,
                    "online": m.online,
                    "clients": len(m.clients),
                    "bytes_in": s.bytes_in,
                    "bytes_out": s.bytes_out,
                    "frames": s.frames,
                    "frames_dropped": s.frames_dropped,
                    "clients_dropped": s.clients_dropped,
                    "message_rates_s": {str(k): v for k, v in s.rates().items()},
                    "last_frame_age_s": s.age_s(now),
                    "base": None if s.lat is None else {"lat": s.lat, "lon": s.lon, "height": s.height},
                    "bitrate": s.bitrate(now),
                }
            )
        return out
