"""gnss.ntrip.replies: the exact bytes of every answer the caster and the receiver listener send.

Clients match these lines literally, so the expectations are spelled out whole, not rebuilt with
the module's own helpers."""

from __future__ import annotations

import pytest

from gnss.ntrip import replies

SERVER = b"Server: NTRIP beidou-mobility/1.0\r\n"
V2 = b"Ntrip-Version: Ntrip/2.0\r\n"
CLOSE = b"Connection: close\r\n\r\n"


def test_ntrip1_lines() -> None:
    assert (
        replies.source_accepted(1)
        == replies.upload_accepted(1)
        == replies.stream_head(1)
        == b"ICY 200 OK\r\n\r\n"
    )
    assert replies.source_refused(1, "M") == replies.source_refused(1) == b"ERROR - Bad Password\r\n"
    assert replies.mount_taken(1) == b"ERROR - Mount Point Taken\r\n"


def test_bad_request_is_plain_http10() -> None:
    assert (
        replies.bad_request() == b"HTTP/1.0 400 Bad Request\r\n" + SERVER + b"Content-Length: 0\r\n" + CLOSE
    )


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            replies.mount_taken(2),
            b"HTTP/1.1 409 Conflict\r\n" + V2 + SERVER + b"Content-Length: 0\r\n" + CLOSE,
        ),
        (
            replies.not_found(2),
            b"HTTP/1.1 404 Not Found\r\n" + V2 + SERVER + b"Content-Length: 0\r\n" + CLOSE,
        ),
        (replies.upload_accepted(2), b"HTTP/1.1 200 OK\r\n" + V2 + SERVER + b"Content-Length: 0\r\n" + CLOSE),
        (
            replies.source_refused(2),
            b"HTTP/1.1 401 Unauthorized\r\n" + V2 + SERVER + b"Content-Length: 0\r\n" + CLOSE,
        ),
    ],
)
def test_ntrip2_short_answers(reply: bytes, expected: bytes) -> None:
    assert reply == expected


def test_unauthorized_carries_the_mount_challenge_in_both_versions() -> None:
    challenge = b'WWW-Authenticate: Basic realm="/YANGPU1"\r\nContent-Length: 0\r\n' + CLOSE
    assert replies.unauthorized(1, "YANGPU1") == b"HTTP/1.0 401 Unauthorized\r\n" + SERVER + challenge
    assert replies.unauthorized(2, "YANGPU1") == b"HTTP/1.1 401 Unauthorized\r\n" + V2 + SERVER + challenge
    assert replies.source_refused(2, "YANGPU1") == replies.unauthorized(2, "YANGPU1")


def test_caster_accepts_a_v2_source_with_a_bare_head() -> None:
    assert replies.source_accepted(2) == b"HTTP/1.1 200 OK\r\nNtrip-Version: Ntrip/2.0\r\n\r\n"


def test_stream_head_v2_is_chunked() -> None:
    assert replies.stream_head(2) == (
        b"HTTP/1.1 200 OK\r\n" + V2 + SERVER + b"Content-Type: gnss/data\r\n"
        b"Cache-Control: no-store, no-cache, max-age=0\r\nTransfer-Encoding: chunked\r\n" + CLOSE
    )


def test_sourcetable_in_both_versions() -> None:
    body = b"STR;YANGPU1;YANGPU1;RTCM 3.x\r\nENDSOURCETABLE\r\n"
    assert replies.sourcetable_reply(1, body) == (
        b"SOURCETABLE 200 OK\r\n" + SERVER + b"Content-Type: text/plain\r\nContent-Length: 46\r\n\r\n" + body
    )
    assert replies.sourcetable_reply(2, body) == (
        b"HTTP/1.1 200 OK\r\n"
        + V2
        + SERVER
        + b"Content-Type: gnss/sourcetable\r\nContent-Length: 46\r\n"
        + CLOSE
        + body
    )


def test_listener_token_lines() -> None:
    assert replies.TOKEN_OK == b"OK\r\n"
    assert replies.token_refused("unknown device token") == b"ERROR unknown device token\r\n"
