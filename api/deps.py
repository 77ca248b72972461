"""Dependencies: one unit of work per request, the caller, and typed aliases for routers.

The unit of work commits *before* the response is sent (``scope="function"``), so a 2xx always
means the data is durable; then the live availability of the lots it touched is refreshed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.state import AppState, app_state
from core.db import is_connection_error
from core.errors import Unavailable
from core.settings import Settings
from parking.access import Principal, authenticate, known_principal
from parking.availability import LiveAvailability
from parking.context import Ctx

bearer = HTTPBearer(auto_error=False, description="Bearer token of an admin, operator, driver or device")


@asynccontextmanager
async def unit_of_work(state: AppState) -> AsyncIterator[Ctx]:
    db = state.sessionmaker()
    try:
        ctx = Ctx(db=db, settings=state.settings)
        try:
            yield ctx
            if db.in_transaction():
                await db.commit()
        except BaseException:
            if db.in_transaction():
                await db.rollback()
            raise
        if ctx.changed_lots:
            await state.live.refresh(db, sorted(ctx.changed_lots), ctx.now)
            await db.commit()
        if ctx.lots_changed:
            await state.live.bump_directory()
    except Exception as exc:
        if is_connection_error(exc):
            raise Unavailable("the database is unavailable; retry shortly") from exc
        raise
    finally:
        # A request served from memory and the live store never touched the database: skip the
        # (greenlet-hopping) close of a session that holds nothing.
        if db.in_transaction() or db.sync_session.identity_map:
            await db.close()


async def get_ctx(request: Request) -> AsyncIterator[Ctx]:
    async with unit_of_work(app_state(request)) as ctx:
        yield ctx


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
