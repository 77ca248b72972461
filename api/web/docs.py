"""``/docs`` (Swagger UI) and ``/redoc`` from vendored assets: the API's documentation must open
on an offline machine, so nothing is fetched from a CDN, fonts or an online validator."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.web.render import HERE

STATIC_URL = "/static"
SWAGGER = f"{STATIC_URL}/vendor/swagger-ui-5.36.0"
REDOC = f"{STATIC_URL}/vendor/redoc-2.5.4"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# The browser itself refuses anything from another host: ReDoc's footer asks cdn.redoc.ly for a
# logo (its img then removes itself on the error); fonts and validators would be next.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'"
)


def _local_only(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


def install(app: FastAPI) -> None:
    """Mount the static files and the two documentation pages (the app is built with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN-based pages are not registered)."""
    app.mount(STATIC_URL, StaticFiles(directory=HERE / "static"), name="static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - API",
                swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                swagger_css_url=f"{SWAGGER}/swagger-ui.css",
                swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
                oauth2_redirect_url=OAUTH2_REDIRECT,
                swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
            )
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{REDOC}/redoc.standalone.js",
                redoc_favicon_url=f"{SWAGGER}/favicon-32x32.png",
                with_google_fonts=False,
            )
        )
