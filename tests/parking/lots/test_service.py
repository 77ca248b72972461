"""The lots room's services: lots and spaces of an operator, tenancy, tariffs checked on entry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import Conflict, Invalid, NotFound
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import DeviceIn, DeviceKind, Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, LotPatch, SpaceIn, SpacePatch, SpaceState
from tests.support import TARIFF, Client, unit


def _lot(**overrides: object) -> LotIn:
    values: dict[str, object] = {
        "name": "Lot",
        "lat": 31.3,
        "lon": 121.5,
        "kind": LotKind.SURFACE,
        "capacity": 10,
        "tariff": TARIFF,
    }
    values.update(overrides)
    return LotIn.model_validate(values)


async def test_an_operator_sees_and_changes_only_its_own_lots(client: Client) -> None:
    async with unit(client) as ctx:
        mine = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Mine")).id)
        theirs = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Theirs")).id)
        lot = await lots.create_lot(ctx, mine, _lot())
        assert lot.id in ctx.changed_lots and ctx.lots_changed  # live store and caches follow
        assert [x.id for x in await lots.operator_lots(ctx, mine)] == [lot.id]
        assert await lots.operator_lots(ctx, theirs) == []
        for call in (
            lots.own_lot(ctx, theirs, lot.id),
            lots.update_lot(ctx, theirs, lot.id, LotPatch(name="x")),
            lots.add_device(ctx, theirs, DeviceIn(lot_id=lot.id, kind=DeviceKind.ANPR_CAMERA, name="c")),
        ):
            with pytest.raises(NotFound):
                await call
        assert (await lots.own_lot_out(ctx, ADMIN, lot.id)).id == lot.id  # the admin sees all


async def test_tariffs_are_validated_and_stored_canonical(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        # the typed tariff refuses what no tariff can mean before the service sees it
        with pytest.raises(ValidationError, match="unit_minutes"):
            _lot(tariff={**TARIFF, "unit_minutes": 0})
        with pytest.raises(ValidationError, match="bands"):
            LotPatch.model_validate({"tariff": {**TARIFF, "bands": []}})
        # the service checks what only the whole tariff shows: bands that leave hours unpriced
        gap = {**TARIFF, "bands": [{"start": "08:00", "end": "20:00", "unit_fen": 500}]}
        with pytest.raises(Invalid):
            await lots.create_lot(ctx, op, _lot(tariff=gap))
        lot = await lots.create_lot(ctx, op, _lot())
        assert lot.tariff.bands[0].unit_fen == TARIFF["bands"][0]["unit_fen"]
        # stored canonical: what came in, every field named (no charging prices: energy null)
        assert lot.tariff.model_dump() == {**TARIFF, "energy": None}


async def test_spaces_codes_are_unique_and_states_follow_patches(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        lot = await lots.create_lot(ctx, op, _lot())
        spaces = await lots.add_spaces(ctx, op, lot.id, [SpaceIn(code="A1", lat=31.3, lon=121.5)])
        assert [s.state for s in spaces] == [SpaceState.FREE]
        with pytest.raises(Invalid):
            await lots.add_spaces(
                ctx,
                op,
                lot.id,
                [SpaceIn(code="B1", lat=31.3, lon=121.5), SpaceIn(code="B1", lat=31.3, lon=121.5)],
            )
        with pytest.raises(Conflict):
            await lots.add_spaces(ctx, op, lot.id, [SpaceIn(code="A1", lat=31.3, lon=121.5)])
        patched = await lots.update_space(ctx, op, spaces[0].id, SpacePatch(out_of_service=True))
        assert patched.state == SpaceState.OUT_OF_SERVICE
