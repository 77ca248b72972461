"""The pages' routers: the public map at ``/``, the driver's pages, the console, live streams."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette import status

from api.web import console, console_ops, live, public
from api.web.auth import LoginRequired


async def _to_login(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/console/login?next={exc.next_path}", status_code=status.HTTP_303_SEE_OTHER)


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _to_login)
    for module in (public, console, console_ops, live):
        app.include_router(module.router)
