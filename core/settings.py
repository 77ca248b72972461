"""Configuration read from the environment (``BEIDOU_*``).

Built once in the app factory or the CLI, never at import time, so tests and workers can run with
different settings in one interpreter.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var") / "beidou.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BEIDOU_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="postgresql://user@host:port/db or sqlite:///path (async drivers are chosen for you)",
    )
    redis_url: str | None = Field(default=None, description="unset: in-process live store")
    admin_token: str | None = None
    mqtt_url: str | None = Field(default=None, description="mqtt://host:port; unset: no MQTT ingestion")
    mqtt_topic_prefix: str = "beidou/occupancy"

    plate_hash_key: str = Field(
        default="dev-only-plate-key-change-me",
        description="key of the HMAC that replaces plates in aggregates and retained records",
    )
    retention_days: int = Field(default=180, ge=1)
    purge_interval_s: float = Field(default=3600.0, gt=0)

    anpr_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    checkin_early_min: int = 15
    checkin_grace_min: int = 15
    exit_after_payment_min: int = 15
    entrance_window_min: int = 5
    housekeeping_interval_s: float = Field(default=30.0, gt=0)
    search_cache_ttl_s: float = Field(default=1.0, ge=0, description="staleness allowed in lot search")
    live_probe_interval_s: float = Field(default=1.0, gt=0)

    payment_sandbox_secret: str = "sandbox-secret-change-me"

    itinerary_key: str = Field(
        default="dev-only-itinerary-key-change-me", description="HMAC key of bookable itinerary ids"
    )
    maas_dir: Path = Field(
        default=Path("var") / "maas", description="imported GTFS/OSM networks (NumPy caches)"
    )

    rtk_caster_url: str | None = Field(
        default=None,
        description="cloud RTK's base source, ntrip://user:pass@host:port/NEAREST; unset: no cloud RTK",
    )
    rtk_workers: int = Field(default=1, ge=1, description="cloud RTK worker processes")
    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("redis_url", "mqtt_url", "admin_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


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
