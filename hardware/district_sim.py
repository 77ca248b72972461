"""The demo district's devices, each speaking the platform's real protocols over real sockets.

- **Base stations** push real RTCM captures (``tests/data/gnss/rtcm3``) to their caster mounts at
  the recorded pace, over and over (NTRIP 1.0 ``SOURCE``, one of them 2.0 ``POST``).
- **The demo driver's car** streams the raw observations (MSM7 + ephemerides) of the capture its
  nearest base replays, to the receiver listener: the platform solves it (cloud RTK) against the
  base the caster's ``NEAREST`` picks. Base and rover replay one capture in lock-step, so this is
  a zero-baseline RTK whose truth is the capture's own 1005 position. Each pass over the capture
  is one connection (one RTK session): a capture's time cannot run on past its end.
- **Patrol cars** replay NMEA captures to the receiver listener, one connection per pass.
- **Fleet vehicles** pull corrections: one from a base's mount with an NTRIP account, one through
  ``NEAREST`` with the demo driver's app token (sending its GGA).
- **Gate cameras and space sensors** post plate reads and occupancy through the HTTP ingestion
  endpoints (:mod:`hardware.simulator`); the shared residential lot's sensors publish over MQTT
  when a broker is configured.
- **Chargers** speak OCPP 1.6J to the central system (:mod:`hardware.ev_charger_sim`): boot,
  statuses, heartbeats; **the demo EV driver** enters the garage, charges (meter values every
  10 s), pays parking and charging in one payment and drives out.
- **The demo driver** parks at a garage, pays through the sandbox checkout once the stay costs
  something, and drives out.

Captures keep their recorded times: the platform stores what a receiver says about time when it
is not in the future, so the replayed tracks sit at their capture dates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import structlog

from gnss.nmea import gga_sentence
from gnss.ntrip.protocol import chunk
from gnss.ntrip.upstream import NtripPull
from hardware.ev_charger_sim import SimulatedCharger
from hardware.gnss_agent import Forwarder, LoginRefused, listener_login
from hardware.gnss_replay import paced_chunks
from hardware.ntrip_source import open_source
from hardware.simulator import Simulator

log = structlog.get_logger(__name__)

DEFAULT_CAPTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "gnss"

# which real capture each demo mount replays (mount names from parking.demo.DEMO_MOUNTS)
BASE_CAPTURES: dict[str, str] = {
    "HIROSHIMA-OEM729": "rtcm3/qzsl6tool_20221213-010900.rtcm",
    "UBLOX-F9P": "rtcm3/pygnssutils_pygpsdata-rtcm3.log",
    "RTKLIB-TESTGLO": "rtcm3/rtklib_testglo.rtcm3",
}
NTRIP2_MOUNTS = frozenset({"UBLOX-F9P"})  # pushed with NTRIP 2.0 (chunked POST)
RTK_PAIR_MOUNT = "HIROSHIMA-OEM729"  # its capture is also the cloud-RTK rover's stream
NMEA_CAPTURES = ("nmea/gpsd_nmea-rtk.log", "nmea/gpsd_ublox-neo-m9n-nmea.log")
# where the fleet's correction users say they are (a few km from two bases)
FLEET_POSITIONS = {
    "direct": (34.4020, 132.4700, 60.0),  # near Hiroshima
    "nearest": (32.0650, 34.8400, 40.0),  # near the u-blox base
}
SENSOR_MQTT_KINDS = frozenset({"residential_shared", "on_street"})  # NB-IoT sensors on a broker
DRIVER_STAY_S = 17 * 60  # past the 15 free minutes: the stay costs one unit
EV_CHARGE_S = 20 * 60  # the EV driver's charge, meter values every 10 s
RESTART_S = 3.0


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    caster: tuple[str, int]
    listener: tuple[str, int]
    mqtt_url: str | None = None
    ocpp_url: str | None = None  # ws://host:9000, the OCPP central system


@dataclass
class DistrictStats:
    base_bytes: dict[str, int] = field(default_factory=dict)
    rover_passes: int = 0
    nmea_passes: int = 0
    corrections_bytes: dict[str, int] = field(default_factory=dict)
    driver_journeys: int = 0
    driver_paid: int = 0
    mqtt_published: int = 0
    ev_charges: int = 0
    failures: dict[str, int] = field(default_factory=dict)


class CorrectionsUser(NtripPull):
    """A vehicle's RTK module: pulls a mount and counts what arrives (a real one feeds its receiver)."""

    def __init__(self, name: str, stats: DistrictStats, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name, self.stats = name, stats

    def received(self, data: bytes) -> None:
        self.stats.corrections_bytes[self.name] = self.stats.corrections_bytes.get(self.name, 0) + len(data)


class DistrictSimulator:
    """Every device of the demo district as a task; ``run()`` until cancelled."""

    def __init__(
        self,
        endpoints: Endpoints,
        credentials: dict[str, Any],
        *,
        captures: Path | None = DEFAULT_CAPTURES,
        speed: float = 1.0,
        seed: int | None = None,
        driver_stay_s: float = DRIVER_STAY_S,
    ) -> None:
        self.endpoints = endpoints
        self.creds = credentials
        self.captures = captures if captures is not None and captures.is_dir() else None
        self.speed = speed
        self.rng = random.Random(seed)
        self.driver_stay_s = driver_stay_s
        self.stats = DistrictStats()
        self.parking = Simulator(endpoints.api_url, credentials, speed=speed, seed=seed)
        self._jobs: dict[str, Callable[[], Awaitable[None]]] | None = None
        self._mqtt_lots = {
            lot["id"] for lot in credentials.get("lots", []) if lot.get("kind") in SENSOR_MQTT_KINDS
        }
        self.chargers = {
            c["charge_point_id"]: SimulatedCharger(
                endpoints.ocpp_url,
                c["charge_point_id"],
                c["password"],
                power_kw=min(c["kw"], 22.0),
                speed=speed,
            )
            for c in credentials.get("chargers", [])
            if endpoints.ocpp_url
        }

    def jobs(self) -> dict[str, Callable[[], Awaitable[None]]]:
        """Name -> one run of a device; each is restarted if it ends or fails."""
        if self._jobs is None:
            self._jobs = self._make_jobs()
        return self._jobs

    def _make_jobs(self) -> dict[str, Callable[[], Awaitable[None]]]:
        jobs: dict[str, Callable[[], Awaitable[None]]] = {"parking": self._parking}
        if self.creds.get("driver"):
            jobs["driver"] = self._driver_journey
        for cp_id, charger in self.chargers.items():
            jobs[f"charger:{cp_id}"] = charger.run
        if self.creds.get("ev_driver") and self.creds["ev_driver"]["charge_point_id"] in self.chargers:
            jobs["ev_driver"] = self._ev_journey
        if self.captures is None:
            log.warning("district_sim_no_captures", reason="tests/data/gnss not found: no GNSS devices")
            return jobs
        ntrip = self.creds.get("ntrip") or {}
        for base in ntrip.get("bases", []):
            mount = base["mount"]
            if mount not in BASE_CAPTURES:
                continue
            if mount == RTK_PAIR_MOUNT and self.creds.get("driver"):
                jobs[f"base+rover:{mount}"] = self._job_rtk_pair(base)
            else:
                jobs[f"base:{mount}"] = self._job_base(base)
        for i, vehicle in enumerate(self.creds.get("gnss", {}).get("vehicles", [])):
            capture = NMEA_CAPTURES[i % len(NMEA_CAPTURES)]
            jobs[f"nmea:{vehicle['name']}"] = self._job_nmea(vehicle["token"], capture)
        jobs.update(self._correction_users(ntrip))
        return jobs

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for name, job in self.jobs().items():
                group.create_task(self._forever(name, job))

    async def _forever(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except LoginRefused as exc:  # wrong credentials: no point hammering
                log.error("district_sim_refused", job=name, error=str(exc))
                self.stats.failures[name] = self.stats.failures.get(name, 0) + 1
                await asyncio.sleep(30.0)
            except Exception as exc:
                log.warning("district_sim_job_failed", job=name, error=f"{type(exc).__name__}: {exc}")
                self.stats.failures[name] = self.stats.failures.get(name, 0) + 1
            await asyncio.sleep(RESTART_S)

    def _capture(self, relative: str) -> bytes:
        assert self.captures is not None
        return (self.captures / relative).read_bytes()

    # --- GNSS ------------------------------------------------------------------------------------

    def _base_forwarder(self, base: dict[str, Any]) -> Forwarder:
        host, port = self.endpoints.caster
        mount, password = base["mount"], base["password"]
        version = 2 if mount in NTRIP2_MOUNTS else 1

        async def connect() -> asyncio.StreamWriter:
            _, writer = await open_source(host, port, mount, password, version=version)
            return writer

        return Forwarder(connect, encode=chunk if version == 2 else bytes, max_buffer=1 << 20)

    def _job_base(self, base: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        data = self._capture(BASE_CAPTURES[base["mount"]])

        async def job() -> None:
            forwarder = self._base_forwarder(base)
            sender = asyncio.create_task(forwarder.run())
            try:
                while not sender.done():
                    async for piece in paced_chunks(data, speed=self.speed):
                        forwarder.put(piece)
                        self._count_base(base["mount"], len(piece))
                        if sender.done():
                            break
            finally:
                await _finish(sender)

        return job

    def _job_rtk_pair(self, base: dict[str, Any]) -> Callable[[], Awaitable[None]]:
        """The base and the demo car replay one capture in lock-step: every piece goes to both."""
        data = self._capture(BASE_CAPTURES[base["mount"]])
        host, port = self.endpoints.listener
        token = self.creds["driver"]["receiver_token"]

        async def job() -> None:
            forwarder = self._base_forwarder(base)
            sender = asyncio.create_task(forwarder.run())
            try:
                while not sender.done():
                    rover = Forwarder(lambda: listener_login(host, port, token), max_buffer=1 << 20)
                    rover_task = asyncio.create_task(rover.run())
                    async for piece in paced_chunks(data, speed=self.speed):
                        forwarder.put(piece)
                        rover.put(piece)
                        self._count_base(base["mount"], len(piece))
                        if rover_task.done():
                            break
                    rover.close()  # the pass is over: the session ends with the connection
                    await rover_task
                    self.stats.rover_passes += 1
            finally:
                await _finish(sender)

        return job

    def _job_nmea(self, token: str, capture: str) -> Callable[[], Awaitable[None]]:
        data = self._capture(capture)
        host, port = self.endpoints.listener

        async def job() -> None:
            vehicle = Forwarder(lambda: listener_login(host, port, token))
            task = asyncio.create_task(vehicle.run())
            async for piece in paced_chunks(data, speed=self.speed):
                vehicle.put(piece)
                if task.done():
                    break
            vehicle.close()
            await task
            self.stats.nmea_passes += 1

        return job

    def _correction_users(self, ntrip: dict[str, Any]) -> dict[str, Callable[[], Awaitable[None]]]:
        host, port = self.endpoints.caster
        jobs: dict[str, Callable[[], Awaitable[None]]] = {}
        users = ntrip.get("users") or []
        if users and any(b["mount"] == RTK_PAIR_MOUNT for b in ntrip.get("bases", [])):
            lat, lon, h = FLEET_POSITIONS["direct"]
            pull = CorrectionsUser(
                f"{users[0]['name']}@{RTK_PAIR_MOUNT}",
                self.stats,
                host,
                port,
                RTK_PAIR_MOUNT,
                users[0]["name"],
                users[0]["password"],
                version=1,
                gga=gga_sentence(lat, lon, h),
            )
            jobs[f"corrections:{pull.name}"] = pull.run
        driver = self.creds.get("driver")
        if driver:
            lat, lon, h = FLEET_POSITIONS["nearest"]
            pull = CorrectionsUser(
                "demo-driver@NEAREST",
                self.stats,
                host,
                port,
                "NEAREST",
                "demo-driver",
                driver["token"],
                version=2,
                gga=gga_sentence(lat, lon, h),
                gga_every_s=5.0,
            )
            jobs[f"corrections:{pull.name}"] = pull.run
        return jobs

    def _count_base(self, mount: str, n: int) -> None:
        self.stats.base_bytes[mount] = self.stats.base_bytes.get(mount, 0) + n

    # --- parking ---------------------------------------------------------------------------------

    async def _parking(self) -> None:
        if self.endpoints.mqtt_url and self._mqtt_lots:
            async with _MqttSensors(self.endpoints.mqtt_url, self.stats) as mqtt:
                self.parking.sensor_sink = lambda lot, body: mqtt.publish(lot, body, self._mqtt_lots)
                await self.parking.run()
        else:
            await self.parking.run()

    async def _driver_journey(self) -> None:
        """Park at the first garage, stay until the stay costs something, pay at the sandbox
        checkout, drive out: the pay -> gate-open flow, end to end, with nobody signing by hand."""
        driver = self.creds["driver"]
        garage = next(lot for lot in self.creds["lots"] if lot["kind"] == "garage")
        headers = {"Authorization": f"Bearer {driver['token']}"}
        async with httpx.AsyncClient(base_url=self.endpoints.api_url, timeout=10.0) as http:
            await self._plate_read(http, garage, driver["plate"], "in")
            self.stats.driver_journeys += 1
            await asyncio.sleep(self.driver_stay_s / self.speed)
            sessions = (await http.get("/v1/me/sessions", headers=headers)).json()
            open_ = [s for s in sessions if s["status"] == "open" and s["lot_id"] == garage["id"]]
            for session in open_[:1]:
                pay = await http.post(
                    f"/v1/sessions/{session['id']}/pay",
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                checkout = pay.json().get("checkout_url") if pay.status_code in (200, 201) else None
                if checkout:
                    done = await http.post(checkout, data={"outcome": "succeeded"})
                    if done.status_code == 200 and done.json().get("status") == "succeeded":
                        self.stats.driver_paid += 1
                else:
                    log.info("district_sim_driver_not_paying", status=pay.status_code, body=pay.text[:200])
            await asyncio.sleep(self.rng.uniform(5.0, 20.0) / self.speed)
            await self._plate_read(http, garage, driver["plate"], "out")
            await asyncio.sleep(self.rng.uniform(60.0, 180.0) / self.speed)

    async def _ev_journey(self) -> None:
        """The EV driver: through the gate, plugs in (OCPP: Authorize, StartTransaction, meter
        values, StopTransaction), pays parking and charging in one payment, drives out."""
        driver = self.creds["ev_driver"]
        charger = self.chargers[driver["charge_point_id"]]
        lot_id = next(
            c["lot_id"] for c in self.creds["chargers"] if c["charge_point_id"] == driver["charge_point_id"]
        )
        lot = next(lot for lot in self.creds["lots"] if lot["id"] == lot_id)
        headers = {"Authorization": f"Bearer {driver['token']}"}
        async with httpx.AsyncClient(base_url=self.endpoints.api_url, timeout=10.0) as http:
            await self._plate_read(http, lot, driver["plate"], "in")
            if await charger.charge(driver["plate"], EV_CHARGE_S) is not None:
                self.stats.ev_charges += 1
            sessions = (await http.get("/v1/me/sessions", headers=headers)).json()
            for session in [s for s in sessions if s["status"] == "open" and s["lot_id"] == lot_id][:1]:
                pay = await http.post(
                    f"/v1/sessions/{session['id']}/pay",
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                checkout = pay.json().get("checkout_url") if pay.status_code in (200, 201) else None
                if checkout:
                    await http.post(checkout, data={"outcome": "succeeded"})
            await self._plate_read(http, lot, driver["plate"], "out")
            await asyncio.sleep(self.rng.uniform(60.0, 180.0) / self.speed)

    async def _plate_read(
        self, http: httpx.AsyncClient, lot: dict[str, Any], plate: str, direction: str
    ) -> None:
        r = await http.post(
            "/v1/devices/anpr",
            json={
                "event_id": uuid.uuid4().hex,
                "plate": plate,
                "direction": direction,
                "ts": datetime.now(UTC).isoformat(),
                "confidence": 0.97,
            },
            headers={"Authorization": f"Bearer {lot['camera_token']}"},
        )
        log.info("district_sim_driver_gate", direction=direction, status=r.status_code, answer=r.text[:200])


class _MqttSensors:
    """Publishes occupancy events of some lots to ``beidou/occupancy/<lot_id>`` (QoS 1)."""

    def __init__(self, url: str, stats: DistrictStats, prefix: str = "beidou/occupancy") -> None:
        import aiomqtt

        parsed = urlparse(url)
        self._client = aiomqtt.Client(
            parsed.hostname or "127.0.0.1",
            parsed.port or 1883,
            username=parsed.username,
            password=parsed.password,
            identifier=f"beidou-district-sim-{uuid.uuid4().hex[:8]}",
        )
        self.stats, self.prefix = stats, prefix

    async def __aenter__(self) -> _MqttSensors:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.__aexit__(None, None, None)

    async def publish(self, lot: dict[str, Any], body: dict[str, Any], lots: set[str]) -> bool:
        """True when this event went over MQTT (else the caller posts it over HTTP)."""
        if lot["id"] not in lots:
            return False
        payload = json.dumps({**body, "token": lot["sensor_token"]})
        await self._client.publish(f"{self.prefix}/{lot['id']}", payload, qos=1)
        self.stats.mqtt_published += 1
        return True


async def _finish(task: asyncio.Task[Any]) -> None:
    """Stop a sender that is still running; re-raise what made it stop otherwise (a refused login)."""
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return
    if not task.cancelled() and (exc := task.exception()) is not None:
        raise exc
