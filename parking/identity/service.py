"""Accounts: operators, drivers and their plates, device and vehicle-receiver credentials.

Credentials are returned once at creation and stored only as digests. The admin suspends and
resumes operators; a device's last contact is kept to the minute.
"""

from __future__ import annotations

import uuid
from functools import partial

from core.errors import Conflict, Invalid, NotFound
from core.live import LiveStore
from core.security import new_token
from parking.identity import repository as repo
from parking.identity.access import Principal, TokenCache, require, revoke_operator
from parking.identity.models import Device, Driver, Operator, Plate, VehicleReceiver
from parking.identity.plates import normalize_plate
from parking.identity.schemas import (
    Credentials,
    DeviceAdminOut,
    DeviceKind,
    DeviceOut,
    OperatorAccount,
    OperatorStatus,
    PlateOut,
    ReceiverIn,
    ReceiverOut,
    Role,
)
from parking.unit import Ctx


async def create_operator(ctx: Ctx, principal: Principal, name: str) -> Credentials:
    require(principal, Role.ADMIN)
    token, digest = new_token(Role.OPERATOR)
    operator = Operator(name=name, token_hash=digest)
    await repo.add_account(ctx.db, operator)
    return Credentials(id=operator.id, token=token)


def operator_account(operator: Operator, devices: int) -> OperatorAccount:
    return OperatorAccount(
        id=operator.id,
        name=operator.name,
        created_at=operator.created_at,
        status=OperatorStatus(operator.status),
        suspended_at=operator.suspended_at,
        devices=devices,
    )


async def operator_accounts(
    ctx: Ctx, principal: Principal, operator_id: uuid.UUID | None = None
) -> list[OperatorAccount]:
    """Every operator of the district, oldest first, or just the one asked for (admin only)."""
    require(principal, Role.ADMIN)
    rows = await repo.operators(ctx.db, operator_id)
    if operator_id is not None and not rows:
        raise NotFound("operator not found")
    counts = await repo.device_counts(ctx.db)
    return [operator_account(op, counts.get(op.id, 0)) for op in rows]


async def _operator(ctx: Ctx, operator_id: uuid.UUID) -> Operator:
    operator = await repo.get_operator(ctx.db, operator_id)
    if operator is None:
        raise NotFound("operator not found")
    return operator


async def operator_suspended(ctx: Ctx, operator_id: uuid.UUID) -> bool:
    operator = await repo.get_operator(ctx.db, operator_id)
    return operator is not None and operator.status == OperatorStatus.SUSPENDED


async def suspend_operator(
    ctx: Ctx, principal: Principal, operator_id: uuid.UUID, tokens: TokenCache, store: LiveStore
) -> None:
    """Refuse the operator's token and its devices' from the next request on (admin only;
    suspending a suspended operator changes nothing, not even ``suspended_at``).

    Its lots, spaces, bookings and sessions stay as they are: drivers still find the lots.
    Once committed, the credentials cached by every process are dropped (``revoke_operator``).
    """
    require(principal, Role.ADMIN)
    operator = await _operator(ctx, operator_id)
    if operator.status != OperatorStatus.SUSPENDED:
        operator.status = OperatorStatus.SUSPENDED
        operator.suspended_at = ctx.now
        await ctx.flush()
    # also on a repeat: a retry after a lost answer must still reach every cache
    ctx.after_commit.append(partial(revoke_operator, tokens, store, operator.id))


async def resume_operator(ctx: Ctx, principal: Principal, operator_id: uuid.UUID) -> None:
    """Accept the operator's credentials again (admin only; idempotent). Refusals are never
    cached, so the next request of the operator or its devices goes through."""
    require(principal, Role.ADMIN)
    operator = await _operator(ctx, operator_id)
    if operator.status != OperatorStatus.ACTIVE:
        operator.status = OperatorStatus.ACTIVE
        operator.suspended_at = None
        await ctx.flush()


async def register_driver(ctx: Ctx, name: str, phone: str) -> Credentials:
    token, digest = new_token(Role.DRIVER)
    driver = Driver(name=name, phone=phone, token_hash=digest)
    await repo.add_account(ctx.db, driver)
    return Credentials(id=driver.id, token=token)


def plate_out(row: Plate) -> PlateOut:
    return PlateOut(id=row.id, plate=row.plate, created_at=row.created_at)


async def add_plate(ctx: Ctx, principal: Principal, raw: str) -> tuple[PlateOut, bool]:
    """Register a plate to the calling driver; ``(plate, created)``. Re-adding one's own is a no-op."""
    require(principal, Role.DRIVER)
    plate = normalize_plate(raw)
    existing = await repo.plate_row(ctx.db, plate)
    if existing is not None:
        if existing.driver_id == principal.id:
            return plate_out(existing), False
        raise Conflict("this plate is registered to another account", code="plate_taken")
    assert principal.id is not None
    row = Plate(driver_id=principal.id, plate=plate)
    if not await repo.insert_plate(ctx.db, row):
        raise Conflict("this plate is registered to another account", code="plate_taken")
    return plate_out(row), True


async def driver_plates(ctx: Ctx, principal: Principal) -> list[PlateOut]:
    require(principal, Role.DRIVER)
    assert principal.id is not None
    return [plate_out(p) for p in await repo.plates_of_driver(ctx.db, principal.id)]


async def plates_of(ctx: Ctx, driver_id: uuid.UUID) -> list[str]:
    return [p.plate for p in await repo.plates_of_driver(ctx.db, driver_id)]


async def remove_plate(ctx: Ctx, principal: Principal, raw: str) -> None:
    require(principal, Role.DRIVER)
    row = await repo.plate_row(ctx.db, normalize_plate(raw))
    if row is None or row.driver_id != principal.id:
        raise NotFound("plate not found")
    await repo.delete_plate(ctx.db, row)


async def plate_owner(ctx: Ctx, plate: str) -> uuid.UUID | None:
    """The driver a (normalised) plate is registered to, if any."""
    row = await repo.plate_row(ctx.db, plate)
    return None if row is None else row.driver_id


async def require_own_plate(ctx: Ctx, principal: Principal, raw: str) -> str:
    """The normalised plate, if it is one of the calling driver's."""
    plate = normalize_plate(raw)
    if principal.id is None or await plate_owner(ctx, plate) != principal.id:
        raise plate_not_yours()
    return plate


def plate_not_yours() -> Invalid:
    return Invalid("the plate must be one of your registered plates", code="plate_not_yours")


async def issue_device(
    ctx: Ctx, operator_id: uuid.UUID, lot_id: uuid.UUID, kind: DeviceKind, name: str
) -> Credentials:
    """Credentials for a device bound to a lot (the lots room checks the lot is the operator's)."""
    token, digest = new_token(Role.DEVICE)
    device = Device(operator_id=operator_id, lot_id=lot_id, kind=kind, name=name, token_hash=digest)
    await repo.add_account(ctx.db, device)
    return Credentials(id=device.id, token=token)


def device_out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        lot_id=device.lot_id,
        kind=device.kind,
        name=device.name,
        created_at=device.created_at,
        rejected_future_events=device.rejected_future or 0,
        last_seen_at=device.last_seen_at,
    )


async def operator_devices(ctx: Ctx, principal: Principal) -> list[DeviceOut]:
    require(principal, Role.OPERATOR)
    assert principal.id is not None
    return [device_out(d) for d in await repo.devices_of_operator(ctx.db, principal.id)]


async def district_devices(
    ctx: Ctx, principal: Principal, operator_id: uuid.UUID | None = None
) -> list[DeviceAdminOut]:
    """The district's device inventory (admin only), or one operator's; an unknown operator
    answers NotFound rather than an empty list."""
    require(principal, Role.ADMIN)
    if operator_id is not None:
        await _operator(ctx, operator_id)
    return [
        DeviceAdminOut(**device_out(d).model_dump(), operator_id=d.operator_id)
        for d in await repo.devices(ctx.db, operator_id)
    ]


async def seen(ctx: Ctx, device_id: uuid.UUID | None, *, vehicle: bool = False) -> None:
    """The platform accepted something from this device (``vehicle``: a vehicle's receiver) now.
    Recorded at most once a minute per device, by one conditional UPDATE that writes nothing in
    between. ``device_id`` is a device principal's id (None, which no device has: nothing)."""
    if device_id is None:
        return
    if vehicle:
        await repo.touch_receiver(ctx.db, device_id, ctx.now)
    else:
        await repo.touch_device(ctx.db, device_id, ctx.now)


async def device_owner(ctx: Ctx, device_id: uuid.UUID) -> uuid.UUID | None:
    """The operator a device belongs to (None: no such device)."""
    device = await repo.get_device(ctx.db, device_id)
    return None if device is None else device.operator_id


async def create_receiver(ctx: Ctx, principal: Principal, data: ReceiverIn) -> Credentials:
    """A driver's in-vehicle receiver: a device token bound to one of the driver's plates."""
    require(principal, Role.DRIVER)
    plate = await require_own_plate(ctx, principal, data.plate)
    assert principal.id is not None
    token, digest = new_token(Role.DEVICE)
    receiver = VehicleReceiver(driver_id=principal.id, plate=plate, name=data.name, token_hash=digest)
    await repo.add_account(ctx.db, receiver)
    return Credentials(id=receiver.id, token=token)


def receiver_out(r: VehicleReceiver) -> ReceiverOut:
    return ReceiverOut(
        id=r.id, plate=r.plate, name=r.name, created_at=r.created_at, last_seen_at=r.last_seen_at
    )


async def driver_receivers(ctx: Ctx, principal: Principal) -> list[ReceiverOut]:
    require(principal, Role.DRIVER)
    assert principal.id is not None
    return [receiver_out(r) for r in await repo.receivers_of_driver(ctx.db, principal.id)]


async def receiver_owner(ctx: Ctx, receiver_id: uuid.UUID) -> uuid.UUID | None:
    """The driver a vehicle receiver belongs to (None: no such receiver)."""
    receiver = await repo.get_receiver(ctx.db, receiver_id)
    return None if receiver is None else receiver.driver_id


async def count_future_event(ctx: Ctx, device_id: uuid.UUID) -> None:
    """One more event this device dated ahead of our clock (refused): its clock needs a look."""
    await repo.count_future_event(ctx.db, device_id)
