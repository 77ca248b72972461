"""Page sign-in: a token exchanged for a signed, HttpOnly session cookie, and CSRF tokens.

The cookie holds ``role.digest.expiry.mac``: the token's SHA-256 digest (what the database
keeps, never the token), its role, when the sign-in ends, and an HMAC over them with the web
session key. Every request resolves the caller again from the digest with the API's own rules,
so a suspended operator or a rotated admin token ends the session at once.

CSRF: every page carries a random ``beidou_csrf`` cookie (HttpOnly, SameSite=Strict); each form
holds an HMAC of it, which a form post must send back (and an Origin header, where the browser
sends one, must be ours).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from api.state import app_state
from core.errors import Forbidden, Unauthenticated
from core.security import hash_token, hmac_sha256_hex, role_of
from core.settings import Settings
from parking.identity.access import Principal, authenticate, principal_by_digest
from parking.identity.schemas import Role

CONSOLE_COOKIE = "beidou_console"
DRIVER_COOKIE = "beidou_driver"
CSRF_COOKIE = "beidou_csrf"
CSRF_FIELD = "csrf"
DEV_KEY = "dev-only-web-session-key"


def session_key(settings: Settings) -> str:
    """The configured key, else one derived from the admin token (a development constant when
    neither is set)."""
    if settings.web_session_key:
        return settings.web_session_key
    if settings.admin_token:
        return hmac_sha256_hex(settings.admin_token, b"beidou web sessions")
    return DEV_KEY


def _mac(key: str, cookie: str, role: str, digest: str, expires: int) -> str:
    return hmac_sha256_hex(key, f"{cookie}|{role}|{digest}|{expires}".encode())


def sign(key: str, cookie: str, role: str, digest: str, expires: int) -> str:
    return f"{role}.{digest}.{expires}.{_mac(key, cookie, role, digest, expires)}"


def unsign(key: str, cookie: str, value: str, now: float) -> tuple[str, str] | None:
    """``(role, digest)`` of a genuine, unexpired cookie value; ``None`` otherwise."""
    parts = value.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    role, digest, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(key, cookie, role, digest, int(expires))):
        return None
    return (role, digest) if int(expires) > now else None


@dataclass(frozen=True)
class SignIn:
    principal: Principal
    cookie_value: str
    max_age_s: int


async def sign_in(request: Request, cookie: str, token: str, roles: tuple[Role, ...]) -> SignIn:
    """Check the token as the API would; refuse roles this page is not for."""
    state = app_state(request)
    token = token.strip()
    async with state.sessionmaker() as db:
        principal = await authenticate(db, token, admin_token=state.settings.admin_token, cache=state.tokens)
    if principal.role not in roles:
        raise Forbidden(f"these pages are for {' or '.join(roles)} credentials", code="wrong_role")
    role = Role.ADMIN if principal.role == Role.ADMIN else role_of(token) or principal.role
    max_age = int(state.settings.web_session_hours * 3600)
    value = sign(session_key(state.settings), cookie, role, hash_token(token), int(time.time()) + max_age)
    return SignIn(principal, value, max_age)


def set_session_cookie(
    request: Request, response: Response, cookie: str, signed: SignIn, same_site: str
) -> None:
    response.set_cookie(
        cookie,
        signed.cookie_value,
        max_age=signed.max_age_s,
        httponly=True,
        samesite=same_site,  # type: ignore[arg-type]
        secure=request.url.scheme == "https",
        path="/",
    )


async def current(request: Request, cookie: str) -> Principal | None:
    """The signed-in caller of this cookie, or ``None`` (no cookie, forged, expired, revoked)."""
    value = request.cookies.get(cookie)
    if not value:
        return None
    state = app_state(request)
    found = unsign(session_key(state.settings), cookie, value, time.time())
    if found is None:
        return None
    role, digest = found
    try:
        async with state.sessionmaker() as db:
            return await principal_by_digest(
                db, role, digest, admin_token=state.settings.admin_token, cache=state.tokens
            )
    except Unauthenticated:
        return None


class LoginRequired(Exception):
    """A console page asked for without a session: the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


async def console_user(request: Request) -> Principal:
    principal = await current(request, CONSOLE_COOKIE)
    if principal is None or principal.role not in (Role.OPERATOR, Role.ADMIN):
        raise LoginRequired(request.url.path)
    return principal


async def driver_user(request: Request) -> Principal | None:
    principal = await current(request, DRIVER_COOKIE)
    return principal if principal is not None and principal.role == Role.DRIVER else None


ConsoleUser = Annotated[Principal, Depends(console_user)]
DriverUser = Annotated[Principal | None, Depends(driver_user)]


# --- CSRF ------------------------------------------------------------------------------------


def csrf_seed(request: Request) -> str:
    """This browser's CSRF cookie value, or a new one (set on the response by ``page``)."""
    seed = request.cookies.get(CSRF_COOKIE)
    if seed is None or len(seed) < 16:
        seed = getattr(request.state, "csrf_seed", None) or secrets.token_urlsafe(24)
        request.state.csrf_seed = seed
    return seed


def csrf_token(request: Request) -> str:
    return hmac_sha256_hex(session_key(app_state(request).settings), f"csrf|{csrf_seed(request)}".encode())


def set_csrf_cookie(request: Request, response: Response) -> None:
    seed = getattr(request.state, "csrf_seed", None)
    if seed is not None and request.cookies.get(CSRF_COOKIE) != seed:
        response.set_cookie(
            CSRF_COOKIE,
            seed,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token and origin are ours; ``Forbidden`` otherwise."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden("cross-site form post refused", code="cross_site")
    form = await request.form()
    seed = request.cookies.get(CSRF_COOKIE)
    given = form.get(CSRF_FIELD)
    expected = hmac_sha256_hex(session_key(app_state(request).settings), f"csrf|{seed}".encode())
    if not seed or not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again", code="csrf")
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
