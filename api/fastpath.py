"""Lot search without FastAPI's per-request machinery.

``GET /v1/lots`` is the read every driver app polls. Measured with py-spy under load, FastAPI's
routing, dependency solving and query validation cost about as much as the search itself. This
ASGI layer answers the common, well-formed request directly: a known bearer token and plain
``lat``/``lon``/``radius_m``/``kind`` parameters. Anything else - a missing or unknown token, a
value out of range or spelled unusually, ``at``, a repeated parameter, or any error during the
search - falls through to the FastAPI route, which stays the single source of validation errors,
problem+json bodies and the OpenAPI description. The fast path only ever *accepts* a subset of
what the route accepts; ``tests/api/test_fastpath.py`` checks both answer alike.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import resolve_principal, unit_of_work
from api.errors import PROBLEM, domain_problem, problem_parts, unexpected_problem
from api.state import AppState
from core.errors import DomainError
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn
from parking.identity.access import known_principal
from parking.search import service as search

log = structlog.get_logger(__name__)

PATH = "/v1/lots"
KINDS = frozenset({"garage", "surface", "on_street", "residential_shared"})
# Plain decimal numbers only: whatever else pydantic might accept is left to the route.
NUMBER = re.compile(r"-?\d{1,12}(?:\.\d{1,15})?")
RADIUS_DEFAULT = 1000.0
JSON_HEADERS = [(b"content-type", b"application/json")]


def parse_search_query(query: str) -> dict[str, Any] | None:
    """The search arguments, or None when the request must take the full route."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True, max_num_fields=8)
    except ValueError:
        return None
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= {"lat", "lon", "radius_m", "kind"}:
        return None
    values: dict[str, float] = {}
    for name in ("lat", "lon", "radius_m"):
        text = params.get(name)
        if text is None:
            continue
        if not NUMBER.fullmatch(text):
            return None
        values[name] = float(text)
    lat, lon = values.get("lat"), values.get("lon")
    radius = values.get("radius_m", RADIUS_DEFAULT)
    if lat is None or lon is None or not all(math.isfinite(v) for v in (lat, lon, radius)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= 50_000):
        return None
    kind = params.get("kind")
    if kind is not None and kind not in KINDS:
        return None
    return {"lat": lat, "lon": lon, "radius_m": radius, "kind": kind}


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


@dataclass(frozen=True)
class RouteLabel:
    """What the access log and the metrics read from ``scope["route"]`` (its path template), for
    answers given before any route is matched (FastAPI keeps included routers' routes inside
    ``_IncludedRouter`` objects, out of reach of ``app.routes``)."""

    path: str


SEARCH_ROUTE = RouteLabel(PATH)


class SearchFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            body = await self._answer(scope)
            if body is not None:
                scope["route"] = SEARCH_ROUTE  # for the access log and metrics labels
                headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope) -> bytes | None:
        state: AppState | None = getattr(scope["app"].state, "beidou", None)
        if state is None:
            return None
        args = parse_search_query(scope["query_string"].decode("latin-1"))
        if args is None:
            return None
        token = bearer_token(scope)
        if token is None:
            return None
        principal = known_principal(token, admin_token=state.settings.admin_token, cache=state.tokens)
        if principal is None:  # an uncached token: the route authenticates it (or answers 401)
            return None
        try:
            async with unit_of_work(state) as ctx:
                result = await search.search(ctx, state.live, state.directory, at=None, **args)
        except Exception as exc:  # a read: the route does it again and answers the error properly
            log.info("search_fast_path_fell_back", error=type(exc).__name__)
            return None
        return orjson.dumps(result)


# --- POST /v1/bookings ---------------------------------------------------------------------------

BOOKINGS = "/v1/bookings"
BOOKINGS_ROUTE = RouteLabel(BOOKINGS)
KEY_HEADER = b"idempotency-key"


class BookingFastPath:
    """``POST /v1/bookings`` without FastAPI's per-request machinery (PostgreSQL only).

    With the booking itself down to one round trip (``beidou_book``), routing, dependency solving
    and response validation were most of a booking's CPU. This layer takes the common, well-formed
    request: a bearer token, ``Content-Type: application/json``, a body that ``BookingIn``
    accepts, at most one ``Idempotency-Key`` of 1-128 characters and no query. It authenticates
    as the route does (``resolve_principal``: the token cache, else one lookup), calls the same
    service in the same unit of work (committed before the answer) and answers
    what the route answers: the booking (201, or 200 for a replay) or the problem+json of a
    domain error. Anything else falls through to the route, with the body it had read, before
    anything was booked; ``tests/api/test_fastpath.py`` checks both answer alike.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == BOOKINGS
            and scope["method"] == "POST"
            and not scope["query_string"]
        ):
            state: AppState | None = getattr(scope["app"].state, "beidou", None)
            if state is not None and state.autocommit is not None:
                request = _booking_request(scope)
                if request is not None:
                    body, more = await _read_body(receive)
                    if not more:
                        answered = await self._answer(scope, send, state, request, body)
                        if answered:
                            return
                    receive = _replay(body, more, receive)
        await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, send: Send, state: AppState, request: tuple[str, str | None], body: bytes
    ) -> bool:
        token, key = request
        try:
            data = BookingIn.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError):
            return False  # the route answers it (422 with the schema's errors)
        scope["route"] = BOOKINGS_ROUTE  # for the access log and metrics labels
        try:
            # the route's own authentication: a token not seen for a while (the cache keeps them
            # seconds) costs its lookup here rather than the whole FastAPI route besides
            principal = await resolve_principal(
                state, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
            )
            async with unit_of_work(state) as ctx:
                booking, created = await bookings.create_booking(ctx, principal, data, key)
        except DomainError as exc:
            status, detail, code, extra = domain_problem(exc)
            await _send_problem(scope, send, status, detail, code, extra)
            return True
        except Exception as exc:
            status, detail, code = unexpected_problem(scope["path"], exc)
            await _send_problem(scope, send, status, detail, code, {})
            return True
        await _send(send, 201 if created else 200, booking.__pydantic_serializer__.to_json(booking), JSON)
        return True


JSON = b"application/json"


def _booking_request(scope: Scope) -> tuple[str, str | None] | None:
    """The bearer token and the Idempotency-Key of a request the fast path may take, else None."""
    token: str | None = None
    key: str | None = None
    content_type: bytes | None = None
    seen: set[bytes] = set()
    for name, value in scope["headers"]:
        if name in (b"authorization", KEY_HEADER, b"content-type"):
            if name in seen:
                return None  # repeated: the route decides which counts
            seen.add(name)
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            token = rest if scheme.lower() == "bearer" and rest else None
        elif name == KEY_HEADER:
            key = value.decode("latin-1")
            if not 1 <= len(key) <= 128:
                return None
        elif name == b"content-type":
            content_type = value
    if token is None or content_type is None:
        return None
    if content_type.split(b";", 1)[0].strip().lower() != JSON:
        return None
    return token, key


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request's body; ``more`` when the client disconnected before it ended."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, ended_early: bool, receive: Receive) -> Receive:
    """A receive that hands the route the body this layer already read, then the rest."""
    done = False

    async def replayed() -> Message:
        nonlocal done
        if not done:
            done = True
            if not ended_early:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}
        return await receive()

    return replayed


async def _send(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_problem(
    scope: Scope, send: Send, status: int, detail: str, code: str, extra: dict[str, Any]
) -> None:
    body, headers = problem_parts(scope, status, detail, code=code, **extra)
    # rendered as Starlette's JSONResponse renders the route's problems, byte for byte
    payload = json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    encoded = payload.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(encoded)).encode()),
                (b"content-type", PROBLEM.encode()),
                *raw,
            ],
        }
    )
    await send({"type": "http.response.body", "body": encoded})
