"""Configuration read from the environment (``BEIDOU_*``).

Built once in the app factory or the CLI, never at import time, so tests and workers can run with
different settings in one interpreter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "beidou.sqlite3"
DEV_PLATE_HASH_KEY = "dev-only-plate-key-change-me"
DEV_ITINERARY_KEY = "dev-only-itinerary-key-change-me"
DEV_SANDBOX_SECRET = "dev-only-sandbox-secret-change-me"
MIN_SECRET_CHARS = 16


class ProductionConfigError(ValueError):
    """A production start with a secret left at its public default, missing or too short."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BEIDOU_", extra="ignore")

    env: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start with a default, missing or short secret",
    )

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="postgresql://user@host:port/db or sqlite:///path (async drivers are chosen for you)",
    )
    redis_url: str | None = Field(default=None, description="unset: in-process live store")
    admin_token: str | None = None
    mqtt_url: str | None = Field(default=None, description="mqtt://host:port; unset: no MQTT ingestion")
    mqtt_topic_prefix: str = "beidou/occupancy"
    mqtt_anpr_prefix: str = "beidou/anpr"
    mqtt_gates_prefix: str = "beidou/gates"
    mqtt_group: str | None = Field(
        default=None,
        description="MQTT shared-subscription group; unset: one per database, so the workers of one "
        "deployment share the messages and another deployment on the same broker keeps its own",
    )

    plate_hash_key: str = Field(
        default=DEV_PLATE_HASH_KEY,
        description="key of the HMAC that replaces plates in aggregates and retained records",
    )
    retention_days: int = Field(default=180, ge=1)
    purge_interval_s: float = Field(default=3600.0, gt=0)

    anpr_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    device_clock_skew_s: float = Field(
        default=300.0, ge=0, description="device events dated further ahead of our clock are refused"
    )
    max_stay_h: float = Field(
        default=168.0, gt=0, description="longer stays are held for review, never billed"
    )
    booking_horizon_days: int = Field(default=90, ge=1, description="how far ahead a booking may start")
    max_body_bytes: int = Field(default=2 << 20, ge=1024, description="request bodies above it get 413")
    checkin_early_min: int = 15
    checkin_grace_min: int = 15
    exit_after_payment_min: int = 15
    entrance_window_min: int = 5
    housekeeping_interval_s: float = Field(default=30.0, gt=0)
    search_cache_ttl_s: float = Field(default=1.0, ge=0, description="staleness allowed in lot search")
    live_probe_interval_s: float = Field(default=1.0, gt=0)

    payment_sandbox: bool = Field(
        default=False,
        description="offer the sandbox payment provider (demo checkout, signed callbacks); off unless asked",
    )
    payment_sandbox_secret: str = Field(
        default=DEV_SANDBOX_SECRET, description="HMAC key of the sandbox provider's callbacks"
    )

    itinerary_key: str = Field(default=DEV_ITINERARY_KEY, description="HMAC key of bookable itinerary ids")
    web_session_key: str | None = Field(
        default=None,
        description="HMAC key of the pages' session cookies and CSRF tokens; unset: derived from "
        "BEIDOU_ADMIN_TOKEN (so rotating that token also ends every page session)",
    )
    web_session_hours: float = Field(default=12.0, gt=0, description="a page sign-in lasts this long")
    maas_dir: Path = Field(
        default=Path("var") / "maas", description="imported GTFS/OSM networks (NumPy caches)"
    )

    rtk_caster_url: str | None = Field(
        default=None,
        description="cloud RTK's base source, ntrip://user:pass@host:port/NEAREST; unset: no cloud RTK",
    )
    rtk_workers: int = Field(default=1, ge=1, description="cloud RTK worker processes")
    rtk_transport: Literal["local", "redis"] = Field(
        default="local",
        description="cloud RTK workers: local = processes of this one (embedded default); redis = "
        "`python -m hardware.rtk_stream` workers on any node, fed through Redis streams",
    )
    rtk_redis_url: str | None = Field(default=None, description="Redis of the RTK streams; unset: redis_url")
    ocpp_host: str = Field(default="127.0.0.1", description="interface of the OCPP central system")
    ocpp_port: int = Field(default=9000, ge=0, le=65535, description="OCPP 1.6J central system port")
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator(
        "redis_url",
        "mqtt_url",
        "admin_token",
        "rtk_caster_url",
        "rtk_redis_url",
        "web_session_key",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _production_secrets(self) -> Self:
        """The development defaults are public (they are in this file): a production process
        that would sign plates, itineraries or payment callbacks with one must not start."""
        if self.env != "production":
            return self
        secrets = {
            "BEIDOU_ADMIN_TOKEN": (self.admin_token or "", None),
            "BEIDOU_PLATE_HASH_KEY": (self.plate_hash_key, DEV_PLATE_HASH_KEY),
            "BEIDOU_ITINERARY_KEY": (self.itinerary_key, DEV_ITINERARY_KEY),
        }
        if self.payment_sandbox:
            secrets["BEIDOU_PAYMENT_SANDBOX_SECRET"] = (self.payment_sandbox_secret, DEV_SANDBOX_SECRET)
        bad = [
            name
            for name, (value, default) in secrets.items()
            if value == default or len(value.strip()) < MIN_SECRET_CHARS or "change-me" in value
        ]
        if bad:
            raise ProductionConfigError(
                "refusing a production start (BEIDOU_ENV=production): "
                + ", ".join(bad)
                + f" must be set to a secret of at least {MIN_SECRET_CHARS} characters, not a default"
            )
        return self


def async_database_url(url: str) -> str:
    """Map the plain URLs operators write to the async drivers we run on.

    ``postgresql://`` and ``sqlite:///`` are accepted as they are (the issue's contract); an
    explicit driver (``postgresql+asyncpg://``) is kept.
    """
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")
