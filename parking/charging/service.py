"""Charging: charge points on spaces, what their OCPP messages change, and what a charge costs.

The OCPP transport lives in ``hardware/ocpp_central.py``; every message it accepts lands here as
one call in one unit of work, with the authenticated charge point (``ChargePointRef``). Rules:

* a charger's password is checked before its websocket opens (``authenticate``);
* connector statuses apply only if newer than the stored one (notifications may be reordered);
* the id tag is the car's plate: it is accepted when the plate has an open parking session at the
  lot (it came through the gate) or a live booking there; the charge is tied to that stay;
* a replayed StartTransaction (same connector and start time) returns the first transaction id;
  a repeated StopTransaction or MeterValues changes nothing; readings may arrive in any order;
* at StopTransaction the charge is billed with the lot's energy tariff and its fee added to the
  parking session, so the driver pays both in one payment.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from core.errors import Conflict, Invalid, NotFound
from core.security import hash_token
from parking.bookings import repository as bookings_repo
from parking.charging import repository as repo
from parking.charging.models import ChargePoint, ChargingSession, Connector
from parking.charging.schemas import (
    ChargePointCreated,
    ChargePointIn,
    ChargePointOut,
    ChargingSessionOut,
    ChargingStatus,
    ConnectorOut,
    ConnectorStatus,
    OwnerRevenueOut,
)
from parking.identity import service as identity
from parking.identity.access import Principal, operator_scope, require
from parking.identity.plates import normalize_plate, plate_hash
from parking.identity.schemas import Role
from parking.lots import repository as lots_repo
from parking.lots import service as lots
from parking.lots.energy import bill
from parking.lots.schemas import SpaceKind
from parking.lots.service import lot_tariff
from parking.sessions import repository as sessions_repo
from parking.sessions.schemas import SessionStatus
from parking.unit import Ctx

log = structlog.get_logger(__name__)

ACCEPTED, INVALID, BLOCKED = "Accepted", "Invalid", "Blocked"
TX_ID_MAX = 2**31 - 1  # OCPP transaction ids are JSON integers; stay within a signed 32-bit column


@dataclass(frozen=True, slots=True)
class ChargePointRef:
    """An authenticated charger, as the transport holds it for the connection's lifetime."""

    id: uuid.UUID
    charge_point_id: str
    lot_id: uuid.UUID
    space_id: uuid.UUID
    operator_id: uuid.UUID


def ocpp_path(charge_point_id: str) -> str:
    return f"/ocpp/{charge_point_id}"


def _point_out(point: ChargePoint, connectors: Sequence[Connector]) -> ChargePointOut:
    return ChargePointOut(
        id=point.id,
        charge_point_id=point.charge_point_id,
        lot_id=point.lot_id,
        space_id=point.space_id,
        owner_name=point.owner_name,
        owner_share_pct=point.owner_share_pct,
        vendor=point.vendor,
        model=point.model,
        online=point.online,
        last_seen_at=point.last_seen_at,
        connectors=[
            ConnectorOut(
                connector_id=c.connector_id,
                type=c.type,
                max_kw=c.max_kw,
                status=c.status,
                error_code=c.error_code,
                status_ts=c.status_ts,
            )
            for c in connectors
            if c.point_id == point.id
        ],
        ocpp_path=ocpp_path(point.charge_point_id),
    )


# --- the operator's side -------------------------------------------------------------------------


async def register(ctx: Ctx, principal: Principal, data: ChargePointIn) -> ChargePointCreated:
    """A charger on one of the operator's spaces; its password is answered once, kept hashed.
    The space becomes an EV space (bookings with charging look for those)."""
    require(principal, Role.OPERATOR)
    lot = await lots.own_lot(ctx, principal, data.lot_id)
    space = await lots_repo.space_by_code(ctx.db, lot.id, data.space_code)
    if space is None:
        raise NotFound("space not found in this lot")
    if await repo.point_by_ocpp_id(ctx.db, data.charge_point_id) is not None:
        raise Conflict("this charge_point_id is registered already", code="charge_point_exists")
    if await repo.point_on_space(ctx.db, space.id) is not None:
        raise Conflict("this space has a charge point already", code="space_has_charger")
    password = secrets.token_urlsafe(24)  # 32 characters: OCPP 1.6 security profile 1 allows 16-40
    point = ChargePoint(
        id=uuid.uuid4(),
        charge_point_id=data.charge_point_id,
        operator_id=lot.operator_id,
        lot_id=lot.id,
        space_id=space.id,
        password_hash=hash_token(password),
        owner_name=data.owner_name,
        owner_share_pct=data.owner_share_pct,
        online=False,
        created_at=ctx.now,
    )
    connectors = [
        Connector(
            point_id=point.id,
            lot_id=lot.id,
            connector_id=c.connector_id,
            type=c.type,
            max_kw=c.max_kw,
            status=ConnectorStatus.UNAVAILABLE,  # until the charger says otherwise
        )
        for c in data.connectors
    ]
    if not await repo.insert_point(ctx.db, point, connectors):
        raise Conflict("this charge_point_id is registered already", code="charge_point_exists")
    space.kind = SpaceKind.EV
    await ctx.flush()
    ctx.changed_lots.add(lot.id)
    return ChargePointCreated(**_point_out(point, connectors).model_dump(), password=password)


async def operator_points(ctx: Ctx, principal: Principal, lot_id: uuid.UUID | None) -> list[ChargePointOut]:
    lot_ids = await _scope_lots(ctx, principal, lot_id)
    points = await repo.points_of_lots(ctx.db, lot_ids)
    connectors = await repo.connectors_of(ctx.db, [p.id for p in points])
    return [_point_out(p, connectors) for p in points]


async def own_point(ctx: Ctx, principal: Principal, point_id: uuid.UUID) -> ChargePointRef:
    """The charger if it is at one of the operator's lots; another's reads as unknown."""
    require(principal, Role.OPERATOR, Role.ADMIN)
    point = await repo.get_point(ctx.db, point_id)
    if point is None or (principal.role == Role.OPERATOR and point.operator_id != principal.id):
        raise NotFound("charge point not found")
    return _ref(point)


async def own_session(ctx: Ctx, principal: Principal, session_id: uuid.UUID) -> tuple[ChargePointRef, int]:
    """``(charger, transaction id)`` of a running charge at the operator's lot."""
    charging = await repo.get_session(ctx.db, session_id)
    if charging is None:
        raise NotFound("charging session not found")
    try:
        ref = await own_point(ctx, principal, charging.point_id)
    except NotFound:
        raise NotFound("charging session not found") from None
    if charging.status != ChargingStatus.CHARGING:
        raise Conflict("the charging session has stopped already", code="not_charging")
    return ref, charging.transaction_id


async def _scope_lots(ctx: Ctx, principal: Principal, lot_id: uuid.UUID | None) -> list[uuid.UUID]:
    require(principal, Role.OPERATOR, Role.ADMIN)
    if lot_id is not None:
        return [(await lots.own_lot(ctx, principal, lot_id)).id]
    return [lot.id for lot in await lots_repo.lots_of_operator(ctx.db, operator_scope(principal))]


def session_out(charging: ChargingSession, charge_point_id: str) -> ChargingSessionOut:
    return ChargingSessionOut(
        id=charging.id,
        transaction_id=charging.transaction_id,
        charge_point_id=charge_point_id,
        connector_id=charging.connector_id,
        lot_id=charging.lot_id,
        plate=charging.plate,
        parking_session_id=charging.parking_session_id,
        booking_id=charging.booking_id,
        status=charging.status,
        start_ts=charging.start_ts,
        stop_ts=charging.stop_ts,
        charge_end_ts=charging.charge_end_ts,
        meter_start_wh=charging.meter_start_wh,
        energy_wh=charging.energy_wh,
        energy_fee_fen=charging.energy_fee_fen,
        idle_fee_fen=charging.idle_fee_fen,
        fee_fen=charging.fee_fen,
        billed_with_parking=charging.billed_on_session,
        stop_reason=charging.stop_reason,
    )


async def _render(ctx: Ctx, rows: Sequence[ChargingSession]) -> list[ChargingSessionOut]:
    names: dict[uuid.UUID, str] = {}
    for row in rows:
        if row.point_id not in names:
            point = await repo.get_point(ctx.db, row.point_id)
            names[row.point_id] = point.charge_point_id if point else ""
    return [session_out(r, names[r.point_id]) for r in rows]


async def operator_sessions(
    ctx: Ctx, principal: Principal, lot_id: uuid.UUID | None, status: str | None, limit: int
) -> list[ChargingSessionOut]:
    lot_ids = await _scope_lots(ctx, principal, lot_id)
    return await _render(ctx, await repo.sessions_of_lots(ctx.db, lot_ids, status=status, limit=limit))


async def driver_sessions(ctx: Ctx, principal: Principal, limit: int) -> list[ChargingSessionOut]:
    require(principal, Role.DRIVER)
    assert principal.id is not None
    plates = await identity.plates_of(ctx, principal.id)
    return await _render(ctx, await repo.sessions_of_plates(ctx.db, plates, limit))


async def owner_revenue(
    ctx: Ctx, principal: Principal, lot_id: uuid.UUID | None, since: datetime, until: datetime
) -> list[OwnerRevenueOut]:
    """Per charger: the charges that stopped in ``[since, until)``, their fees and the owner's share."""
    if until <= since:
        raise Invalid("'to' must be after 'from'")
    lot_ids = await _scope_lots(ctx, principal, lot_id)
    points = await repo.points_of_lots(ctx.db, lot_ids)
    rows = await repo.finished_between(ctx.db, [p.id for p in points], since, until)
    out = []
    for point in points:
        mine = [r for r in rows if r.point_id == point.id]
        fee = sum(r.fee_fen for r in mine)
        out.append(
            OwnerRevenueOut(
                charge_point_id=point.charge_point_id,
                owner_name=point.owner_name,
                owner_share_pct=point.owner_share_pct,
                sessions=len(mine),
                energy_wh=sum(r.energy_wh for r in mine),
                fee_fen=fee,
                owner_share_fen=fee * point.owner_share_pct // 100,
            )
        )
    return out


async def free_chargers(ctx: Ctx, lot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Available connectors of connected chargers, per lot (for search's ``charging=true``)."""
    return await repo.free_connectors_by_lot(ctx.db, lot_ids) if lot_ids else {}


# --- the charger's side (what the OCPP central system calls) -------------------------------------


def _ref(point: ChargePoint) -> ChargePointRef:
    return ChargePointRef(point.id, point.charge_point_id, point.lot_id, point.space_id, point.operator_id)


async def authenticate(ctx: Ctx, charge_point_id: str, password: str | None) -> ChargePointRef | None:
    """The charger if the id is registered and the password is its own (and its operator is not
    suspended); None otherwise, whichever it was (the handshake answers 401 alike)."""
    point = await repo.point_by_ocpp_id(ctx.db, charge_point_id)
    if point is None or password is None:
        hash_token(password or "")  # the same work either way
        return None
    if not secrets.compare_digest(hash_token(password), point.password_hash):
        return None
    if await identity.operator_suspended(ctx, point.operator_id):
        return None
    return _ref(point)


def _not_future(ctx: Ctx, ts: datetime) -> datetime:
    if ts > ctx.now + timedelta(seconds=ctx.settings.device_clock_skew_s):
        raise Invalid(f"timestamp {ts.isoformat()} is ahead of the platform's clock", code="future_timestamp")
    return ts


async def connected(ctx: Ctx, ref: ChargePointRef, online: bool) -> None:
    await repo.set_online(ctx.db, ref.id, online, ctx.now)


async def boot(ctx: Ctx, ref: ChargePointRef, vendor: str, model: str) -> None:
    await repo.set_identity(ctx.db, ref.id, vendor, model)
    await repo.set_online(ctx.db, ref.id, True, ctx.now, booted=True)


async def status(
    ctx: Ctx, ref: ChargePointRef, connector_id: int, state: str, error_code: str | None, ts: datetime | None
) -> bool:
    """A StatusNotification: True when it changed the stored status (not older than it)."""
    if connector_id == 0:  # the charge point as a whole: its connectors report their own
        return False
    # (the lots' live snapshots count spaces, not connectors: nothing there to refresh)
    return await repo.apply_status(
        ctx.db, ref.id, connector_id, ConnectorStatus(state), error_code, _not_future(ctx, ts or ctx.now)
    )


@dataclass(frozen=True, slots=True)
class Holder:
    """Who an id tag stands for at the charger's lot."""

    plate: str
    parking_session_id: uuid.UUID | None
    booking_id: uuid.UUID | None


async def _holder(ctx: Ctx, ref: ChargePointRef, id_tag: str) -> Holder | None:
    try:
        plate = normalize_plate(id_tag)
    except Invalid:
        return None
    parking = await sessions_repo.open_session(ctx.db, ref.lot_id, plate_hash(plate, ctx.plate_key))
    early = timedelta(minutes=ctx.settings.checkin_early_min)
    booking = await bookings_repo.live_booking_of_plate(ctx.db, ref.lot_id, plate, ctx.now + early, ctx.now)
    if parking is None and booking is None:
        return None
    parking_id = parking.id if parking is not None else booking.session_id if booking is not None else None
    return Holder(plate, parking_id, booking.id if booking is not None else None)


async def authorize(ctx: Ctx, ref: ChargePointRef, id_tag: str) -> str:
    return ACCEPTED if await _holder(ctx, ref, id_tag) is not None else INVALID


async def start(
    ctx: Ctx, ref: ChargePointRef, connector_id: int, id_tag: str, meter_start_wh: int, ts: datetime
) -> tuple[int, str]:
    """A StartTransaction: ``(transaction id, id tag status)``. The same start sent again (a
    charger that did not hear our answer) gets the same transaction id."""
    _not_future(ctx, ts)
    if await repo.connector(ctx.db, ref.id, connector_id) is None:
        raise Invalid(f"connector {connector_id} is not registered on this charge point", code="no_connector")
    replay = await repo.session_by_start(ctx.db, ref.id, connector_id, ts)
    if replay is not None:
        return replay.transaction_id, ACCEPTED
    holder = await _holder(ctx, ref, id_tag)
    if holder is None:
        # OCPP needs a transaction id even when refusing; the charger then stops at once
        return 0, INVALID
    for _ in range(5):
        charging = ChargingSession(
            id=uuid.uuid4(),
            transaction_id=secrets.randbelow(TX_ID_MAX) + 1,
            point_id=ref.id,
            connector_id=connector_id,
            lot_id=ref.lot_id,
            id_tag=id_tag,
            plate=holder.plate,
            parking_session_id=holder.parking_session_id,
            booking_id=holder.booking_id,
            status=ChargingStatus.CHARGING,
            start_ts=ts,
            meter_start_wh=meter_start_wh,
            energy_wh=0,
            created_at=ctx.now,
        )
        if await repo.insert_session(ctx.db, charging):
            log.info(
                "charging_started", charge_point=ref.charge_point_id, transaction=charging.transaction_id
            )
            return charging.transaction_id, ACCEPTED
        replay = await repo.session_by_start(ctx.db, ref.id, connector_id, ts)
        if replay is not None:  # a concurrent replay won the insert
            return replay.transaction_id, ACCEPTED
    raise Conflict("could not allocate a transaction id; retry", code="transaction_id_race")


async def _own_transaction(ctx: Ctx, ref: ChargePointRef, transaction_id: int) -> ChargingSession | None:
    charging = await repo.session_by_transaction(ctx.db, transaction_id, lock=True)
    if charging is None or charging.point_id != ref.id:
        return None  # another charger's transaction is as unknown as none
    return charging


def check_readings(now: datetime, skew_s: float, readings: Sequence[tuple[datetime, int]]) -> None:
    """Refuse readings dated ahead of the platform's clock (before anything is stored)."""
    for ts, _ in readings:
        if ts > now + timedelta(seconds=skew_s):
            raise Invalid(
                f"timestamp {ts.isoformat()} is ahead of the platform's clock", code="future_timestamp"
            )


MeterItem = tuple[ChargePointRef, int | None, Sequence[tuple[datetime, int]]]


async def meter_values(
    ctx: Ctx, ref: ChargePointRef, transaction_id: int | None, readings: Sequence[tuple[datetime, int]]
) -> None:
    """Register readings of a running transaction (see ``meter_values_many``)."""
    check_readings(ctx.now, ctx.settings.device_clock_skew_s, readings)
    await meter_values_many(ctx, [(ref, transaction_id, readings)])


async def meter_values_many(ctx: Ctx, items: Sequence[MeterItem]) -> None:
    """Register readings of running transactions, many chargers' in one unit of work (the
    central system commits them as a group). Resent or reordered readings change nothing twice;
    another charger's transaction, an unknown one, or a stopped one (its bill is not reopened)
    is ignored. Readings were checked with ``check_readings``."""
    wanted = sorted({tx for _, tx, readings in items if tx is not None and readings})
    if not wanted:
        return
    sessions = await repo.sessions_by_transactions(ctx.db, wanted)
    rows: list[tuple[uuid.UUID, datetime, int]] = []
    for ref, tx, readings in items:
        charging = sessions.get(tx) if tx is not None else None
        if charging is None or charging.point_id != ref.id or charging.status != ChargingStatus.CHARGING:
            continue
        if not readings:
            continue
        rows.extend((charging.id, ts, wh) for ts, wh in readings)
        charging.energy_wh = max(charging.energy_wh, max(wh for _, wh in readings) - charging.meter_start_wh)
        latest = max(ts for ts, _ in readings)
        if charging.last_meter_ts is None or latest > charging.last_meter_ts:
            charging.last_meter_ts = latest
    await repo.add_readings_many(ctx.db, rows)
    await ctx.flush()


async def stop(
    ctx: Ctx,
    ref: ChargePointRef,
    transaction_id: int,
    meter_stop_wh: int,
    ts: datetime,
    reason: str | None,
    readings: Sequence[tuple[datetime, int]],
) -> str:
    """A StopTransaction: bill the charge and put its fee on the parking session. Sent again, it
    changes nothing and gets the same answer."""
    _not_future(ctx, ts)
    charging = await _own_transaction(ctx, ref, transaction_id)
    if charging is None:
        return INVALID
    if charging.status == ChargingStatus.FINISHED:
        return ACCEPTED
    await repo.add_readings(ctx.db, charging.id, readings)
    lot = await lots_repo.get_lot(ctx.db, ref.lot_id)
    assert lot is not None
    energy = lot_tariff(lot).energy
    stored = await repo.readings_of(ctx.db, charging.id)
    stop_ts = max(ts, charging.start_ts)
    if energy is None:
        log.warning("charging_without_energy_tariff", lot=str(lot.id))
        charging.energy_wh = max(charging.energy_wh, meter_stop_wh - charging.meter_start_wh)
        charging.charge_end_ts = stop_ts
    else:
        result = bill(energy, charging.start_ts, stop_ts, charging.meter_start_wh, meter_stop_wh, stored)
        charging.energy_wh = result.energy_wh
        charging.energy_fee_fen = result.energy_fee_fen
        charging.idle_fee_fen = result.idle_fee_fen
        charging.fee_fen = result.fee_fen
        charging.charge_end_ts = result.charge_end
    charging.status = ChargingStatus.FINISHED
    charging.stop_ts = stop_ts
    charging.meter_stop_wh = meter_stop_wh
    charging.stop_reason = (reason or "Local")[:32]
    if charging.parking_session_id is not None and charging.fee_fen > 0:
        parking = await sessions_repo.get_session(ctx.db, charging.parking_session_id)
        if parking is not None and parking.status == SessionStatus.OPEN:
            parking.charging_fen += charging.fee_fen  # paid with the stay, at the gate or in the app
            charging.billed_on_session = True
    await ctx.flush()
    log.info(
        "charging_stopped", charge_point=ref.charge_point_id, transaction=transaction_id, fee=charging.fee_fen
    )
    return ACCEPTED
