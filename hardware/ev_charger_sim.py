"""A charge point simulator speaking real OCPP 1.6J over websockets (the ``ocpp`` package's
charge point side), as the demo district's chargers and as a tool.

It connects to ``{url}/ocpp/{charge_point_id}`` with its password as HTTP Basic auth, boots,
reports its connectors ``Available``, sends a heartbeat at the interval the central system
answers, and reconnects with backoff when the line drops. ``charge(plate, ...)`` runs one
transaction: Authorize, StartTransaction, the energy register every ``meter_s`` seconds at its
power, StopTransaction, and the connector's statuses on the way. The central system may also
start and stop transactions remotely (RemoteStart/RemoteStopTransaction), which it accepts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import structlog
import websockets
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection

log = structlog.get_logger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def _typed(decorator: Any) -> Callable[[Handler], Handler]:
    return cast(Callable[[Handler], Handler], decorator)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@dataclass
class ChargerStats:
    connects: int = 0
    transactions: int = 0
    meter_values: int = 0
    refused: int = 0


class _Wire(ChargePoint):  # type: ignore[misc]
    """The OCPP side of one connection; remote commands go to the simulator that owns it."""

    def __init__(self, owner: SimulatedCharger, connection: ClientConnection) -> None:
        super().__init__(owner.charge_point_id, connection, response_timeout=30)
        self.owner = owner

    @_typed(on(Action.remote_start_transaction))
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        busy = (connector_id or 1) in self.owner.running
        return call_result.RemoteStartTransaction(status="Rejected" if busy else "Accepted")

    @_typed(after(Action.remote_start_transaction))
    async def after_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        if (connector_id or 1) not in self.owner.running:
            self.owner.spawn(self.owner.charge(id_tag, self.owner.remote_charge_s, connector_id or 1))

    @_typed(on(Action.remote_stop_transaction))
    async def on_remote_stop(self, transaction_id: int) -> Any:
        known = any(tx == transaction_id for tx in self.owner.running.values())
        return call_result.RemoteStopTransaction(status="Accepted" if known else "Rejected")

    @_typed(after(Action.remote_stop_transaction))
    async def after_remote_stop(self, transaction_id: int) -> None:
        self.owner.stop_requested.add(transaction_id)


@dataclass
class SimulatedCharger:
    url: str  # ws://host:9000
    charge_point_id: str
    password: str
    connectors: tuple[int, ...] = (1,)
    power_kw: float = 7.0
    meter_s: float = 10.0
    speed: float = 1.0  # > 1: simulated time runs faster (meter values more often)
    remote_charge_s: float = 600.0
    vendor: str = "BeidouSim"
    model: str = "AC7-GBT"
    stats: ChargerStats = field(default_factory=ChargerStats)
    register_wh: int = field(default_factory=lambda: random.randint(100_000, 900_000))
    running: dict[int, int] = field(default_factory=dict)  # connector -> transaction id
    stop_requested: set[int] = field(default_factory=set)
    _wire: _Wire | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        """Stay connected: connect, boot, heartbeat; reconnect with capped backoff."""
        delay = 1.0
        while True:
            try:
                async with websockets.connect(
                    f"{self.url}/ocpp/{self.charge_point_id}",
                    subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                    additional_headers=basic_auth(self.charge_point_id, self.password),
                    open_timeout=10,
                ) as ws:
                    delay = 1.0
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info(
                    "charger_sim_disconnected", charge_point=self.charge_point_id, error=type(exc).__name__
                )
            self._ready.clear()
            self._wire = None
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 30.0)

    async def _session(self, ws: ClientConnection) -> None:
        wire = _Wire(self, ws)
        reader = asyncio.create_task(wire.start())
        try:
            self.stats.connects += 1
            boot = await wire.call(
                call.BootNotification(charge_point_model=self.model, charge_point_vendor=self.vendor)
            )
            interval = max(1, int(boot.interval)) if boot is not None else 60
            for connector in self.connectors:
                state = "Charging" if connector in self.running else "Available"
                await wire.call(
                    call.StatusNotification(
                        connector_id=connector, error_code="NoError", status=state, timestamp=_now()
                    )
                )
            self._wire = wire
            self._ready.set()
            while not reader.done():
                await asyncio.sleep(interval)
                await wire.call(call.Heartbeat())
            reader.result()
        finally:
            self._ready.clear()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def _call(self, payload: Any) -> Any:
        """Send once connected; a line that drops mid-call is waited out and the call sent again
        (the central system gives a repeated message one effect)."""
        while True:
            await self._ready.wait()
            wire = self._wire
            if wire is None:
                continue
            try:
                return await wire.call(payload)
            except Exception as exc:
                log.info("charger_sim_resend", charge_point=self.charge_point_id, error=type(exc).__name__)
                await asyncio.sleep(1.0)

    async def _status(self, connector: int, status: str) -> None:
        await self._call(
            call.StatusNotification(
                connector_id=connector, error_code="NoError", status=status, timestamp=_now()
            )
        )

    async def charge(self, plate: str, duration_s: float, connector: int = 1) -> int | None:
        """One transaction for ``plate``; the transaction id, or None when the plate is refused."""
        auth = await self._call(call.Authorize(id_tag=plate))
        if auth is None or auth.id_tag_info["status"] != "Accepted":
            self.stats.refused += 1
            return None
        await self._status(connector, "Preparing")
        start = await self._call(
            call.StartTransaction(
                connector_id=connector, id_tag=plate, meter_start=self.register_wh, timestamp=_now()
            )
        )
        if start is None or start.id_tag_info["status"] != "Accepted":
            self.stats.refused += 1
            await self._status(connector, "Available")
            return None
        tx = int(start.transaction_id)
        self.running[connector] = tx
        self.stats.transactions += 1
        await self._status(connector, "Charging")
        loop = asyncio.get_running_loop()
        began = loop.time()
        wh_per_tick = self.power_kw * 1000 * self.meter_s / 3600
        while loop.time() - began < duration_s / self.speed and tx not in self.stop_requested:
            await asyncio.sleep(self.meter_s / self.speed)
            self.register_wh += round(wh_per_tick)
            await self._call(
                call.MeterValues(
                    connector_id=connector,
                    transaction_id=tx,
                    meter_value=[
                        {
                            "timestamp": _now(),
                            "sampledValue": [
                                {
                                    "value": str(self.register_wh),
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                },
                                {
                                    "value": str(int(self.power_kw * 1000)),
                                    "measurand": "Power.Active.Import",
                                    "unit": "W",
                                },
                            ],
                        }
                    ],
                )
            )
            self.stats.meter_values += 1
        reason = "Remote" if tx in self.stop_requested else "EVDisconnected"
        await self._status(connector, "Finishing")
        await self._call(
            call.StopTransaction(
                meter_stop=self.register_wh, timestamp=_now(), transaction_id=tx, reason=reason
            )
        )
        self.stop_requested.discard(tx)
        del self.running[connector]
        await self._status(connector, "Available")
        return tx
