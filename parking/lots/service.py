"""Lots and spaces of an operator: creating and editing them, binding devices to them.

Another operator's lot or space answers "not found", as an unknown id does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from core.errors import Conflict, Invalid, NotFound
from parking.identity import service as identity
from parking.identity.access import Principal, operator_scope, require
from parking.identity.schemas import Credentials, DeviceIn, Role
from parking.lots import repository as repo
from parking.lots.models import Lot, Space
from parking.lots.schemas import (
    LotIn,
    LotOut,
    LotPatch,
    SharedWindow,
    SpaceIn,
    SpaceOut,
    SpacePatch,
    SpaceState,
    TariffIn,
)
from parking.lots.tariff import Tariff, tariff_of, validated
from parking.unit import Ctx


def lot_tariff(lot: Lot) -> Tariff:
    return tariff_of(lot.tariff)


def lot_out(lot: Lot) -> LotOut:
    return LotOut(
        id=lot.id,
        operator_id=lot.operator_id,
        name=lot.name,
        kind=lot.kind,
        lat=lot.lat,
        lon=lot.lon,
        capacity=lot.capacity,
        tariff=TariffIn.model_validate(lot.tariff),
        polygon=lot.polygon,
        address=lot.address,
        entrances=lot.entrances,
        entrance_service_rate_per_min=lot.entrance_service_rate_per_min,
    )


def space_out(space: Space, state: SpaceState) -> SpaceOut:
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


async def get_lot(ctx: Ctx, lot_id: uuid.UUID) -> Lot:
    lot = await repo.get_lot(ctx.db, lot_id)
    if lot is None:
        raise NotFound("lot not found")
    return lot


async def own_lot(ctx: Ctx, principal: Principal, lot_id: uuid.UUID) -> Lot:
    """The lot if the operator owns it (admins see all); otherwise as if it did not exist."""
    require(principal, Role.OPERATOR, Role.ADMIN)
    lot = await repo.get_lot(ctx.db, lot_id)
    if lot is None or (principal.role == Role.OPERATOR and lot.operator_id != principal.id):
        raise NotFound("lot not found")
    return lot


async def operates(ctx: Ctx, principal: Principal, lot_id: uuid.UUID) -> bool:
    """True when the caller is the operator of the lot."""
    if principal.role != Role.OPERATOR:
        return False
    lot = await repo.get_lot(ctx.db, lot_id)
    return lot is not None and lot.operator_id == principal.id


async def create_lot(ctx: Ctx, principal: Principal, data: LotIn) -> LotOut:
    require(principal, Role.OPERATOR)
    assert principal.id is not None
    lot = Lot(
        operator_id=principal.id,
        name=data.name,
        kind=data.kind,
        lat=data.lat,
        lon=data.lon,
        capacity=data.capacity,
        tariff=validated(data.tariff.model_dump(exclude_none=True)),
        polygon=data.polygon.model_dump() if data.polygon else None,
        address=data.address,
        entrances=data.entrances,
        entrance_service_rate_per_min=data.entrance_service_rate_per_min,
    )
    await repo.add_lot(ctx.db, lot)
    ctx.changed_lots.add(lot.id)
    ctx.lots_changed = True
    return lot_out(lot)


async def update_lot(ctx: Ctx, principal: Principal, lot_id: uuid.UUID, patch: LotPatch) -> LotOut:
    lot = await own_lot(ctx, principal, lot_id)
    changes = patch.model_dump(exclude_unset=True)
    if "tariff" in changes:
        if patch.tariff is None:
            raise Invalid("a lot needs a tariff")
        changes["tariff"] = validated(patch.tariff.model_dump(exclude_none=True))
    for field, value in changes.items():
        if value is None:
            raise Invalid(f"{field} cannot be null")
        setattr(lot, field, value)
    await ctx.flush()
    ctx.changed_lots.add(lot.id)
    ctx.lots_changed = True
    return lot_out(lot)


async def operator_lots(ctx: Ctx, principal: Principal) -> list[LotOut]:
    return [lot_out(lot) for lot in await repo.lots_of_operator(ctx.db, operator_scope(principal))]


async def own_lot_out(ctx: Ctx, principal: Principal, lot_id: uuid.UUID) -> LotOut:
    return lot_out(await own_lot(ctx, principal, lot_id))


async def all_lots(ctx: Ctx) -> Sequence[Lot]:
    return await repo.lots_of_operator(ctx.db, None)


async def add_spaces(
    ctx: Ctx, principal: Principal, lot_id: uuid.UUID, items: Sequence[SpaceIn]
) -> list[SpaceOut]:
    lot = await own_lot(ctx, principal, lot_id)
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
    if not await repo.insert_spaces(ctx.db, spaces):
        raise Conflict("a space code already exists in this lot", code="space_exists")
    ctx.changed_lots.add(lot.id)
    return [space_out(s, SpaceState.FREE) for s in spaces]


async def own_space(ctx: Ctx, principal: Principal, space_id: uuid.UUID) -> Space:
    """The space if its lot is the operator's; another operator's reads as an unknown one."""
    require(principal, Role.OPERATOR, Role.ADMIN)
    space = await repo.get_space(ctx.db, space_id)
    try:
        if space is None:
            raise NotFound("space not found")
        await own_lot(ctx, principal, space.lot_id)
    except NotFound:
        raise NotFound("space not found") from None
    return space


async def reset_space_state(ctx: Ctx, principal: Principal, space_id: uuid.UUID, occupied: bool) -> SpaceOut:
    """The operator sets what a space is (a stuck sensor, a state dated ahead of our clock before
    such events were refused): now, whatever the stored state's time; later readings apply on."""
    space = await own_space(ctx, principal, space_id)
    await repo.set_space_state(ctx.db, space.id, occupied, ctx.now, "operator")
    await repo.refresh_space(ctx.db, space)
    ctx.changed_lots.add(space.lot_id)
    if space.out_of_service:
        return space_out(space, SpaceState.OUT_OF_SERVICE)
    return space_out(space, SpaceState.OCCUPIED if occupied else SpaceState.FREE)


async def set_shared_windows(
    ctx: Ctx, principal: Principal, space_id: uuid.UUID, windows: Sequence[SharedWindow]
) -> SpaceOut:
    space = await own_space(ctx, principal, space_id)
    space.shared_windows = [{"days": sorted(set(w.days)), "start": w.start, "end": w.end} for w in windows]
    await ctx.flush()
    ctx.changed_lots.add(space.lot_id)
    return space_out(space, SpaceState.FREE)


async def update_space(ctx: Ctx, principal: Principal, space_id: uuid.UUID, patch: SpacePatch) -> SpaceOut:
    space = await own_space(ctx, principal, space_id)
    for field, value in patch.model_dump(exclude_unset=True).items():
        if value is None:
            raise Invalid(f"{field} cannot be null")
        setattr(space, field, value)
    await ctx.flush()
    ctx.changed_lots.add(space.lot_id)
    if space.out_of_service:
        state = SpaceState.OUT_OF_SERVICE
    else:
        state = SpaceState.OCCUPIED if space.occupied else SpaceState.FREE
    return space_out(space, state)


async def add_device(ctx: Ctx, principal: Principal, data: DeviceIn) -> Credentials:
    """A device bound to one of the operator's lots."""
    require(principal, Role.OPERATOR)
    lot = await own_lot(ctx, principal, data.lot_id)
    return await identity.issue_device(ctx, lot.operator_id, lot.id, data.kind, data.name)
