"""Configuration: URL mapping, environment settings, and the production compose file's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.settings import Settings, async_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("plain", "driver"),
    [
        ("postgresql://user@127.0.0.1:5432/test", "postgresql+asyncpg://user@127.0.0.1:5432/test"),
        ("postgres://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
        ("sqlite:///var/beidou.sqlite3", "sqlite+aiosqlite:///var/beidou.sqlite3"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_plain_urls_map_to_async_drivers(plain: str, driver: str) -> None:
    assert async_database_url(plain) == driver


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIDOU_DATABASE_URL", "postgresql://a@b/c")
    monkeypatch.setenv("BEIDOU_REDIS_URL", "")
    monkeypatch.setenv("BEIDOU_RETENTION_DAYS", "30")
    s = Settings()
    assert s.database_url == "postgresql://a@b/c"
    assert s.redis_url is None  # blank means unset: the in-process store
    assert s.retention_days == 30
    monkeypatch.delenv("BEIDOU_DATABASE_URL")
    assert Settings().database_url == "sqlite:///var/beidou.sqlite3"


def test_compose_file_is_the_production_shape() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "mosquitto", "api", "maas-import"}
    # every long-running service has a healthcheck; one-shot jobs run to completion instead
    assert all("healthcheck" in svc for svc in services.values() if svc.get("restart") != "no")
    depends = services["api"]["depends_on"]
    assert {name: d["condition"] for name, d in depends.items()} == {
        "maas-import": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "mosquitto": "service_healthy",
    }
    # the API serves the network the import job wrote into the shared volume
    assert (
        services["api"]["environment"]["BEIDOU_MAAS_DIR"]
        == services["maas-import"]["environment"]["BEIDOU_MAAS_DIR"]
    )
    assert "maasdata:/data/maas" in services["api"]["volumes"]
    env = services["api"]["environment"]
    known = {f"BEIDOU_{name.upper()}" for name in Settings.model_fields} | {"BEIDOU_WORKERS"}
    assert set(env) <= known, set(env) - known
    assert env["BEIDOU_DATABASE_URL"].startswith("postgresql://")
