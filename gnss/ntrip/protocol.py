"""NTRIP 1.0 and 2.0 request heads, decided per request.

NTRIP 1.0 is almost HTTP/1.0: ``GET /MOUNT HTTP/1.0`` answered by ``ICY 200 OK``, and sources
push with ``SOURCE <password> /<mount>``. NTRIP 2.0 is real HTTP/1.1 with an ``Ntrip-Version:
Ntrip/2.0`` header, chunked bodies, ``POST`` for sources and ``Ntrip-GGA`` for the rover's position.
What we answer is spelled in ``gnss.ntrip.replies``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

MAX_HEAD = 8192  # bytes of request line + headers; more is refused


class BadRequest(Exception):
    """The head is not a request we can answer; the connection is answered 400 or closed."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str  # GET, POST or SOURCE
    mount: str  # without the leading '/'; '' for the sourcetable
    version: int  # 1 or 2
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    user: str | None = None
    password: str | None = None

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


def parse_head(head: bytes) -> Request:
    """The request head up to (not including) the blank line."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise BadRequest("undecodable head") from exc
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    request_line = lines[0].strip()
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadRequest(f"malformed header line {line[:40]!r}")
        headers[name.strip().lower()] = value.strip()
    parts = request_line.split()
    if not parts:
        raise BadRequest("empty request line")
    if parts[0] == "SOURCE":  # NTRIP 1.0 source: SOURCE <password> /<mount>
        if len(parts) < 3:
            raise BadRequest("SOURCE needs a password and a mountpoint")
        return Request("SOURCE", _mount(parts[2]), 1, headers, None, parts[1])
    if len(parts) != 3 or parts[0] not in ("GET", "POST") or not parts[2].startswith("HTTP/"):
        raise BadRequest(f"unsupported request line {request_line[:60]!r}")
    version = 2 if headers.get("ntrip-version", "").lower().startswith("ntrip/2") else 1
    user, password = basic_credentials(headers.get("authorization"))
    return Request(parts[0], _mount(parts[1]), version, headers, user, password)


def _mount(path: str) -> str:
    path = path.split("?", 1)[0]
    if not path.startswith("/") or len(path) > 101 or any(c in path[1:] for c in "/ \t"):
        raise BadRequest(f"bad mountpoint {path[:40]!r}")
    return path[1:]


def basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class ChunkDecoder:
    """HTTP/1.1 chunked transfer decoding for a source's upload, fed in any pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = 0  # bytes of the current chunk still to come
        self._trailer = 0  # CRLF after a chunk still to skip
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while self._buf and not self.done:
            if self._trailer:
                take = min(self._trailer, len(self._buf))
                del self._buf[:take]
                self._trailer -= take
                continue
            if self._left:
                take = min(self._left, len(self._buf))
                out += self._buf[:take]
                del self._buf[:take]
                self._left -= take
                if not self._left:
                    self._trailer = 2
                continue
            end = self._buf.find(b"\r\n")
            if end < 0:
                if len(self._buf) > 32:
                    raise BadRequest("bad chunk size line")
                break
            size_text = bytes(self._buf[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise BadRequest("bad chunk size") from exc
            del self._buf[: end + 2]
            if size == 0:
                self.done = True
            self._left = size
        return bytes(out)
