"""The search room: the quotes the trip planner asks for (free spaces over a stay, its price)."""

from __future__ import annotations

from datetime import timedelta

from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, SpaceIn
from parking.lots.tariff import Tariff, fee_fen
from parking.search.quotes import all_lots, quote_stays
from tests.support import TARIFF, Client, unit


async def test_a_stay_quote_counts_spaces_no_booking_holds_and_prices_the_stay(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        lot = await lots.create_lot(
            ctx, op, LotIn(name="S", lat=31.3, lon=121.5, kind=LotKind.SURFACE, capacity=2, tariff=TARIFF)
        )
        await lots.add_spaces(
            ctx,
            op,
            lot.id,
            [SpaceIn(code="A1", lat=31.3, lon=121.5), SpaceIn(code="A2", lat=31.3, lon=121.5)],
        )
        driver = Principal(Role.DRIVER, (await identity.register_driver(ctx, "D", "+86 138 0000 0000")).id)
        await identity.add_plate(ctx, driver, "沪A12345")
        arrival = ctx.now + timedelta(hours=3)
        # a booking that starts in the middle of the stay holds its space for the whole stay
        held = BookingIn(
            lot_id=lot.id,
            start=arrival + timedelta(minutes=90),
            end=arrival + timedelta(hours=4),
            plate="沪A12345",
        )
        await bookings.create_booking(ctx, driver, held, None)
        quote = (await quote_stays(ctx, {lot.id: arrival}, stay_minutes=120))[lot.id]
        assert quote.free_spaces == 1
        assert quote.cost_fen == fee_fen(Tariff.from_dict(TARIFF), arrival, arrival + timedelta(minutes=120))
        assert [s.id for s in await all_lots(ctx)] == [lot.id]
