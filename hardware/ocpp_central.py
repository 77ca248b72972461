"""The OCPP 1.6J central system: chargers connect to ``ws://host:9000/ocpp/{charge_point_id}``.

The websocket transport (``websockets``) and the OCPP-J framing, schema validation and routing
(the ``ocpp`` package) are the adapters' business; what a message changes is the charging room's
(``parking.charging.service``), one unit of work per message, committed before the answer.

* **Authentication before the websocket opens.** The opening handshake must carry the charger's
  password as HTTP Basic auth (OCPP 1.6 security profile 1); an unknown charge point id or a wrong
  password is answered ``401`` and no websocket exists, so nobody who merely knows a charge box
  id can send events (SteVe accepts them). The subprotocol must be ``ocpp1.6``.
* **Malformed frames** (not JSON, not an OCPP array, an unknown action, a payload off the schema,
  a timestamp ahead of our clock) get a CallError and the connection goes on; nothing a charger
  sends ends the process.
* **Reconnects.** A charger that connects again replaces its previous connection; transactions
  survive it (they live in the database), and replayed Start/Stop/MeterValues have one effect.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar, cast

import ocpp.messages
import orjson
import structlog
from ocpp.exceptions import (
    FormatViolationError,
    GenericError,
    InternalError,
    OCPPError,
    PropertyConstraintViolationError,
)
from ocpp.messages import MessageType, unpack
from ocpp.routing import on
from ocpp.v16 import ChargePoint as OcppChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from core.errors import DomainError, Unavailable
from parking.charging import service as charging
from parking.charging.meter import parse_timestamp, register_readings
from parking.charging.service import ChargePointRef, check_readings
from parking.unit import Ctx

log = structlog.get_logger(__name__)

SUBPROTOCOL = "ocpp1.6"
PATH_PREFIX = "/ocpp/"
HEARTBEAT_INTERVAL_S = 10
# Validation in a thread per message costs more than the validation itself at our message sizes.
ocpp.messages.ASYNC_VALIDATION = False

UnitFactory = Callable[[], AbstractAsyncContextManager[Ctx]]
Handler = TypeVar("Handler", bound=Callable[..., Any])


def handles(action: Action) -> Callable[[Handler], Handler]:
    """``ocpp.routing.on``, typed."""
    return cast(Callable[[Handler], Handler], on(action))


METER_KEYS = frozenset({"connectorId", "transactionId", "meterValue"})


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class MeterBatcher:
    """Group commit for MeterValues: the readings every charger sends while a batch is being
    committed go into the next batch, one unit of work for all; each charger hears its answer
    once its readings are committed. With few chargers a batch is one message (no added wait);
    with thousands, one commit carries hundreds of them."""

    def __init__(self, unit: UnitFactory, max_batch: int = 500) -> None:
        self.unit = unit
        self.max_batch = max_batch
        self.batches = 0
        self._queue: asyncio.Queue[tuple[charging.MeterItem, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: charging.MeterItem) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, done))
        await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self.unit() as ctx:
                    await charging.meter_values_many(ctx, [item for item, _ in batch])
            except Exception as exc:  # the database is away: every charger of the batch hears it
                log.warning("ocpp_meter_batch_failed", size=len(batch), error=type(exc).__name__)
                for _, done in batch:
                    if not done.done():
                        done.set_exception(GenericError(description="not stored; send again"))
            else:
                self.batches += 1
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _now_text() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _domain_error(exc: DomainError) -> OCPPError:
    if isinstance(exc, Unavailable):  # the database is away: nothing wrong with the message
        return InternalError(description=str(exc), details={"code": exc.code})
    return PropertyConstraintViolationError(description=str(exc), details={"code": exc.code})


def _call_error(unique_id: str, error: OCPPError) -> str:
    return json.dumps([MessageType.CallError, unique_id, error.code, error.description, error.details or {}])


class ChargerConnection(OcppChargePoint):  # type: ignore[misc]
    """One connected charger: its OCPP handlers, each a call into the charging room."""

    def __init__(self, ref: ChargePointRef, connection: ServerConnection, central: CentralSystem) -> None:
        super().__init__(ref.charge_point_id, connection, response_timeout=30)
        self.ref = ref
        self.central = central
        self.last_seen = time.monotonic()

    @contextlib.asynccontextmanager
    async def _unit(self) -> AsyncIterator[Ctx]:
        try:
            async with self.central.unit() as ctx:
                yield ctx
        except DomainError as exc:
            raise _domain_error(exc) from exc

    async def route_message(self, raw_msg: str | bytes) -> None:
        """As the package does, but a frame it cannot read is answered with a CallError (the
        package only logs it) and no frame's content can end the connection's loop."""
        self.last_seen = time.monotonic()
        self.central.received += 1
        if await self._fast(raw_msg):
            return
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            await self._send(_call_error(_unique_id(raw_msg), error))
            return
        if msg.message_type_id != MessageType.Call:
            self._response_queue.put_nowait(msg)
            return
        if not isinstance(msg.unique_id, str) or not isinstance(msg.action, str):
            await self._send(_call_error(_unique_id(raw_msg), FormatViolationError(description="bad ids")))
            return
        try:
            await self._handle_call(msg)
        except OCPPError as error:
            await self._send(msg.create_call_error(error).to_json())
        except Exception as exc:  # a bug of ours or of the package: the charger still gets an answer
            log.exception("ocpp_handler_failed", charge_point=self.id, action=msg.action)
            await self._send(msg.create_call_error(GenericError(description=type(exc).__name__)).to_json())

    @handles(Action.boot_notification)
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **_: Any) -> Any:
        async with self._unit() as ctx:
            await charging.boot(ctx, self.ref, charge_point_vendor, charge_point_model)
        return call_result.BootNotification(
            current_time=_now_text(), interval=HEARTBEAT_INTERVAL_S, status=RegistrationStatus.accepted
        )

    @handles(Action.heartbeat)
    async def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=_now_text())

    @handles(Action.status_notification)
    async def on_status(
        self, connector_id: int, error_code: str, status: str, timestamp: str | None = None, **_: Any
    ) -> Any:
        async with self._unit() as ctx:
            ts = parse_timestamp(timestamp) if timestamp else None
            error = None if error_code == "NoError" else error_code
            await charging.status(ctx, self.ref, connector_id, status, error, ts)
        return call_result.StatusNotification()

    @handles(Action.authorize)
    async def on_authorize(self, id_tag: str) -> Any:
        async with self._unit() as ctx:
            verdict = await charging.authorize(ctx, self.ref, id_tag)
        return call_result.Authorize(id_tag_info=IdTagInfo(status=verdict))

    @handles(Action.start_transaction)
    async def on_start(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        async with self._unit() as ctx:
            tx, verdict = await charging.start(
                ctx, self.ref, connector_id, id_tag, meter_start, parse_timestamp(timestamp)
            )
        return call_result.StartTransaction(transaction_id=tx, id_tag_info=IdTagInfo(status=verdict))

    @handles(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[Mapping[str, Any]], transaction_id: int | None = None
    ) -> Any:
        await self._meter_values(transaction_id, meter_value)
        return call_result.MeterValues()

    async def _meter_values(self, transaction_id: int | None, meter_value: list[Mapping[str, Any]]) -> None:
        try:
            readings = register_readings(meter_value)
            check_readings(datetime.now(UTC), self.central.clock_skew_s, readings)
        except DomainError as exc:
            raise _domain_error(exc) from exc
        await self.central.meters.submit((self.ref, transaction_id, readings))

    async def _fast(self, raw: str | bytes) -> bool:
        """Heartbeat and MeterValues, which every charger sends all the time, answered without
        the package's per-message machinery (signature inspection, key renaming, JSON-schema
        validation: four fifths of their cost); their few fields are checked here. False: not one
        of them, or not well formed - the package's path takes it (and its errors)."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False
        if type(data) is not list or len(data) != 4 or data[0] != 2 or type(data[1]) is not str:
            return False
        _, unique_id, action, payload = data
        if action == "Heartbeat" and payload == {}:
            await self._send(orjson.dumps([3, unique_id, {"currentTime": _now_text()}]).decode())
            return True
        if action != "MeterValues" or type(payload) is not dict or not payload.keys() <= METER_KEYS:
            return False
        tx, values = payload.get("transactionId"), payload.get("meterValue")
        if (
            not _is_int(payload.get("connectorId"))
            or not (tx is None or _is_int(tx))
            or type(values) is not list
        ):
            return False
        if not all(type(v) is dict for v in values):
            return False
        try:
            await self._meter_values(tx, values)
        except OCPPError as error:
            await self._send(_call_error(unique_id, error))
            return True
        await self._send(orjson.dumps([3, unique_id, {}]).decode())
        return True

    @handles(Action.stop_transaction)
    async def on_stop(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        transaction_data: list[Mapping[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        async with self._unit() as ctx:
            readings = register_readings(transaction_data or [])
            verdict = await charging.stop(
                ctx, self.ref, transaction_id, meter_stop, parse_timestamp(timestamp), reason, readings
            )
        return call_result.StopTransaction(id_tag_info=IdTagInfo(status=verdict))


def _unique_id(raw: str | bytes) -> str:
    """The unique id of a frame we could not read, if it has one (else "-1", as OCPP 2.0.1 says)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "-1"
    if isinstance(data, list) and len(data) > 1 and isinstance(data[1], str):
        return data[1][:36]
    return "-1"


class NotConnected(Exception):
    """The charger has no open connection to this process."""


class CentralSystem:
    """Accepts chargers, keeps their connections, and sends them the operator's commands."""

    def __init__(self, unit: UnitFactory, *, clock_skew_s: float = 300.0) -> None:
        self.unit = unit
        self.clock_skew_s = clock_skew_s
        self.meters = MeterBatcher(unit)
        self.connections: dict[str, ChargerConnection] = {}
        self.received = 0
        self._pending: dict[int, ChargePointRef] = {}
        self._server: Server | None = None

    async def serve(self, host: str, port: int, *, reuse_port: bool = False) -> Server:
        self._server = await serve(
            self._handle,
            host,
            port,
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            process_request=self._authenticate,
            ping_interval=None,  # OCPP's heartbeats are the liveness check
            open_timeout=60,  # a fleet reconnecting at once queues on the password check
            max_size=1 << 20,
            reuse_port=reuse_port,
        )
        return self._server

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self.meters.close()

    async def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if not path.startswith(PATH_PREFIX) or "/" in path[len(PATH_PREFIX) :]:
            return connection.respond(HTTPStatus.NOT_FOUND, "chargers connect to /ocpp/{charge_point_id}\n")
        charge_point_id = path[len(PATH_PREFIX) :]
        given = basic_credentials(request.headers)
        ref = None
        if given is not None and given[0] == charge_point_id:
            try:
                async with self.unit() as ctx:
                    ref = await charging.authenticate(ctx, charge_point_id, given[1])
            except Exception:
                log.exception("ocpp_auth_failed", charge_point=charge_point_id)
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try again shortly\n")
        if ref is None:
            log.info("ocpp_refused", charge_point=charge_point_id)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "unknown charge point or wrong password\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
            return response
        self._pending[id(connection)] = ref
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        ref = self._pending.pop(id(connection), None)
        if ref is None:
            await connection.close(1008, "not authenticated")
            return
        charger = ChargerConnection(ref, connection, self)
        previous = self.connections.get(ref.charge_point_id)
        self.connections[ref.charge_point_id] = charger
        if previous is not None:  # the charger came back before we saw its old socket die
            with contextlib.suppress(Exception):
                await previous._connection.close(1000, "replaced by a new connection")
        await self._mark(ref, online=True)
        log.info("ocpp_connected", charge_point=ref.charge_point_id)
        try:
            await charger.start()
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(ref.charge_point_id) is charger:
                del self.connections[ref.charge_point_id]
                await self._mark(ref, online=False)
            log.info("ocpp_disconnected", charge_point=ref.charge_point_id)

    async def _mark(self, ref: ChargePointRef, *, online: bool) -> None:
        try:
            async with self.unit() as ctx:
                await charging.connected(ctx, ref, online)
        except Exception as exc:  # the database is away: the next message will tell
            log.warning(
                "ocpp_presence_not_recorded", charge_point=ref.charge_point_id, error=type(exc).__name__
            )

    def _charger(self, charge_point_id: str) -> ChargerConnection:
        charger = self.connections.get(charge_point_id)
        if charger is None:
            raise NotConnected(charge_point_id)
        return charger

    async def remote_start(self, charge_point_id: str, connector_id: int, id_tag: str) -> str:
        charger = self._charger(charge_point_id)
        answer = await charger.call(call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id))
        return str(answer.status) if answer is not None else "Rejected"

    async def remote_stop(self, charge_point_id: str, transaction_id: int) -> str:
        charger = self._charger(charge_point_id)
        answer = await charger.call(call.RemoteStopTransaction(transaction_id=transaction_id))
        return str(answer.status) if answer is not None else "Rejected"
