"""Entry point for ASGI servers: ``uvicorn --factory api.main:create``."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app


def create() -> FastAPI:
    return create_app(ocpp=True)  # `beidou serve`: the API and the OCPP central system
