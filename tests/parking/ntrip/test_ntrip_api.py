"""NTRIP accounts through the operator API and the CLI, and the caster's live state on the API
(``GET /v1/ntrip/mounts``, ``/metrics``), with a real caster relaying a real capture."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from pyrtcm import RTCMReader
from typer.testing import CliRunner

from api.cli import app as cli
from gnss.ntrip.caster import Caster
from hardware.ntrip_source import open_source
from parking.ntrip.accounts import DatabaseAccounts
from parking.ntrip.live import SNAPSHOT_KEY, SNAPSHOT_STALE_S, publish_caster_state
from tests.support import Client

CAPTURE = Path(__file__).parents[2] / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"


async def test_operators_manage_only_their_own_ntrip_accounts(client: Client) -> None:
    op, other = await client.operator("Op"), await client.operator("Other")
    r = await client.http.post(
        "/v1/operator/ntrip/mounts",
        json={"name": "YP01", "source_password": "base-secret", "identifier": "Yangpu"},
        headers=op.h,
    )
    assert r.status_code == 201 and r.json()["name"] == "YP01"
    dup = await client.http.post(
        "/v1/operator/ntrip/mounts", json={"name": "YP01", "source_password": "xxxxxxxx"}, headers=other.h
    )
    assert dup.status_code == 409
    bad = await client.http.post(
        "/v1/operator/ntrip/mounts", json={"name": "no spaces", "source_password": "xxxxxxxx"}, headers=op.h
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert [m["name"] for m in (await client.http.get("/v1/operator/ntrip/mounts", headers=op.h)).json()] == [
        "YP01"
    ]
    assert (await client.http.get("/v1/operator/ntrip/mounts", headers=other.h)).json() == []
    # users reach the operator's own mounts only
    foreign = await client.http.post(
        "/v1/operator/ntrip/users",
        json={"name": "r1", "password": "rover-secret", "mounts": ["YP01"]},
        headers=other.h,
    )
    assert foreign.status_code == 404
    unlimited = await client.http.post(
        "/v1/operator/ntrip/users", json={"name": "r1", "password": "rover-secret"}, headers=op.h
    )
    assert unlimited.status_code == 422 and unlimited.json()["code"] == "mounts_required"
    ok = await client.http.post(
        "/v1/operator/ntrip/users",
        json={"name": "r1", "password": "rover-secret", "mounts": ["YP01"]},
        headers=op.h,
    )
    assert ok.status_code == 201 and ok.json()["mounts"] == ["YP01"]
    assert (await client.http.delete("/v1/operator/ntrip/mounts/YP01", headers=other.h)).status_code == 404
    assert (await client.http.delete("/v1/operator/ntrip/users/r1", headers=other.h)).status_code == 404
    driver = await client.driver()
    assert (await client.http.get("/v1/operator/ntrip/mounts", headers=driver.h)).status_code == 403
    assert (await client.http.get("/v1/operator/ntrip/mounts")).status_code == 401
    admin_view = (await client.http.get("/v1/operator/ntrip/mounts", headers=client.admin.h)).json()
    assert [m["name"] for m in admin_view] == ["YP01"]
    assert (await client.http.delete("/v1/operator/ntrip/users/r1", headers=op.h)).status_code == 204
    assert (await client.http.delete("/v1/operator/ntrip/mounts/YP01", headers=op.h)).status_code == 204
    assert (await client.http.get("/v1/operator/ntrip/mounts", headers=op.h)).json() == []


async def test_caster_state_on_the_api_and_metrics(client: Client) -> None:
    op, other = await client.operator("Op"), await client.operator("Other")
    r = await client.http.post(
        "/v1/operator/ntrip/mounts", json={"name": "YP01", "source_password": "base-secret"}, headers=op.h
    )
    assert r.status_code == 201
    state = client.app.state.beidou
    caster = Caster(DatabaseAccounts(state.sessionmaker), source_timeout_s=5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = await caster.serve("127.0.0.1", port)
    async with server:
        _, source = await open_source("127.0.0.1", port, "YP01", "base-secret")  # accepted without a restart
        source.write(CAPTURE.read_bytes())
        await source.drain()
        for _ in range(250):
            if "YP01" in caster.mounts and caster.mounts["YP01"].stats.frames == 769:
                break
            await asyncio.sleep(0.02)
        publisher = asyncio.create_task(publish_caster_state(state.live_store, caster.snapshot))
        await asyncio.sleep(0.05)  # its first snapshot (`beidou ntrip serve` publishes every second)
        mounts = (await client.http.get("/v1/ntrip/mounts", headers=op.h)).json()
        assert (await client.http.get("/v1/ntrip/mounts", headers=other.h)).json() == []
        metrics = (await client.http.get("/metrics")).text
        publisher.cancel()
        # a caster that stopped cannot say so: a snapshot older than SNAPSHOT_STALE_S shows offline
        old = {"at": time.time() - SNAPSHOT_STALE_S - 1, "mounts": caster.snapshot()}
        await state.live_store.set_json(SNAPSHOT_KEY, old)
        stale = (await client.http.get("/v1/ntrip/mounts", headers=op.h)).json()
        assert [(m["mount"], m["online"], m["clients"]) for m in stale] == [("YP01", False, 0)]
        source.close()
        await caster.close()
    (yp,) = mounts
    assert yp["mount"] == "YP01" and yp["online"] is True and yp["clients"] == 0
    frames = [raw for raw, _ in RTCMReader(io.BytesIO(CAPTURE.read_bytes()), quitonerror=0)]
    assert yp["frames"] == len(frames) == 769 and yp["bytes_in"] == sum(map(len, frames))  # whole frames only
    assert yp["base"]["lat"] == pytest.approx(34.44, abs=0.01) and yp["message_rates_s"]["1005"] >= 1
    assert 'beidou_ntrip_mount_frames_total{mount="YP01"} 769.0' in metrics
    assert 'beidou_ntrip_mount_message_period_seconds{mount="YP01",type="1127"}' in metrics


def test_cli_manages_mounts_and_users(backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIDOU_DATABASE_URL", backend.database_url)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["ntrip", "mount", "add", "CLI01", "--source-password", "s3cret-pw"]).exit_code
        == 0
    )
    taken = runner.invoke(cli, ["ntrip", "mount", "add", "CLI01", "--source-password", "other-pw"])
    assert taken.exit_code != 0
    assert (
        runner.invoke(
            cli, ["ntrip", "user", "add", "rover9", "--password", "pw-pw-pw", "--mounts", "CLI01"]
        ).exit_code
        == 0
    )
    mounts = json.loads(runner.invoke(cli, ["ntrip", "mount", "list", "--json"]).stdout)
    users = json.loads(runner.invoke(cli, ["ntrip", "user", "list", "--json"]).stdout)
    assert "CLI01" in [m["name"] for m in mounts]
    assert {"name": "rover9", "mounts": ["CLI01"]}.items() <= next(
        u for u in users if u["name"] == "rover9"
    ).items()
    assert runner.invoke(cli, ["ntrip", "user", "remove", "rover9"]).exit_code == 0
    assert runner.invoke(cli, ["ntrip", "mount", "remove", "CLI01"]).exit_code == 0
    assert "CLI01" not in [
        m["name"] for m in json.loads(runner.invoke(cli, ["ntrip", "mount", "list", "--json"]).stdout)
    ]
