"""The availability room: free spaces counted from sessions (garages) or sensed spaces."""

from __future__ import annotations

from datetime import timedelta

from parking.availability.service import compute, lot_spaces
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn
from parking.events import service as events
from parking.events.schemas import AnprEventIn, Direction, OccupancyEventIn
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import DeviceIn, DeviceKind, Role
from parking.lots import repository as lots_repo
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, SpaceIn, SpaceState
from tests.support import TARIFF, Client, unit


async def test_a_garage_counts_capacity_minus_open_sessions_and_bookings(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        out = await lots.create_lot(
            ctx, op, LotIn(name="G", lat=31.3, lon=121.5, kind=LotKind.GARAGE, capacity=3, tariff=TARIFF)
        )
        cam = await lots.add_device(ctx, op, DeviceIn(lot_id=out.id, kind=DeviceKind.ANPR_CAMERA, name="c"))
        await events.ingest_anpr(
            ctx,
            out.id,
            cam.id,
            AnprEventIn(event_id="1", plate="沪A11111", direction=Direction.IN, ts=ctx.now),
        )
        driver = Principal(Role.DRIVER, (await identity.register_driver(ctx, "D", "+86 138 0000 0000")).id)
        await identity.add_plate(ctx, driver, "沪A22222")
        data = BookingIn(lot_id=out.id, start=ctx.now, end=ctx.now + timedelta(hours=1), plate="沪A22222")
        await bookings.create_booking(ctx, driver, data, None)
        lot = await lots_repo.get_lot(ctx.db, out.id)
        assert lot is not None
        snapshot = await compute(ctx.db, lot, ctx.now + timedelta(seconds=1), ctx.now)
        assert (snapshot["free_spaces"], snapshot["occupied"], snapshot["reserved"]) == (1, 1, 1)


async def test_sensed_spaces_by_state_and_kind(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        out = await lots.create_lot(
            ctx, op, LotIn(name="S", lat=31.3, lon=121.5, kind=LotKind.SURFACE, capacity=2, tariff=TARIFF)
        )
        await lots.add_spaces(
            ctx,
            op,
            out.id,
            [SpaceIn(code="A1", lat=31.3, lon=121.5), SpaceIn(code="A2", lat=31.3, lon=121.5)],
        )
        await events.ingest_occupancy(
            ctx, out.id, None, OccupancyEventIn(event_id="o1", space_code="A1", occupied=True, ts=ctx.now)
        )
        lot = await lots_repo.get_lot(ctx.db, out.id)
        assert lot is not None
        states = {s.code: s.state for s in await lot_spaces(ctx, lot)}
        assert states == {"A1": SpaceState.OCCUPIED, "A2": SpaceState.FREE}
        snapshot = await compute(ctx.db, lot, ctx.now, ctx.now)
        assert (snapshot["free_spaces"], snapshot["by_kind"]) == (1, {"standard": 1})
        # beyond the sensor horizon a parked car's departure is unknown: the space counts free
        later = await compute(ctx.db, lot, ctx.now + timedelta(hours=1), ctx.now)
        assert later["free_spaces"] == 2
