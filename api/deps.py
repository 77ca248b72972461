"""Dependencies: one unit of work per request, the caller, and typed aliases for routers.

The unit of work commits *before* the response is sent (``scope="function"``), so a 2xx always
means the data is durable; then the live availability of the lots it touched is refreshed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.background import send_refunds
from api.state import AppState, app_state
from core.db import is_connection_error
from core.errors import Unavailable
from core.settings import Settings
from parking.availability.service import LiveAvailability
from parking.identity.access import Principal, authenticate, known_principal
from parking.unit import Ctx
from parking.unit import unit_of_work as parking_unit_of_work

bearer = HTTPBearer(auto_error=False, description="Bearer token of an admin, operator, driver or device")


def unit_of_work(state: AppState) -> AbstractAsyncContextManager[Ctx]:
    return parking_unit_of_work(state.sessionmaker, state.settings, state.live, state.autocommit)


async def get_ctx(request: Request) -> AsyncIterator[Ctx]:
    state = app_state(request)
    async with unit_of_work(state) as ctx:
        yield ctx
        if ctx.refunds_queued:  # decided in this unit: sent to the providers once it commits
            ctx.after_commit.append(lambda: send_refunds(state))


CtxDep = Annotated[Ctx, Depends(get_ctx, scope="function")]


async def resolve_principal(state: AppState, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller; a known token costs no database round trip (see ``TokenCache``)."""
    token = credentials.credentials if credentials else None
    admin_token = state.settings.admin_token
    if (known := known_principal(token, admin_token=admin_token, cache=state.tokens)) is not None:
        return known
    try:
        async with state.sessionmaker() as db:
            return await authenticate(db, token, admin_token=admin_token, cache=state.tokens)
    except Exception as exc:
        if is_connection_error(exc):
            raise Unavailable("the database is unavailable; retry shortly") from exc
        raise


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def get_principal(request: Request, credentials: BearerDep) -> Principal:
    return await resolve_principal(app_state(request), credentials)


async def get_state(request: Request) -> AppState:
    return app_state(request)


async def get_live(request: Request) -> LiveAvailability:
    return app_state(request).live


async def get_settings(request: Request) -> Settings:
    return app_state(request).settings


Caller = Annotated[Principal, Depends(get_principal)]
StateDep = Annotated[AppState, Depends(get_state)]
LiveDep = Annotated[LiveAvailability, Depends(get_live)]
