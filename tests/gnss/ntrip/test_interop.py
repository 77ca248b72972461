"""Our caster against an independent NTRIP client: pygnssutils' ``GNSSNTRIPClient`` (its Python
API, in its own thread, writing ``(raw, parsed)`` pairs to a ``queue.Queue``) fetches the
sourcetable and receives real captures, over NTRIP 1.0 and 2.0.

Expected bytes are the capture's frames as pyrtcm's reader cuts them. One quirk of pygnssutils
1.3.1 shapes the test: the first piece of data that arrives after the response head (the first
``recv`` once the head is parsed, or whatever shares the head's segment) is read and discarded
before its stream parser starts. So before the capture, the source sends a "primer" frame (from
another capture) until one comes out of the client: from then on its parser owns the socket, and
everything after the primers must be the capture, frame for frame. Over NTRIP 1.0 the capture is
pushed at once in arbitrary pieces; over 2.0 (chunked) one frame at a time, in lockstep with the
client's output, because of a second quirk (see the test).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pygnssutils.gnssntripclient import GNSSNTRIPClient

from gnss.ntrip.caster import Caster
from hardware.ntrip_source import open_source
from tests.gnss.ntrip.test_caster import pyrtcm_frames, serving_caster, wait_for
from tests.support import Client

RTCM = Path(__file__).parents[2] / "data" / "gnss" / "rtcm3"
NOVATEL = RTCM / "qzsl6tool_20221213-010900.rtcm"  # 1 Hz, 1 min, 769 messages, multi-GNSS MSM7 + 1005
F9P = RTCM / "pygnssutils_pygpsdata-rtcm3.log"  # u-blox F9P base, 158 epochs, 1106 messages
PRIMER_SOURCE = RTCM / "pyrtcm_pygpsdata-NTRIP-USCL00CHL0.log"  # primer frames come from here


@pytest.fixture
async def caster(client: Client) -> AsyncIterator[tuple[Caster, int]]:
    async with serving_caster(client, source_timeout_s=5.0, lag_timeout_s=5.0, head_timeout_s=2.0) as served:
        yield served


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_read_thread" in t.name]


class PygnssutilsRover:
    """One ``GNSSNTRIPClient.run`` (its reader thread), with its own stop event and output queue."""

    def __init__(self, port: int, mountpoint: str, version: str) -> None:
        self.output: queue.Queue[tuple[Any, Any]] = queue.Queue()
        self.stopevent = threading.Event()
        self.ntrip = GNSSNTRIPClient(retries=0, retryinterval=1, timeout=5, verbosity=0)
        before = set(_reader_threads())
        self.ntrip.run(
            server="127.0.0.1",
            port=port,
            mountpoint=mountpoint,
            version=version,
            ntripuser="rover",
            ntrippassword="rover-secret",
            output=self.output,
            stopevent=self.stopevent,  # its default is one Event shared by every instance
        )
        (self.thread,) = set(_reader_threads()) - before

    async def get(self, within_s: float = 5.0) -> tuple[Any, Any]:
        return await asyncio.to_thread(self.output.get, True, within_s)

    async def stop(self, cast: Caster) -> None:
        """Stop its loop, then cut its socket so its blocking ``recv`` returns, and wait for it."""
        self.ntrip.stop()
        for mount in cast.mounts.values():
            for client in list(mount.clients):
                client.writer.transport.abort()
        await asyncio.to_thread(self.thread.join, 10)
        assert not self.thread.is_alive()


@pytest.mark.parametrize("version", ["1.0", "2.0"])
async def test_pygnssutils_reads_our_sourcetable(caster: tuple[Caster, int], version: str) -> None:
    cast, port = caster
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret")
    source.write(NOVATEL.read_bytes())
    await source.drain()
    await wait_for(lambda: "YANGPU1" in cast.mounts and cast.mounts["YANGPU1"].stats.frames == 769)

    rover = PygnssutilsRover(port, "", version)
    table, (closest, _distance_km) = await rover.get()
    await asyncio.to_thread(rover.thread.join, 10)  # a sourcetable request ends by itself

    assert rover.ntrip.status["code"] == 200 and rover.ntrip.is_sourcetable
    assert rover.ntrip.status["protocol"] == ("SOURCETABLE" if version == "1.0" else "HTTP/1.1")
    records = {row[0]: row for row in table}  # pygnssutils drops the leading "STR"
    assert set(records) == {"YANGPU1", "TONGJI"}
    yangpu = records["YANGPU1"]
    assert len(yangpu) == 18 and yangpu[1] == "Yangpu Riverside" and yangpu[2] == "RTCM 3.x"
    assert (float(yangpu[8]), float(yangpu[9])) == pytest.approx((34.44, 132.41), abs=0.01)
    assert yangpu[17] == "online" and records["TONGJI"][17] == "offline"
    # pygnssutils' own distance search reads our latitude/longitude columns (its reference
    # position is 0, 0 here: TONGJI has no base position yet and shows 0.00, 0.00)
    assert closest == "TONGJI"
    source.close()


@pytest.mark.parametrize(
    ("capture", "push_v", "pull_v"),
    [(NOVATEL, 1, "1.0"), (NOVATEL, 2, "2.0"), (F9P, 2, "1.0"), (F9P, 1, "2.0")],
    ids=["novatel-v1-v1", "novatel-v2-v2", "f9p-v2-v1", "f9p-v1-v2"],
)
async def test_pygnssutils_receives_a_real_capture_byte_for_byte(
    caster: tuple[Caster, int], capture: Path, push_v: int, pull_v: str
) -> None:
    cast, port = caster
    frames = pyrtcm_frames(capture)
    primer = pyrtcm_frames(PRIMER_SOURCE)[0]
    assert primer not in frames

    rover = PygnssutilsRover(port, "YANGPU1", pull_v)
    await wait_for(lambda: "YANGPU1" in cast.mounts and len(cast.mounts["YANGPU1"].clients) == 1)
    _, source = await open_source("127.0.0.1", port, "YANGPU1", "base-secret", version=push_v)

    def send(data: bytes) -> None:
        source.write(b"%x\r\n%s\r\n" % (len(data), data) if push_v == 2 else data)

    received: list[tuple[bytes, Any]] = []
    for _ in range(50):  # primers until the client's parser is reading the socket
        send(primer)
        await source.drain()
        try:
            received.append(await rover.get(within_s=0.2))
            break
        except queue.Empty:
            continue
    assert received, "pygnssutils never started parsing"

    if pull_v == "1.0":
        stream = b"".join(frames)
        for i in range(0, len(stream), 1000):  # pieces that cut frames anywhere, as fast as it goes
            send(stream[i : i + 1000])
        await source.drain()
        while sum(raw != primer for raw, _ in received) < len(frames):
            received.append(await rover.get())
    else:
        # pynmeagps' SocketWrapper.dechunk (under pygnssutils 1.3.1) loses the rest of a recv()
        # that ends between a chunk's data and its CRLF, so a burst of chunks larger than its
        # 4096-byte reads loses frames now and then; in lockstep every recv() holds whole chunks
        for frame in frames:
            send(frame)
            await source.drain()
            received.append(await rover.get())
    await rover.stop(cast)

    primers = next(i for i, (raw, _) in enumerate(received) if raw != primer)  # one, or a late second
    assert primers >= 1
    got = [raw for raw, _ in received[primers:]]
    assert len(got) == len(frames)
    assert got == frames  # every frame, byte for byte, in order, nothing between or after
    # and pygnssutils (pyrtcm underneath) parsed each one as the message type it carries
    types = [str(int.from_bytes(f[3:5], "big") >> 4) for f in frames]
    assert [str(parsed.identity)[:4] for _, parsed in received[primers:]] == types
    left = [rover.output.get() for _ in range(rover.output.qsize())]
    assert all(item == (b"", None) for item in left)  # its end-of-stream marker, once we cut it
    source.close()
