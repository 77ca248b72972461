"""RFC 9457 problem+json for every error, so clients parse one shape and never see a bare 500.

The status table is the only place that maps domain errors to HTTP.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from core.db import is_connection_error
from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Unavailable: 503,
}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body, hdrs = problem_parts(request.scope, status, detail, code=code, headers=headers, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=hdrs)


def problem_parts(
    scope: Scope,
    status: int,
    detail: str,
    *,
    code: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The problem's body and headers (shared with the ASGI fast paths, which have no Request)."""
    body = {
        "type": f"https://beidou-mobility.example/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": scope["path"],
        **extra,
    }
    if request_id := scope.get("request_id"):
        body["request_id"] = request_id
    hdrs = dict(headers or {})
    if status == 401:
        hdrs.setdefault("WWW-Authenticate", "Bearer")
    if status == 503:
        hdrs.setdefault("Retry-After", "1")
    return body, hdrs


def domain_problem(exc: DomainError) -> tuple[int, str, str, dict[str, Any]]:
    """``(status, detail, code, extra)`` of a domain error: the status table's answer."""
    return status_of(exc), exc.detail, exc.code, exc.extra


def status_of(exc: DomainError) -> int:
    """The HTTP status of a domain error (the pages answer with it too)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem(request, status_of(exc), exc.detail, code=exc.code, **exc.extra)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    if errors and all(e["loc"][:2] == ["header", "Idempotency-Key"] for e in errors):
        return problem(
            request, 422, "an Idempotency-Key header (1-128 characters) is required", code="idempotency_key"
        )
    return problem(request, 422, "the request does not match the schema", code="validation", errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(
        request,
        exc.status_code,
        str(exc.detail),
        code=getattr(exc, "code", None) or f"http_{exc.status_code}",
        headers=dict(exc.headers or {}),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    status, detail, code = unexpected_problem(request.url.path, exc)
    return problem(request, status, detail, code=code)


def unexpected_problem(path: str, exc: Exception) -> tuple[int, str, str]:
    """``(status, detail, code)``: 503 when the database is away, else 500 (logged with its
    traceback)."""
    if is_connection_error(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return 503, "the database is unavailable; retry shortly", "unavailable"
    log.exception("unhandled_error", path=path)
    return 500, "internal error", "internal"


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
