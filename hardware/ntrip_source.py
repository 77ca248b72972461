"""A base station's side of NTRIP: push a receiver's RTCM output (or a capture replayed at its
recorded pace) to a caster mountpoint, over NTRIP 1.0 (``SOURCE``) or 2.0 (chunked ``POST``)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import structlog

from gnss.ntrip.protocol import chunk
from hardware.gnss_agent import AgentStats, Forwarder, LoginRefused, relay

log = structlog.get_logger(__name__)


class SourceRefused(LoginRefused):
    """The caster refused the mount or its password: retrying will not help."""


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
) -> AgentStats:
    """Send every piece of ``source`` to the mount, reconnecting with backoff when the caster goes
    away (a base station keeps producing corrections meanwhile; they wait in a bounded buffer)."""

    async def connect() -> asyncio.StreamWriter:
        _, writer = await open_source(host, port, mount, password, version=version)
        log.info("ntrip_source_connected", mount=mount, version=version)
        return writer

    stats = await relay(source, Forwarder(connect, encode=chunk if version == 2 else bytes))
    log.info("ntrip_push_done", mount=mount, bytes=stats.bytes_sent)
    return stats
