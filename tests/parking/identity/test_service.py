"""The identity room's services, called directly (no HTTP): accounts, plates, tokens."""

from __future__ import annotations

import uuid

import pytest

from core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal, TokenCache, authenticate, require_device
from parking.identity.schemas import DeviceKind, ReceiverIn, Role
from tests.support import Client, unit


async def test_plates_are_normalised_owned_once_and_removable(client: Client) -> None:
    async with unit(client) as ctx:
        a = await identity.register_driver(ctx, "A", "+86 138 0000 0001")
        b = await identity.register_driver(ctx, "B", "+86 138 0000 0002")
        driver_a, driver_b = Principal(Role.DRIVER, a.id), Principal(Role.DRIVER, b.id)
        # separators and full-width letters fold to one form (GA 36-2018 shapes)
        first, created = await identity.add_plate(ctx, driver_a, "沪A·12345")
        again, created_again = await identity.add_plate(ctx, driver_a, "沪Ａ12345")
        assert (first.plate, created, again.id, created_again) == ("沪A12345", True, first.id, False)
        with pytest.raises(Conflict):
            await identity.add_plate(ctx, driver_b, "沪A12345")
        assert await identity.plate_owner(ctx, "沪A12345") == a.id
        with pytest.raises(Invalid):
            await identity.require_own_plate(ctx, driver_b, "沪A12345")
        with pytest.raises(NotFound):
            await identity.remove_plate(ctx, driver_b, "沪A12345")
        await identity.remove_plate(ctx, driver_a, "沪A12345")
        assert await identity.plate_owner(ctx, "沪A12345") is None


async def test_tokens_resolve_to_principals_and_roles_are_enforced(client: Client) -> None:
    async with unit(client) as ctx:
        with pytest.raises(Forbidden):  # only the admin creates operators
            await identity.create_operator(ctx, Principal(Role.DRIVER, uuid.uuid4()), "x")
        op = await identity.create_operator(ctx, ADMIN, "Op")
        drv = await identity.register_driver(ctx, "D", "+86 138 0000 0003")
        driver = Principal(Role.DRIVER, drv.id)
        await identity.add_plate(ctx, driver, "沪B54321")
        rx = await identity.create_receiver(ctx, driver, ReceiverIn(plate="沪B54321", name="car"))
        cache = TokenCache()
        who = await authenticate(ctx.db, op.token, admin_token="adm", cache=cache)
        assert (who.role, who.id) == (Role.OPERATOR, op.id)
        car = await authenticate(ctx.db, rx.token, admin_token="adm", cache=cache)
        assert (car.role, car.device_kind, car.plate, car.driver_id) == (
            Role.DEVICE,
            DeviceKind.GNSS_RECEIVER,
            "沪B54321",
            drv.id,
        )
        assert (await authenticate(ctx.db, "adm", admin_token="adm", cache=cache)).role == Role.ADMIN
        with pytest.raises(Unauthenticated):
            await authenticate(ctx.db, "dv_not-a-token", admin_token="adm", cache=cache)
        # a vehicle's receiver belongs to a driver, not a lot: it cannot act as a lot's device
        with pytest.raises(Forbidden):
            require_device(car, DeviceKind.GNSS_RECEIVER)
        assert [r.id for r in await identity.driver_receivers(ctx, driver)] == [rx.id]
        assert await identity.receiver_owner(ctx, rx.id) == drv.id
