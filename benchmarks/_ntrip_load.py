"""The processes of benchmarks/ntrip_fanout.py, each run as ``python benchmarks/_ntrip_load.py ROLE``.

- ``clients``: many NTRIP 1.0 rovers read with plain epoll. Prints ``armed`` once started and
  waits for a ``go`` line on stdin, so that the rovers of every process connect at once; then all
  of them (``--concurrency``, default all) open their connection together, send their GET and wait
  for ``ICY 200 OK``; then each cuts its byte stream into RTCM frames (preamble, 10-bit length,
  CRC-24Q as the frame's key) and records, per frame, the kernel's receive timestamp of the read
  that completed it (``SO_TIMESTAMPNS``) and the time this process read it. Prints
  ``ready <connected> <failed> <first connect> <last ICY 200> <why>`` once every connection is up
  or given up (times CLOCK_REALTIME), keeps reading until a ``stop`` line on stdin, then writes its
  records (npz) and prints ``done``.
- ``source``: replays a capture from its first whole frame at its recorded pace (``hardware.gnss_replay.paced_chunks``,
  looped if ``--seconds`` is longer than the capture), to an NTRIP caster (``SOURCE``, v1), to a
  plain TCP port (``--raw``: str2str's ``tcpsvr://`` input) or into a FIFO (pygnssutils'
  gnssserver input). Records each frame's key and the time just before the write that completed
  it (npz).

- ``peer``: pygnssutils' ``GNSSSocketServer`` in NTRIP caster mode (``ntripmode=1``, NTRIP 1.0)
  reading the FIFO, with ``maxclients`` raised to the run's N and its fastest settings (see
  ``run_peer``).

Every time is CLOCK_REALTIME (``time.time()``; socket timestamps use that clock), one clock for
every process of the machine, so a receive time minus a send time is a delivery latency.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import resource
import selectors
import socket
import struct
import sys
import time
from array import array
from pathlib import Path
from typing import BinaryIO

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnss.rtcm.framing import RtcmFramer  # noqa: E402
from hardware.gnss_replay import paced_chunks  # noqa: E402
from hardware.ntrip_source import open_source  # noqa: E402

PREAMBLE = 0xD3


def raise_nofile() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard limit; the (soft, hard) now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def frame_key(frame: bytes | bytearray | memoryview) -> int:
    """A frame's identity across processes: its payload length and its CRC-24Q (last 3 bytes)."""
    return ((len(frame) - 6) << 24) | int.from_bytes(frame[-3:], "big")


# --- clients ------------------------------------------------------------------------------------


SO_TIMESTAMPNS = 35  # Linux (asm-generic/socket.h): a receive timestamp on each recvmsg
TIMESPEC = struct.Struct("@qq")


class Rover:
    """One NTRIP 1.0 client's socket and what it received. Each frame gets two times: when its
    last byte reached the socket (the kernel's receive timestamp, ``SO_TIMESTAMPNS``) and when this
    process read it. The first is the caster's delivery latency; the second adds the time this
    process, reading thousands of sockets in turn, took to get to this one."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.buf = bytearray()
        self.in_head = True
        self.kernel_times = array("d")
        self.read_times = array("d")
        self.keys = array("q")
        self.skipped = 0
        self.lost = False  # the server closed the connection
        self.deadline = 0.0

    def receive(self) -> str | None:
        """Read what is there; None while all is well, else why this connection is over."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(65536, 64)
        except BlockingIOError:
            return None
        except OSError as exc:
            self.lost = True
            return type(exc).__name__
        read_at = time.time()
        if not data:
            self.lost = True
            return "closed"
        kernel_at = read_at
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
                sec, nsec = TIMESPEC.unpack_from(value)
                kernel_at = sec + nsec * 1e-9
        buf = self.buf
        buf += data
        if self.in_head:
            if buf.startswith(b"ICY 200 OK\r\n"):  # NTRIP 1.0: str2str sends no blank line after it
                head, end = b"ICY 200 OK", 12 + 2 * buf.startswith(b"\r\n", 12)
            else:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return "no head" if len(buf) > 65536 else None
                head, end = bytes(buf[:end]), end + 4
            del buf[:end]
            self.in_head = False
            if not head.startswith(b"ICY 200"):
                return head.split(b"\r\n", 1)[0].decode("latin-1")
        start = 0
        n = len(buf)
        while n - start >= 3:
            if buf[start] != PREAMBLE:
                nxt = buf.find(b"\xd3", start + 1)
                nxt = n if nxt < 0 else nxt
                self.skipped += nxt - start
                start = nxt
                continue
            size = (((buf[start + 1] & 0x03) << 8) | buf[start + 2]) + 6
            if n - start < size:
                break
            self.keys.append(((size - 6) << 24) | int.from_bytes(buf[start + size - 3 : start + size], "big"))
            self.kernel_times.append(kernel_at)
            self.read_times.append(read_at)
            start += size
        if start:
            del buf[:start]
        return None


def run_clients(args: argparse.Namespace) -> None:
    """On ``go``, connect ``args.n`` rovers (at most ``args.concurrency`` handshakes at once, by
    default all of them; three tries each), report, then read every socket until ``stop`` arrives
    on stdin. Plain epoll, no event loop framework, so that the reading costs as little as Python
    allows."""
    print("armed", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    concurrency = args.concurrency or args.n
    first_connect = time.time()
    last_ok = first_connect
    auth = base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    request = (
        f"GET /{args.mount} HTTP/1.0\r\nHost: {args.host}\r\nUser-Agent: NTRIP bench/1.0\r\n"
        f"Authorization: Basic {auth}\r\n\r\n"
    ).encode()
    sel = selectors.EpollSelector()
    rovers: list[Rover] = []
    failures: dict[str, int] = {}
    todo = [0] * args.n  # tries made, per rover still to connect
    pending: dict[int, tuple[Rover, int]] = {}  # fd -> (rover, tries so far) while handshaking

    def start(tries: int) -> None:
        rover = Rover(request)
        rover.deadline = time.monotonic() + args.timeout
        rover.sock.connect_ex((args.host, args.port))
        sel.register(rover.sock, selectors.EVENT_WRITE, rover)
        pending[rover.sock.fileno()] = (rover, tries + 1)

    def give_up(rover: Rover, tries: int, why: str) -> None:
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(rover.sock)
        pending.pop(rover.sock.fileno(), None)
        rover.sock.close()
        if tries >= 3:
            failures[why] = failures.get(why, 0) + 1
        else:
            todo.append(tries)

    while todo or pending:
        while todo and len(pending) < concurrency:
            start(todo.pop())
        for key, events in sel.select(0.05):
            rover = key.data
            tries = pending[rover.sock.fileno()][1]
            if events & selectors.EVENT_WRITE:
                err = rover.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    give_up(rover, tries, os.strerror(err))
                    continue
                rover.sock.sendall(rover.request)
                sel.modify(rover.sock, selectors.EVENT_READ, rover)
                continue
            why = rover.receive()
            if why is not None:
                give_up(rover, tries, why)
            elif not rover.in_head:
                pending.pop(rover.sock.fileno())
                rovers.append(rover)
                last_ok = time.time()
        now = time.monotonic()
        for rover, tries in [v for v in pending.values() if v[0].deadline < now]:
            give_up(rover, tries, "TimeoutError")
    print(
        f"ready {len(rovers)} {args.n - len(rovers)} {first_connect:.6f} {last_ok:.6f} {failures!r}",
        flush=True,
    )

    sel.register(sys.stdin, selectors.EVENT_READ, None)
    reading = True
    while reading:
        for key, _ in sel.select():
            if key.data is None:  # "stop" (or the parent is gone)
                sys.stdin.readline()
                reading = False
                continue
            rover = key.data
            if rover.receive() is not None:
                sel.unregister(rover.sock)
    for rover in rovers:
        rover.sock.close()

    def joined(field: str, dtype: type) -> np.ndarray:
        parts = [np.frombuffer(getattr(r, field), dtype=dtype) for r in rovers]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    np.savez(
        args.out,
        kernel_times=joined("kernel_times", np.float64),
        read_times=joined("read_times", np.float64),
        keys=joined("keys", np.int64),
        lengths=np.array([len(r.keys) for r in rovers], dtype=np.int64),
        lost=np.array([r.lost for r in rovers], dtype=bool),
        skipped=np.array([r.skipped for r in rovers], dtype=np.int64),
        failed=np.int64(args.n - len(rovers)),
    )
    print("done", flush=True)


# --- source -------------------------------------------------------------------------------------


def from_first_frame(data: bytes) -> bytes:
    """The capture from its first whole frame: a recording starts wherever the stream was (the
    tail of a cut frame), a base station from a frame's start. (pygnssutils' reader, hunting for
    a preamble in such a tail, takes a byte of it for a SPARTN preamble and swallows the first
    two real frames with it.)"""
    for frame in RtcmFramer().feed(data):
        return data[data.find(frame.raw) :]
    return data


async def run_source(args: argparse.Namespace, data: bytes, fifo: BinaryIO | None) -> None:
    """Replay ``data``; ``fifo`` (opened by the caller, outside the loop) is the peer's input."""
    loop = asyncio.get_running_loop()
    pipe: asyncio.WriteTransport | None = None
    tcp: asyncio.StreamWriter | None = None
    if fifo is not None:
        pipe, _ = await loop.connect_write_pipe(asyncio.Protocol, fifo)
    elif args.raw:
        _, tcp = await asyncio.open_connection(args.host, args.port)
    else:
        _, tcp = await open_source(args.host, args.port, args.mount, args.password)
    keys = array("q")
    times = array("d")
    framer = RtcmFramer()
    start = time.monotonic()
    print(f"started {start}", flush=True)
    done = False
    while not done:
        async for piece in paced_chunks(data, speed=args.speed):
            if time.monotonic() - start >= args.seconds:
                done = True
                break
            sent_at = time.time()
            if tcp is not None:
                tcp.write(piece)
                await tcp.drain()
            elif pipe is not None:
                pipe.write(piece)
            for frame in framer.feed(piece):
                keys.append(frame_key(frame.raw))
                times.append(sent_at)
        else:
            await asyncio.sleep(1.0 / args.speed)  # the capture again, one epoch later
    np.savez(args.out, keys=np.frombuffer(keys, dtype=np.int64), times=np.frombuffer(times, dtype=np.float64))
    if tcp is not None:
        tcp.close()
    if pipe is not None:
        pipe.close()
    print(f"sent {len(keys)}", flush=True)


# --- pygnssutils' gnssserver --------------------------------------------------------------------


def run_peer(args: argparse.Namespace) -> None:
    import socketserver

    from pygnssutils.gnssserver import GNSSSocketServer

    if args.queue_size:
        # socketserver's listen backlog is 5: a burst of connections overflows it and the kernel
        # retries SYNs for seconds; ours listens with 4096 - give the peer a comparable backlog
        socketserver.TCPServer.request_queue_size = args.queue_size
    # O_RDWR: the FIFO opens without waiting for a writer and never reads EOF between writers
    stream = os.fdopen(os.open(args.fifo, os.O_RDWR), "rb")
    server = GNSSSocketServer(
        None,
        stream,
        hostip="127.0.0.1",
        outport=args.port,
        maxclients=args.maxclients,
        ntripmode=1,
        ntripversion="1.0",
        ntripuser=args.user,
        ntrippassword=args.password,
        # its fastest honest settings (GNSSStreamer's keyword arguments): raw bytes out; each
        # frame cut by its length and tagged with its message number only (PARSE_META), not
        # parsed by pyrtcm (its CLI's default, PARSE_FULL, ~5.7 ms an epoch here); PARSE_NONE
        # cannot be used: the streamer takes a message without a parsed part for the end of the
        # stream and stops (gnssstreamer.py, _read_loop). RTCM 3 only; errors logged, not raised.
        outformat=2,
        parsing=2,
        protfilter=4,
        quitonerror=1,
        verbosity=0,
    )
    if not server.run():
        print("failed", flush=True)
        sys.exit(1)
    print("listening", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    c = sub.add_parser("clients")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--mount", required=True)
    c.add_argument("--user", required=True)
    c.add_argument("--password", required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--concurrency", type=int, default=0, help="handshakes at once (0: all)")
    c.add_argument("--timeout", type=float, default=20.0)
    c.add_argument("--out", required=True)
    s = sub.add_parser("source")
    s.add_argument("--capture", required=True)
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--speed", type=float, default=1.0)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--mount", default="")
    s.add_argument("--password", default="")
    s.add_argument("--fifo", default="")
    s.add_argument("--raw", action="store_true", help="plain TCP to --port, no NTRIP head")
    s.add_argument("--out", required=True)
    p = sub.add_parser("peer")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--fifo", required=True)
    p.add_argument("--maxclients", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--queue-size", type=int, default=0)
    args = parser.parse_args()
    raise_nofile()
    if args.role == "peer":
        run_peer(args)
        return
    if args.role == "clients":
        run_clients(args)
        return
    fifo = open(args.fifo, "wb", buffering=0) if args.fifo else None  # noqa: SIM115 - the pipe transport owns it
    job = run_source(args, from_first_frame(Path(args.capture).read_bytes()), fifo)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(job)
    else:
        uvloop.run(job)


if __name__ == "__main__":
    main()
