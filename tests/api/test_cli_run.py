"""What `make run` does, step by step, on a fresh directory: migrate the embedded SQLite file,
load the demo district, serve, and let the simulator post events through the real endpoints."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from parking import demo

BEIDOU = [sys.executable, "-m", "api.cli"]
ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_embedded_default_end_to_end(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BEIDOU_ADMIN_TOKEN": "cli-admin",
        "BEIDOU_LOG_LEVEL": "WARNING",
    }
    env.pop("BEIDOU_DATABASE_URL", None)
    env.pop("BEIDOU_REDIS_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*BEIDOU, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    assert run("db", "upgrade").returncode == 0
    assert (tmp_path / "var" / "beidou.sqlite3").exists()  # the default: a file under ./var
    first = run("demo", "load")
    assert first.returncode == 0, first.stderr
    creds = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert len(creds["lots"]) == len(demo.LOTS)
    assert "already loaded" in run("demo", "load").stderr  # idempotent

    port = _port()
    server = subprocess.Popen(
        [*BEIDOU, "serve", "--port", str(port), "--simulate"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        op = {"Authorization": f"Bearer {creds['operator_token']}"}
        names = {lot["name"] for lot in httpx.get(f"{base}/v1/operator/lots", headers=op).json()}
        assert "Wujiaochang Wanda Plaza Garage" in names
        drv = httpx.post(f"{base}/v1/drivers", json={"name": "n", "phone": "+86 138 0000 0000"}).json()
        near = httpx.get(
            f"{base}/v1/lots",
            params={"lat": 31.2990, "lon": 121.5140, "radius_m": 3000},
            headers={"Authorization": f"Bearer {drv['token']}"},
        ).json()
        assert near["lots"][0]["name"] == "Wujiaochang Wanda Plaza Garage"
        deadline = time.monotonic() + 30  # the simulator posts a couple of events a second
        while not httpx.get(f"{base}/v1/operator/sessions", headers=op).json():
            assert time.monotonic() < deadline, "simulator posted nothing"
            time.sleep(0.5)
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
