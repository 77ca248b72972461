"""Rendering a page: the template, the caller's language, security headers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.web.auth import csrf_token, set_csrf_cookie
from api.web.i18n import LANG_COOKIE, LANGUAGES, language, local_time, translator, yuan
from parking.search.schemas import LotCard

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["yuan"] = yuan
templates.env.globals["local"] = local_time

# pages load nothing from other hosts: every script, style and font is ours
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)


def cards_json(cards: Sequence[LotCard]) -> Markup:
    """The map's markers as JSON safe inside a ``<script type="application/json">``."""
    rows = [
        {
            "id": str(c.id),
            "name": c.name,
            "kind": c.kind,
            "lat": c.lat,
            "lon": c.lon,
            "capacity": c.capacity,
            "free_spaces": c.free_spaces,
        }
        for c in cards
    ]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    response = templates.TemplateResponse(
        request,
        template,
        {"lang": lang, "t": translator(lang), "csrf": csrf_token(request), **context},
        status_code=status_code,
    )
    set_csrf_cookie(request, response)
    if request.query_params.get("lang") in LANGUAGES:  # the switch link: remembered
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # so form posts carry our Origin
    response.headers["Cache-Control"] = "no-store"  # pages show live, per-caller data
    return response
