"""What `make run` does, on a fresh directory: migrate the embedded SQLite file, load the demo
district, and serve the whole district from one process (API, NTRIP caster, receiver listener,
cloud RTK workers, MQTT ingestion, every simulated device); then Ctrl-C stops all of it. And the
production layout's shape: separate caster and API processes sharing live state through Redis."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from parking import demo
from tests.support import IN_CI, REDIS_URL

BEIDOU = [sys.executable, "-m", "api.cli"]
ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "tests" / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
ADMIN = "cli-admin-token-for-tests"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BEIDOU_ADMIN_TOKEN": ADMIN,
        "BEIDOU_LOG_LEVEL": "WARNING",
        "BEIDOU_OCPP_PORT": str(_port()),  # never the default 9000 another run may hold
        **extra,
    }
    for name in ("BEIDOU_DATABASE_URL", "BEIDOU_REDIS_URL", "BEIDOU_MQTT_URL", "BEIDOU_RTK_CASTER_URL"):
        if name not in extra:
            env.pop(name, None)
    return env


def _until(what: str, timeout_s: float, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if value := check():
                return value
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
    except OSError:
        return True
    return False


def _mqtt_broker() -> bool:
    return not _closed(1883)


def test_the_whole_district_from_one_command(tmp_path: Path) -> None:
    env = _env(BEIDOU_PAYMENT_SANDBOX="true")

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
    assert creds["driver"]["plate"] == demo.DEMO_PLATE and creds["driver"]["booking_id"]
    assert {b["mount"] for b in creds["ntrip"]["bases"]} == {name for name, _ in demo.DEMO_MOUNTS}
    assert [c["charge_point_id"] for c in creds["chargers"]] == [c for c, *_ in demo.DEMO_CHARGERS]
    assert "already loaded" in run("demo", "load").stderr  # idempotent

    api, caster, listener = _port(), _port(), _port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [
            *BEIDOU,
            "serve",
            "--district",
            "--simulate",
            "--port",
            str(api),
            "--caster-port",
            str(caster),
            "--listener-port",
            str(listener),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C addresses
    )
    base = f"http://127.0.0.1:{api}"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    driver = {"Authorization": f"Bearer {creds['driver']['token']}"}
    operator = {"Authorization": f"Bearer {creds['operator_token']}"}
    try:
        _until("the API", 90, lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200)
        # every part answers on its port: the caster's sourcetable, the listener's login line
        with socket.create_connection(("127.0.0.1", caster), 5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert s.recv(64).startswith(b"SOURCETABLE 200 OK")
        with socket.create_connection(("127.0.0.1", listener), 5) as s:
            s.sendall(b"not-a-token\r\n")
            assert s.recv(64).startswith(b"ERROR")

        def mounts_online() -> list[dict[str, Any]]:
            mounts = httpx.get(f"{base}/v1/ntrip/mounts", headers=admin, timeout=5).json()
            return [m for m in mounts if m["online"] and m["clients"] >= 1 and m["mount"] != "NEAREST"]

        # the demo's bases come online in any order: wait for the one with a known position
        def hiroshima_online() -> list[dict[str, Any]]:
            online = mounts_online()
            return online if demo.DEMO_MOUNTS[0][0] in {m["mount"] for m in online} else []

        online = _until("the Hiroshima base online with a rover", 60, hiroshima_online)
        hiroshima = next(m for m in online if m["mount"] == demo.DEMO_MOUNTS[0][0])
        assert hiroshima["base"]["lat"] == pytest.approx(34.4, abs=0.1)  # from the capture's 1005
        assert {"1005", "1077", "1127"} <= set(hiroshima["message_rates_s"])

        receiver = creds["driver"]["receiver_id"]

        def rtk_fixed() -> list[Any]:
            track = httpx.get(f"{base}/v1/me/receivers/{receiver}/track", headers=driver, timeout=5).json()
            props = track["properties"]
            return [raw for raw, q in zip(props["raw"], props["quality"], strict=True) if q == 4]

        fixed = _until("cloud-RTK fixed positions in the demo car's track", 60, rtk_fixed)
        # zero baseline: the fixes sit on the capture's own antenna position (its 1005 ARP)
        lon, lat, _ = fixed[-1]
        assert lat == pytest.approx(hiroshima["base"]["lat"], abs=1e-6)
        assert lon == pytest.approx(hiroshima["base"]["lon"], abs=1e-6)

        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        rtk_line = next(
            ln for ln in metrics.splitlines() if ln.startswith('beidou_gnss_fixes_total{quality="rtk_fixed"}')
        )
        assert float(rtk_line.rsplit(" ", 1)[1]) >= len(fixed)
        assert f'beidou_ntrip_mount_online{{mount="{demo.DEMO_MOUNTS[0][0]}"}} 1.0' in metrics
        # the patrol cars' NMEA reaches their operator; the gate cameras open sessions
        patrol = creds["gnss"]["vehicles"][0]["id"]
        _until(
            "a patrol car's position",
            30,
            lambda: (
                httpx.get(f"{base}/v1/operator/devices/{patrol}/position", headers=operator).status_code
                == 200
            ),
        )
        _until(
            "parking sessions", 30, lambda: httpx.get(f"{base}/v1/operator/sessions", headers=operator).json()
        )
        if IN_CI or _mqtt_broker():  # the shared lot's sensors publish over MQTT
            _until(
                "MQTT occupancy messages",
                60,
                lambda: 'beidou_mqtt_messages_total{outcome="accepted"}' in httpx.get(f"{base}/metrics").text,
            )
        # the demo's chargers connect to the OCPP central system (with their passwords) and boot
        _until(
            "the demo chargers online",
            60,
            lambda: all(
                p["online"] and p["vendor"]
                for p in httpx.get(f"{base}/v1/operator/charge-points", headers=operator).json()
            ),
        )
        assert httpx.get(f"{base}/docs").status_code == 200
        workers = _children(server.pid)
        assert workers, "no cloud-RTK worker process"
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            code = server.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output[-3000:]
    assert all(_closed(p) for p in (api, caster, listener))
    _until("the workers to exit", 10, lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers))
    assert "Traceback" not in output, output[-3000:]


def test_separate_processes_share_live_state_through_redis(tmp_path: Path) -> None:
    """docker-compose's layout: the caster and the API in processes of their own; the API shows
    the caster's mounts through Redis."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"CI must reach Redis: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    env = _env(
        BEIDOU_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        BEIDOU_REDIS_URL=REDIS_URL,
    )
    for args in (("db", "upgrade"), ("ntrip", "mount", "add", "CMP01", "--source-password", "base-secret")):
        done = subprocess.run([*BEIDOU, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    api, caster = _port(), _port()
    push = ["ntrip", "push", str(CAPTURE), "--mount", "CMP01", "--password", "base-secret"]
    procs = [
        subprocess.Popen([*BEIDOU, "ntrip", "serve", "--port", str(caster)], cwd=tmp_path, env=env),
        subprocess.Popen([*BEIDOU, "serve", "--port", str(api)], cwd=tmp_path, env=env),
        subprocess.Popen(
            [*BEIDOU, *push, "--caster", f"127.0.0.1:{caster}", "--speed", "0.5"], cwd=tmp_path, env=env
        ),
    ]
    base = f"http://127.0.0.1:{api}"
    try:
        _until("the API", 90, lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200)

        def cmp01() -> dict[str, Any] | None:
            mounts = httpx.get(f"{base}/v1/ntrip/mounts", headers={"Authorization": f"Bearer {ADMIN}"}).json()
            return next((m for m in mounts if m["mount"] == "CMP01" and m["online"] and m["frames"]), None)

        mount = _until("the caster's mount through Redis", 60, cmp01)
        assert mount["base"]["lat"] == pytest.approx(34.4, abs=0.1)
        metrics = httpx.get(f"{base}/metrics").text
        assert 'beidou_ntrip_mount_online{mount="CMP01"} 1.0' in metrics
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.Redis.from_url(REDIS_URL).delete("beidou:ntrip:mounts")
