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

import math
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import unit_of_work
from api.state import AppState
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


class SearchFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            body = await self._answer(scope)
            if body is not None:
                scope["route"] = self._route_of(scope)  # for the access log and metrics labels
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

    def _route_of(self, scope: Scope) -> Any:
        if self._route is None:
            for route in scope["app"].routes:
                if getattr(route, "path", None) == PATH and "GET" in getattr(route, "methods", ()):
                    self._route = route
                    break
        return self._route
