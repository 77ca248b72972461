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


def test_production_refuses_default_or_missing_secrets() -> None:
    from pydantic import ValidationError

    strong = {
        "admin_token": "a" * 32,
        "plate_hash_key": "p" * 32,
        "itinerary_key": "i" * 32,
    }
    assert Settings(env="production", **strong).env == "production"
    with pytest.raises(ValidationError, match="BEIDOU_PLATE_HASH_KEY"):
        Settings(env="production", **{**strong, "plate_hash_key": "dev-only-plate-key-change-me"})
    with pytest.raises(ValidationError, match="BEIDOU_ADMIN_TOKEN"):
        Settings(env="production", **{**strong, "admin_token": None})
    with pytest.raises(ValidationError, match="BEIDOU_ITINERARY_KEY"):
        Settings(env="production", **{**strong, "itinerary_key": "short"})
    # the sandbox provider in production only with a real secret of its own
    with pytest.raises(ValidationError, match="BEIDOU_PAYMENT_SANDBOX_SECRET"):
        Settings(env="production", payment_sandbox=True, **strong)
    with pytest.raises(ValidationError, match="BEIDOU_PAYMENT_SANDBOX_SECRET"):
        Settings(env="production", payment_sandbox=True, payment_sandbox_secret="change-me", **strong)
    ok = Settings(env="production", payment_sandbox=True, payment_sandbox_secret="s" * 32, **strong)
    assert ok.payment_sandbox
    # development keeps working with the defaults, and the sandbox stays off unless asked for
    assert Settings().payment_sandbox is False


def test_compose_production_services_have_no_sandbox_unless_asked() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("api", "gnss-listener", "ntrip-caster"):
        env = compose["services"][name]["environment"]
        assert env["BEIDOU_ENV"] == "production", name
        assert "change-me" not in str(env), name
    api = compose["services"]["api"]["environment"]
    assert api["BEIDOU_PAYMENT_SANDBOX"] == "${BEIDOU_PAYMENT_SANDBOX:-false}"
    assert api["BEIDOU_PAYMENT_SANDBOX_SECRET"] == "${BEIDOU_PAYMENT_SANDBOX_SECRET:-}"


def test_a_production_start_with_default_secrets_exits_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("BEIDOU_ENV", "production")
    monkeypatch.delenv("BEIDOU_ADMIN_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["admin-token"])
    assert result.exit_code == 2
    assert "refusing a production start" in result.output and "Traceback" not in result.output
