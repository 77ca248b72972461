"""The NTRIP caster over real sockets on loopback: v1 and v2 push and pull, sourcetable, auth,
mid-stream join, slow clients, silent sources, malformed requests.

Expected bytes are the capture's own frames as pyrtcm's reader cuts them (an independent framer),
so "byte-identical" is checked against a second library, not against our framer.
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pyrtcm import RTCMReader

from gnss.framer import StreamFramer
from gnss.ntrip.caster import Caster
from gnss.ntrip.protocol import ChunkDecoder
from hardware.gnss_replay import pace_marks, paced_chunks
from hardware.ntrip_source import SourceRefused, open_source, push
from parking.identity.access import ADMIN
from parking.ntrip import service as ntrip
from parking.ntrip.accounts import DatabaseAccounts
from parking.unit import transaction
from tests.support import Client

RTCM = Path(__file__).parents[2] / "data" / "gnss" / "rtcm3"
CAPTURE = RTCM / "qzsl6tool_20221213-010900.rtcm"  # NovAtel, 1 min, 769 messages, BDS MSM7 + 1005


def pyrtcm_frames(path: Path) -> list[bytes]:
    return [raw for raw, _ in RTCMReader(io.BytesIO(path.read_bytes()), quitonerror=0)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving_caster(client: Client, **timeouts: float) -> AsyncIterator[tuple[Caster, int]]:
    """A caster on a free loopback port, its accounts in the client's database: mounts YANGPU1
    and TONGJI, users ``rover`` (every mount) and ``limited`` (TONGJI only)."""
    sessionmaker = client.app.state.beidou.sessionmaker
    async with transaction(sessionmaker, client.app.state.beidou.settings) as ctx:
        await ntrip.create_mount(ctx, ADMIN, "YANGPU1", "base-secret", "Yangpu Riverside")
        await ntrip.create_mount(ctx, ADMIN, "TONGJI", "tongji-secret")
        await ntrip.create_user(ctx, ADMIN, "rover", "rover-secret")
        await ntrip.create_user(ctx, ADMIN, "limited", "limited-secret", ["TONGJI"])
    caster = Caster(DatabaseAccounts(sessionmaker), **timeouts)
    port = _free_port()
    server = await caster.serve("127.0.0.1", port)
    async with server:
        yield caster, port
        await caster.close()


@pytest.fixture
async def caster(client: Client) -> AsyncIterator[tuple[Caster, int]]:
    async with serving_caster(client, source_timeout_s=1.0, lag_timeout_s=0.5, head_timeout_s=1.0) as served:
        yield served


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def get(
    port: int, path: str, *, version: int = 1, auth: str | None = None, gga: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """Send a GET and read the answer's head; the stream is left to the caller."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [
        f"GET {path} HTTP/1.1" if version == 2 else f"GET {path} HTTP/1.0",
        "Host: caster",
        "User-Agent: NTRIP test/1.0",
    ]
    if version == 2:
        lines.append("Ntrip-Version: Ntrip/2.0")
    if auth:
        lines.append(f"Authorization: {auth}")
    if gga:
        lines.append(f"Ntrip-GGA: {gga}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    if b"content-length:" in head.lower():
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        return await reader.readexactly(length)
    return await reader.read()


async def collect(reader: asyncio.StreamReader, n: int, *, chunked: bool, within_s: float = 10) -> bytes:
    decoder = ChunkDecoder() if chunked else None
    got = bytearray()

    async def loop() -> None:
        while len(got) < n:
            data = await reader.read(65536)
            if not data:
                return
            got.extend(decoder.feed(data) if decoder else data)

    await asyncio.wait_for(loop(), within_s)
    return bytes(got)


async def wait_for(predicate: Any, within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize(("push_v", "pull_v"), [(1, 1), (2, 2), (1, 2), (2, 1)])
async def test_push_and_pull_relay_exact_frames(caster: tuple[Caster, int], push_v: int, pull_v: int) -> None:
    cast, port = caster
    frames = pyrtcm_frames(CAPTURE)
    reader, writer, head = await get(port, "/YANGPU1", version=pull_v, auth=basic("rover", "rover-secret"))
    assert head.startswith(b"ICY 200 OK" if pull_v == 1 else b"HTTP/1.1 200 OK")
    if pull_v == 2:
        assert b"Content-Type: gnss/data" in head and b"Ntrip-Version: Ntrip/2.0" in head
    await wait_for(lambda: len(cast.mounts["YANGPU1"].clients) == 1)
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret", version=push_v)
    stream = b"".join(frames)
    for i in range(0, len(stream), 1000):  # pieces that cut frames anywhere
        piece = stream[i : i + 1000]
        source.write(b"%x\r\n%s\r\n" % (len(piece), piece) if push_v == 2 else piece)
    await source.drain()
    got = await collect(reader, len(stream), chunked=pull_v == 2)
    assert got == stream  # every frame, byte for byte, in order
    writer.close()
    source.close()


async def test_sourcetable_describes_live_streams(caster: tuple[Caster, int]) -> None:
    cast, port = caster
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    source.write(CAPTURE.read_bytes())
    await source.drain()
    await wait_for(lambda: "YANGPU1" in cast.mounts and cast.mounts["YANGPU1"].stats.frames == 769)
    reader, writer, head = await get(port, "/")
    assert head.startswith(b"SOURCETABLE 200 OK")
    body = (await read_body(reader, head)).decode()
    assert body.endswith("ENDSOURCETABLE\r\n")
    records = {line.split(";")[1]: line.split(";") for line in body.splitlines() if line.startswith("STR;")}
    assert set(records) == {"YANGPU1", "TONGJI"}
    yangpu = records["YANGPU1"]
    assert len(yangpu) == 19
    assert yangpu[2] == "Yangpu Riverside" and yangpu[3] == "RTCM 3.x"
    types = dict(item[:-1].split("(") for item in yangpu[4].split(","))
    assert {"1005", "1077", "1127", "1042"} <= set(types)
    # base position from the 1005 ARP (README: ECEF -3551876.8287, 3887786.8598, 3586946.3873 -> Hiroshima)
    assert (float(yangpu[9]), float(yangpu[10])) == pytest.approx((34.44, 132.41), abs=0.01)
    assert set(yangpu[6].split("+")) >= {"GPS", "GLO", "GAL", "BDS", "QZS"} and yangpu[5] == "2"
    assert yangpu[15] == "B" and yangpu[18] == "online" and int(yangpu[17]) > 0
    assert records["TONGJI"][18] == "offline"
    # NTRIP 2.0 asks for the same table as gnss/sourcetable
    reader, writer, head = await get(port, "/", version=2)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Type: gnss/sourcetable" in head
    assert (await read_body(reader, head)).decode().count("STR;") == 2
    source.close()


async def test_auth_failures_and_unknown_mounts(caster: tuple[Caster, int]) -> None:
    _, port = caster
    with pytest.raises(SourceRefused, match="Bad Password"):
        await open_source("127.0.0.1", port, "YANGPU1", "wrong")
    with pytest.raises(SourceRefused, match="401"):
        await open_source("127.0.0.1", port, "YANGPU1", "wrong", version=2)
    for version in (1, 2):
        reader, _, head = await get(port, "/YANGPU1", version=version, auth=basic("rover", "nope"))
        assert b" 401 " in head and b'WWW-Authenticate: Basic realm="/YANGPU1"' in head
        _, _, head = await get(port, "/YANGPU1", version=version)
        assert b" 401 " in head
    _, _, head = await get(port, "/YANGPU1", auth=basic("limited", "limited-secret"))  # not its mount
    assert b" 401 " in head
    _, _, head = await get(port, "/TONGJI", auth=basic("limited", "limited-secret"))
    assert head.startswith(b"ICY 200 OK")
    reader, _, head = await get(port, "/NOSUCH", auth=basic("rover", "rover-secret"))
    assert head.startswith(b"SOURCETABLE 200 OK")  # NTRIP 1.0: the sourcetable
    assert "ENDSOURCETABLE" in (await read_body(reader, head)).decode()
    _, _, head = await get(port, "/NOSUCH", version=2, auth=basic("rover", "rover-secret"))
    assert head.startswith(b"HTTP/1.1 404")


async def test_second_source_on_a_mount_is_refused(caster: tuple[Caster, int]) -> None:
    _, port = caster
    _, first = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    with pytest.raises(SourceRefused, match="Taken"):
        await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    first.close()


async def test_a_client_joining_mid_frame_starts_at_the_next_frame(caster: tuple[Caster, int]) -> None:
    cast, port = caster
    frames = pyrtcm_frames(CAPTURE)
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    source.write(b"".join(frames[:10]) + frames[10][:7])  # half of frame 10 is in flight
    await source.drain()
    await wait_for(lambda: cast.mounts["YANGPU1"].stats.frames == 10)
    reader, writer, head = await get(port, "/YANGPU1", auth=basic("rover", "rover-secret"))
    await wait_for(lambda: len(cast.mounts["YANGPU1"].clients) == 1)
    source.write(frames[10][7:] + b"".join(frames[11:20]))
    await source.drain()
    want = b"".join(frames[10:20])  # frame 10 completed after the join: sent whole
    assert await collect(reader, len(want), chunked=False) == want


async def test_a_slow_client_never_delays_the_others(caster: tuple[Caster, int]) -> None:
    cast, port = caster
    frames = pyrtcm_frames(RTCM / "pygnssutils_pygpsdata-rtcm3.log")  # 1106 frames, 450 kB
    # the slow client: a tiny receive buffer it never reads
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", port))
    slow.sendall(
        b"GET /YANGPU1 HTTP/1.0\r\nAuthorization: " + basic("rover", "rover-secret").encode() + b"\r\n\r\n"
    )
    fast, fast_writer, _ = await get(port, "/YANGPU1", auth=basic("rover", "rover-secret"))
    await wait_for(lambda: len(cast.mounts["YANGPU1"].clients) == 2)
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    stream = b"".join(frames)
    stats = cast.mounts["YANGPU1"].stats
    rounds = 0
    # push until the kernel's socket buffers towards the slow client (megabytes on loopback) are
    # full and the caster starts dropping its oldest frames, then until it is cut off for lagging
    while stats.clients_dropped == 0 and rounds < 40:
        fast_reads = asyncio.create_task(collect(fast, len(stream), chunked=False))
        source.write(stream)
        await source.drain()
        assert await fast_reads == stream  # the fast client gets every frame of every round
        rounds += 1
        await asyncio.sleep(0.1)
    assert stats.frames_dropped > 0 and stats.clients_dropped == 1
    assert len(cast.mounts["YANGPU1"].clients) == 1
    slow.close()
    fast_writer.close()


async def test_a_silent_source_is_dropped_and_its_mount_shown_offline(caster: tuple[Caster, int]) -> None:
    cast, port = caster
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    source.write(CAPTURE.read_bytes()[:5000])
    await source.drain()
    await wait_for(lambda: cast.mounts["YANGPU1"].online)
    await wait_for(lambda: not cast.mounts["YANGPU1"].online, within_s=3)  # source_timeout_s = 1
    reader, _, head = await get(port, "/")
    table = (await read_body(reader, head)).decode()
    assert next(line for line in table.splitlines() if line.startswith("STR;YANGPU1;")).endswith(";offline")
    # the mount is free again for the base station's reconnection
    _, again = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    again.close()


async def test_malformed_requests_are_answered_or_closed_without_disturbing_clients(
    caster: tuple[Caster, int],
) -> None:
    cast, port = caster
    frames = pyrtcm_frames(CAPTURE)
    reader, writer, _ = await get(port, "/YANGPU1", auth=basic("rover", "rover-secret"))
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    bad: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for payload in (
        b"\x00\xff garbage \xd3\x00\r\n\r\n",
        b"GET /YANGPU1 HTTP/1.0\r\n" + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n",  # oversized head
        b"BREW /coffee HTCPCP/1.0\r\n\r\n",
        b"GET /YANGPU1 HTTP/1.0\r\nno colon here\r\n\r\n",
        b"GET /YANGPU1",  # half a request, then silence (half-open)
    ):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(payload)
        await w.drain()
        bad.append((r, w))
    source.write(b"".join(frames[:50]))
    await source.drain()
    assert await collect(reader, len(b"".join(frames[:50])), chunked=False) == b"".join(frames[:50])
    for r, _ in bad:  # each one answered 400 or closed, within the head timeout
        answer = await asyncio.wait_for(r.read(), 5)
        assert answer == b"" or answer.startswith(b"HTTP/1.0 400")
    assert cast.bad_requests == 5 and len(cast.mounts["YANGPU1"].clients) == 1
    writer.close()


async def test_a_base_station_keeps_pushing_across_a_caster_restart(client: Client) -> None:
    sessionmaker = client.app.state.beidou.sessionmaker
    async with transaction(sessionmaker, client.app.state.beidou.settings) as ctx:
        await ntrip.create_mount(ctx, ADMIN, "YANGPU1", "base-secret")
    port = _free_port()
    first = Caster(DatabaseAccounts(sessionmaker))
    server = await first.serve("127.0.0.1", port)
    # the real 1 Hz capture at 20x its pace: ~3 s
    pushing = asyncio.create_task(
        push(paced_chunks(CAPTURE.read_bytes(), speed=20.0), "127.0.0.1", port, "YANGPU1", "base-secret")
    )
    await wait_for(lambda: "YANGPU1" in first.mounts and first.mounts["YANGPU1"].stats.frames > 100)
    await first.close()
    server.close()
    await server.wait_closed()
    second = Caster(DatabaseAccounts(sessionmaker))
    async with await second.serve("127.0.0.1", port):
        stats = await asyncio.wait_for(pushing, 30)
        await wait_for(lambda: "YANGPU1" in second.mounts and second.mounts["YANGPU1"].stats.frames > 0)
        await second.close()
    assert stats.connects == 2 and stats.bytes_dropped == 0
    relayed = first.mounts["YANGPU1"].stats.frames + second.mounts["YANGPU1"].stats.frames
    # What can be lost: the one piece the source wrote into the connection just before the caster
    # cut it (a piece whose write fails stays queued and is resent), and one frame cut across the
    # reconnect. A piece is one epoch of the capture, at most this many frames (read off it):
    largest_piece = max(
        len([*framer.feed(piece), *framer.flush()])
        for piece in _pieces(CAPTURE.read_bytes())
        for framer in [StreamFramer()]
    )
    assert 769 - (largest_piece + 1) <= relayed <= 769


def _pieces(data: bytes) -> list[bytes]:
    """The capture cut where the replayer sends (its epoch marks)."""
    offsets = [0, *(m[0] for m in pace_marks(data)[1:]), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(offsets)]
