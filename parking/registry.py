"""Operators, drivers, plates, devices, lots and spaces: the district's registry.

Credentials are returned once at creation and stored only as digests.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from core.db import try_insert
from core.errors import Conflict, Invalid, NotFound
from core.security import new_token
from parking import repository as repo
from parking.access import Principal, operator_scope, own_lot, require
from parking.availability import space_states
from parking.context import Ctx
from parking.models import Device, Driver, Lot, Operator, Plate, Space, VehicleReceiver
from parking.plates import normalize_plate
from parking.schemas import (
    Credentials,
    DeviceIn,
    LotIn,
    LotPatch,
    ReceiverIn,
    SharedWindow,
    SpaceIn,
    SpaceOut,
    SpacePatch,
)
from parking.tariff import Tariff


async def create_operator(ctx: Ctx, principal: Principal, name: str) -> Credentials:
    require(principal, "admin")
    token, digest = new_token("operator")
    operator = Operator(name=name, token_hash=digest)
    ctx.db.add(operator)
    await ctx.db.flush()
    return Credentials(id=operator.id, token=token)


async def register_driver(ctx: Ctx, name: str, phone: str) -> Credentials:
    token, digest = new_token("driver")
    driver = Driver(name=name, phone=phone, token_hash=digest)
    ctx.db.add(driver)
    await ctx.db.flush()
    return Credentials(id=driver.id, token=token)


async def add_plate(ctx: Ctx, principal: Principal, raw: str) -> tuple[Plate, bool]:
    """Register a plate to the calling driver; ``(plate, created)``. Re-adding one's own is a no-op."""
    require(principal, "driver")
    plate = normalize_plate(raw)
    existing = await repo.plate_row(ctx.db, plate)
    if existing is not None:
        if existing.driver_id == principal.id:
            return existing, False
        raise Conflict("this plate is registered to another account", code="plate_taken")
    assert principal.id is not None
    row = Plate(driver_id=principal.id, plate=plate)
    if not await try_insert(ctx.db, row):
        raise Conflict("this plate is registered to another account", code="plate_taken")
    return row, True


async def driver_plates(ctx: Ctx, principal: Principal) -> Sequence[Plate]:
    require(principal, "driver")
    assert principal.id is not None
    return await repo.plates_of_driver(ctx.db, principal.id)


async def remove_plate(ctx: Ctx, principal: Principal, raw: str) -> None:
    require(principal, "driver")
    row = await repo.plate_row(ctx.db, normalize_plate(raw))
    if row is None or row.driver_id != principal.id:
        raise NotFound("plate not found")
    await ctx.db.delete(row)


async def create_device(ctx: Ctx, principal: Principal, data: DeviceIn) -> Credentials:
    require(principal, "operator")
    lot = await own_lot(ctx.db, principal, data.lot_id)
    token, digest = new_token("device")
    device = Device(
        operator_id=lot.operator_id,
        lot_id=lot.id,
        kind=data.kind,
        name=data.name,
        token_hash=digest,
    )
    ctx.db.add(device)
    await ctx.db.flush()
    return Credentials(id=device.id, token=token)


async def operator_devices(ctx: Ctx, principal: Principal) -> Sequence[Device]:
    require(principal, "operator")
    assert principal.id is not None
    return await repo.devices_of_operator(ctx.db, principal.id)


def _validated_tariff(data: dict[str, Any]) -> dict[str, Any]:
    return Tariff.from_dict(data).to_dict()


async def create_lot(ctx: Ctx, principal: Principal, data: LotIn) -> Lot:
    require(principal, "operator")
    assert principal.id is not None
    lot = Lot(
        operator_id=principal.id,
        name=data.name,
        kind=data.kind,
        lat=data.lat,
        lon=data.lon,
        capacity=data.capacity,
        tariff=_validated_tariff(data.tariff),
        polygon=data.polygon.model_dump() if data.polygon else None,
        address=data.address,
        entrances=data.entrances,
        entrance_service_rate_per_min=data.entrance_service_rate_per_min,
    )
    ctx.db.add(lot)
    await ctx.db.flush()
    ctx.changed_lots.add(lot.id)
    ctx.lots_changed = True
    return lot


async def update_lot(ctx: Ctx, principal: Principal, lot_id: uuid.UUID, patch: LotPatch) -> Lot:
    lot = await own_lot(ctx.db, principal, lot_id)
    changes = patch.model_dump(exclude_unset=True)
    if "tariff" in changes:
        if changes["tariff"] is None:
            raise Invalid("a lot needs a tariff")
        changes["tariff"] = _validated_tariff(changes["tariff"])
    for field, value in changes.items():
        if value is None:
            raise Invalid(f"{field} cannot be null")
        setattr(lot, field, value)
    await ctx.db.flush()
    ctx.changed_lots.add(lot.id)
    ctx.lots_changed = True
    return lot


async def operator_lots(ctx: Ctx, principal: Principal) -> Sequence[Lot]:
    return await repo.lots_of_operator(ctx.db, operator_scope(principal))


async def add_spaces(
    ctx: Ctx, principal: Principal, lot_id: uuid.UUID, items: Sequence[SpaceIn]
) -> list[Space]:
    lot = await own_lot(ctx.db, principal, lot_id)
    codes = [item.code for item in items]
    if len(set(codes)) != len(codes):
        raise Invalid("space codes repeat within the request")
    for code in codes:
        if await repo.space_by_code(ctx.db, lot.id, code) is not None:
            raise Conflict(f"space {code!r} already exists in this lot", code="space_exists")
    spaces = [
        Space(
            lot_id=lot.id,
            code=item.code,
            kind=item.kind,
            lat=item.lat,
            lon=item.lon,
            bookable=item.bookable,
            polygon=item.polygon.model_dump() if item.polygon else None,
            shared_windows=[],
        )
        for item in items
    ]
    if not await try_insert(ctx.db, *spaces):
        raise Conflict("a space code already exists in this lot", code="space_exists")
    ctx.changed_lots.add(lot.id)
    return spaces


async def _own_space(ctx: Ctx, principal: Principal, space_id: uuid.UUID) -> Space:
    require(principal, "operator", "admin")
    space = await repo.get_space(ctx.db, space_id)
    if space is None:
        raise NotFound("space not found")
    await own_lot(ctx.db, principal, space.lot_id)
    return space


async def set_shared_windows(
    ctx: Ctx, principal: Principal, space_id: uuid.UUID, windows: Sequence[SharedWindow]
) -> Space:
    space = await _own_space(ctx, principal, space_id)
    space.shared_windows = [{"days": sorted(set(w.days)), "start": w.start, "end": w.end} for w in windows]
    await ctx.db.flush()
    ctx.changed_lots.add(space.lot_id)
    return space


async def update_space(ctx: Ctx, principal: Principal, space_id: uuid.UUID, patch: SpacePatch) -> Space:
    space = await _own_space(ctx, principal, space_id)
    for field, value in patch.model_dump(exclude_unset=True).items():
        if value is None:
            raise Invalid(f"{field} cannot be null")
        setattr(space, field, value)
    await ctx.db.flush()
    ctx.changed_lots.add(space.lot_id)
    return space


async def lot_spaces(ctx: Ctx, lot: Lot) -> list[SpaceOut]:
    spaces = await repo.spaces_of_lot(ctx.db, lot.id)
    bookings = await repo.live_bookings_overlapping(ctx.db, lot.id, ctx.now, ctx.now)
    bookings = [b for b in bookings if b.start_ts <= ctx.now]
    states = space_states(spaces, bookings, ctx.now, ctx.now)
    return [space_out(space, states[space.id]) for space in spaces]


def space_out(space: Space, state: str) -> SpaceOut:
    return SpaceOut(
        id=space.id,
        lot_id=space.lot_id,
        code=space.code,
        kind=space.kind,
        lat=space.lat,
        lon=space.lon,
        bookable=space.bookable,
        polygon=space.polygon,
        shared_windows=space.shared_windows or [],
        state=state,
        state_source=space.state_source,
        state_ts=space.state_ts,
    )


async def create_receiver(ctx: Ctx, principal: Principal, data: ReceiverIn) -> Credentials:
    """A driver's in-vehicle receiver: a device token bound to one of the driver's plates."""
    require(principal, "driver")
    plate = normalize_plate(data.plate)
    owner = await repo.plate_row(ctx.db, plate)
    if owner is None or owner.driver_id != principal.id:
        raise Invalid("the plate must be one of your registered plates", code="plate_not_yours")
    assert principal.id is not None
    token, digest = new_token("device")
    receiver = VehicleReceiver(driver_id=principal.id, plate=plate, name=data.name, token_hash=digest)
    ctx.db.add(receiver)
    await ctx.db.flush()
    return Credentials(id=receiver.id, token=token)


async def driver_receivers(ctx: Ctx, principal: Principal) -> Sequence[VehicleReceiver]:
    require(principal, "driver")
    assert principal.id is not None
    return await repo.receivers_of_driver(ctx.db, principal.id)
