"""The apds room: occupancy read from the live snapshots, tariffs' edge forms as rate tables,
and the rules of the sessions listing (roles, window), below HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core.errors import Forbidden, Invalid
from parking.apds import service as apds
from parking.apds.service import LotFilter, PageRequest, SessionFilter
from parking.availability.service import lot_key
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind
from tests.parking.apds import spec
from tests.support import TARIFF, Client, unit

# one price all day (a band whose end equals its start), and a band running to 24:00
FLAT = {"unit_minutes": 60, "bands": [{"start": "00:00", "end": "00:00", "unit_fen": 300}]}
TO_MIDNIGHT = {
    "free_minutes": 10,
    "unit_minutes": 20,
    "bands": [
        {"start": "00:00", "end": "18:00", "unit_fen": 100},
        {"start": "18:00", "end": "24:00", "unit_fen": 250},
    ],
}


async def _operator(client: Client) -> Principal:
    async with unit(client) as ctx:
        return Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)


async def test_occupancy_is_read_from_the_live_snapshot(client: Client) -> None:
    op = await _operator(client)
    state = client.app.state.beidou
    async with unit(client) as ctx:
        lot = await lots.create_lot(
            ctx, op, LotIn(name="G", lat=31.3, lon=121.5, kind=LotKind.GARAGE, capacity=40, tariff=TARIFF)
        )
    # what the availability room keeps in the live store is what the export says
    snapshot = {"at": "2026-12-01T02:00:00+00:00", "free_spaces": 25, "by_kind": {"any": 25}}
    snapshot |= {"occupied": 12, "reserved": 3, "out_of_service": 0, "degraded": False}
    await state.live_store.set_json(lot_key(lot.id), snapshot)
    async with unit(client) as ctx:
        page = await apds.occupancy(ctx, state.live, PageRequest(), LotFilter())
    body = page.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec.validate("/places", body)
    ref = body["data"][0]["hierarchyElementReference"]
    assert ref["supply"][0]["supplyQuantity"] == 40
    table = ref["demandTable"][0]
    assert table["timestamp"] == "2026-12-01T02:00:00Z"
    assert [(t["occupancyCalculation"], t["count"]) for t in table["demandType"]] == [
        ("counted", 12),
        ("derived", 15),
    ]
    # what a consumer reads as free (supply - derived) is the snapshot's free count
    assert ref["supply"][0]["supplyQuantity"] - table["demandType"][1]["count"] == snapshot["free_spaces"]


async def test_edge_tariffs_as_rate_tables(client: Client) -> None:
    op = await _operator(client)
    async with unit(client) as ctx:
        flat = await lots.create_lot(
            ctx, op, LotIn(name="Flat", lat=31.3, lon=121.5, kind=LotKind.ON_STREET, capacity=4, tariff=FLAT)
        )
        late = await lots.create_lot(
            ctx,
            op,
            LotIn(name="Late", lat=31.3, lon=121.5, kind=LotKind.SURFACE, capacity=4, tariff=TO_MIDNIGHT),
        )
        page = await apds.rates(ctx, PageRequest(), LotFilter())
    body = page.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec.validate("/rates", body)
    tables = {t["id"]: t for t in body["data"]}
    # no free minutes, no cap: one collection, no maxValueCollection; the all-day band as 00:00-00:00
    (coll,) = tables[str(flat.id)]["rateLineCollections"]
    assert "maxValueCollection" not in coll and coll["minTime"] == "PT0M"
    (line,) = coll["rateLines"]
    assert (line["durationStart"], line["durationEnd"], line["value"], line["incrementPeriod"]) == (
        "00:00",
        "00:00",
        3.0,
        "PT60M",
    )
    free, charged = tables[str(late.id)]["rateLineCollections"]
    assert free["maxTime"] == charged["minTime"] == "PT10M"
    # 24:00 is no APDS time: the band ends at 00:00, read past midnight like any wrapping band
    assert [(x["durationStart"], x["durationEnd"], x["value"]) for x in charged["rateLines"]] == [
        ("00:00", "18:00", 1.0),
        ("18:00", "00:00", 2.5),
    ]


async def test_sessions_are_for_operators_and_the_admin(client: Client) -> None:
    op = await _operator(client)
    async with unit(client) as ctx:
        for role in (Role.DRIVER, Role.DEVICE):
            with pytest.raises(Forbidden):
                await apds.sessions(ctx, Principal(role, uuid.uuid4()), PageRequest(), None, SessionFilter())
        assert (await apds.sessions(ctx, op, PageRequest(), None, SessionFilter())).meta.total == 0
        assert (await apds.sessions(ctx, ADMIN, PageRequest(), None, SessionFilter())).meta.total == 0
        week = int((ctx.now - timedelta(days=8)).timestamp())
        with pytest.raises(Invalid, match="at most 7 days"):
            await apds.sessions(ctx, op, PageRequest(), None, SessionFilter(end_after=week))
        with pytest.raises(Invalid):
            await apds.places(ctx, PageRequest(page_size=0), LotFilter())
        with pytest.raises(Invalid):
            LotFilter(latitude=31.3, longitude=121.5)
