"""The bookings room's services: the window arithmetic, check-in at the gate, no-shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from core.errors import Conflict, Invalid
from parking.bookings import service as bookings
from parking.bookings.schemas import BookingIn, BookingStatus
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, SpaceIn
from tests.support import TARIFF, Client, unit

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def _b(start_min: int, end_min: int) -> SimpleNamespace:
    return SimpleNamespace(start_ts=T0 + timedelta(minutes=start_min), end_ts=T0 + timedelta(minutes=end_min))


def test_peak_overlap_counts_bookings_live_at_one_instant() -> None:
    window = (T0, T0 + timedelta(hours=3))
    # two overlapping, then one touching the second's end: the peak is 2, not 3
    rows = [_b(0, 60), _b(30, 90), _b(90, 120)]
    assert bookings.peak_overlap(rows, *window) == 2  # type: ignore[arg-type]
    # parts outside the asked window do not count
    assert (
        bookings.peak_overlap([_b(-60, 10), _b(20, 30)], T0 + timedelta(minutes=15), T0 + timedelta(hours=1))
        == 1
    )  # type: ignore[arg-type]
    assert bookings.peak_overlap([], *window) == 0


async def _driver_with_lot(ctx, spaces: int) -> tuple[Principal, uuid.UUID]:  # type: ignore[no-untyped-def]
    op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
    lot = await lots.create_lot(
        ctx,
        op,
        LotIn(name="L", lat=31.3, lon=121.5, kind=LotKind.SURFACE, capacity=spaces, tariff=TARIFF),
    )
    await lots.add_spaces(
        ctx, op, lot.id, [SpaceIn(code=f"S{i}", lat=31.3, lon=121.5 + i * 1e-5) for i in range(spaces)]
    )
    driver = Principal(Role.DRIVER, (await identity.register_driver(ctx, "D", "+86 138 0000 0000")).id)
    await identity.add_plate(ctx, driver, "沪A12345")
    return driver, lot.id


async def test_one_space_one_booking_per_window_and_check_in_at_the_gate(client: Client) -> None:
    async with unit(client) as ctx:
        driver, lot_id = await _driver_with_lot(ctx, spaces=1)
        start = ctx.now + timedelta(hours=2)
        data = BookingIn(lot_id=lot_id, start=start, end=start + timedelta(hours=1), plate="沪A12345")
        booking, created = await bookings.create_booking(ctx, driver, data, "k1")
        assert created and booking.status == BookingStatus.CONFIRMED
        assert booking.price_fen > 0
        replay, created_again = await bookings.create_booking(ctx, driver, data, "k1")
        assert (replay.id, created_again) == (booking.id, False)
        with pytest.raises(Conflict):  # the only space is held for the window
            await bookings.create_booking(ctx, driver, data, "k2")
        with pytest.raises(Invalid):
            await bookings.create_booking(
                ctx, driver, data.model_copy(update={"start": ctx.now - timedelta(hours=1)}), None
            )
        # an entry read 10 minutes before the start checks it in (window: 15 early, 15 grace)
        session_id = uuid.uuid4()
        got = await bookings.check_in_at_entry(
            ctx, lot_id, "沪A12345", start - timedelta(minutes=10), session_id
        )
        assert got == booking.id
        assert (await bookings.get_booking(ctx, driver, booking.id)).status == BookingStatus.CHECKED_IN
        # an arrival an hour early is no check-in
        assert (
            await bookings.check_in_at_entry(ctx, lot_id, "沪A12345", start - timedelta(hours=1), session_id)
            is None
        )


async def test_no_shows_release_their_space(client: Client) -> None:
    async with unit(client) as ctx:
        driver, lot_id = await _driver_with_lot(ctx, spaces=1)
        start = ctx.now - timedelta(minutes=3)
        data = BookingIn(lot_id=lot_id, start=start, end=start + timedelta(hours=1), plate="沪A12345")
        booking, _ = await bookings.create_booking(ctx, driver, data, None)
        assert await bookings.expire_no_shows(ctx) == 0  # still within the 15-minute grace
        ctx.now += timedelta(minutes=20)
        assert await bookings.expire_no_shows(ctx) == 1
        assert (await bookings.get_booking(ctx, driver, booking.id)).status == BookingStatus.NO_SHOW
