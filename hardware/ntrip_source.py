"""A base station's side of NTRIP: push a receiver's RTCM output (or a capture replayed at its
recorded pace) to a caster mountpoint, over NTRIP 1.0 (``SOURCE``) or 2.0 (chunked ``POST``)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import structlog

from gnss.ntrip.protocol import chunk

log = structlog.get_logger(__name__)


class SourceRefused(Exception):
    pass


async def open_source(
    host: str, port: int, mount: str, password: str, *, version: int = 1, user: str = "source"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    if version == 1:
        writer.write(
            f"SOURCE {password} /{mount}\r\nSource-Agent: NTRIP beidou-mobility/1.0\r\n\r\n".encode()
        )
    else:
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        writer.write(
            (
                f"POST /{mount} HTTP/1.1\r\nHost: {host}:{port}\r\nNtrip-Version: Ntrip/2.0\r\n"
                f"User-Agent: NTRIP beidou-mobility/1.0\r\nAuthorization: Basic {auth}\r\n"
                "Content-Type: gnss/data\r\nTransfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    if b" 200 " not in status + b" ":
        writer.close()
        raise SourceRefused(status.decode(errors="replace").strip() or "closed")
    while await asyncio.wait_for(reader.readline(), 10) not in (b"\r\n", b"\n", b""):
        pass  # the rest of the answer's head
    return reader, writer


async def push(
    source: AsyncIterator[bytes], host: str, port: int, mount: str, password: str, *, version: int = 1
) -> int:
    """Send every piece of ``source`` to the mount; the bytes sent."""
    _, writer = await open_source(host, port, mount, password, version=version)
    sent = 0
    try:
        async for data in source:
            writer.write(chunk(data) if version == 2 else data)
            await writer.drain()
            sent += len(data)
        if version == 2:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    finally:
        writer.close()
    log.info("ntrip_push_done", mount=mount, bytes=sent)
    return sent
