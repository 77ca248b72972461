"""Every answer the caster and the receiver listener write on the wire, byte for byte.

Real NTRIP clients and base stations match these lines literally (``ICY 200 OK``, ``ERROR - Bad
Password``), so they are spelled once, here, and the interop tests pin the bytes. NTRIP 1.0
answers are ``ICY``/``SOURCETABLE`` lines, the ``ERROR - ...`` lines of the SOURCE protocol, or
HTTP/1.0 heads; NTRIP 2.0 answers are HTTP/1.1 heads carrying ``Ntrip-Version: Ntrip/2.0``.
The receiver listener's own token protocol answers one line: ``OK`` or ``ERROR <reason>``.
"""

from __future__ import annotations

from typing import Final

SERVER: Final = "NTRIP beidou-mobility/1.0"
ICY_OK: Final = b"ICY 200 OK\r\n\r\n"  # NTRIP 1.0: a stream follows (either direction)
BAD_PASSWORD: Final = b"ERROR - Bad Password\r\n"  # NTRIP 1.0 SOURCE refused
MOUNT_TAKEN: Final = b"ERROR - Mount Point Taken\r\n"  # NTRIP 1.0 SOURCE to a mount in use
TOKEN_OK: Final = b"OK\r\n"  # the listener's token line accepted


def response(version: int, status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """A complete short answer (errors, sourcetables); streams send ``stream_head`` instead."""
    head = [f"HTTP/1.1 {status}" if version == 2 else f"HTTP/1.0 {status}"]
    if version == 2:
        head.append("Ntrip-Version: Ntrip/2.0")
    head.append(f"Server: {SERVER}")
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    head.append(f"Content-Length: {len(body)}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def stream_head(version: int) -> bytes:
    """The head before a rover's stream of RTCM (NTRIP 2.0: chunked until the connection ends)."""
    if version == 1:
        return ICY_OK
    return (
        b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\nServer: NTRIP beidou-mobility/1.0\r\n"
        b"Content-Type: gnss/data\r\nCache-Control: no-store, no-cache, max-age=0\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )


def bad_request() -> bytes:
    """A head we cannot read: its version is unknown, so the plain HTTP/1.0 answer."""
    return response(1, "400 Bad Request")


def sourcetable_reply(version: int, body: bytes) -> bytes:
    """The sourcetable: NTRIP 1.0's ``SOURCETABLE 200 OK`` head, or an HTTP/1.1 ``gnss/sourcetable``."""
    if version == 2:
        return response(2, "200 OK", {"Content-Type": "gnss/sourcetable"}, body)
    head = f"SOURCETABLE 200 OK\r\nServer: {SERVER}\r\nContent-Type: text/plain\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def not_found(version: int) -> bytes:
    return response(version, "404 Not Found")


def unauthorized(version: int, mount: str | None = None) -> bytes:
    """401, with a Basic challenge for ``mount`` when given (clients retry with credentials)."""
    challenge = None if mount is None else {"WWW-Authenticate": f'Basic realm="/{mount}"'}
    return response(version, "401 Unauthorized", challenge)


def source_refused(version: int, mount: str | None = None) -> bytes:
    """A source's password refused: NTRIP 1.0's ``ERROR - Bad Password`` line, 2.0's 401."""
    return BAD_PASSWORD if version == 1 else unauthorized(2, mount)


def mount_taken(version: int) -> bytes:
    """A source for a mount that already has one (or that the caster feeds itself)."""
    return MOUNT_TAKEN if version == 1 else response(2, "409 Conflict")


def source_accepted(version: int) -> bytes:
    """The caster takes a base station's upload: a bare head, the source's bytes follow."""
    return ICY_OK if version == 1 else b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\n\r\n"


def upload_accepted(version: int) -> bytes:
    """The receiver listener takes a rover's NTRIP upload; 2.0 gets a complete short answer."""
    return ICY_OK if version == 1 else response(2, "200 OK")


def token_refused(reason: str) -> bytes:
    """The listener's token line refused, with the reason for the device's log."""
    return f"ERROR {reason}\r\n".encode()
