"""What trip planning asks of the parking center: which lots exist, and for a lot, a planned
arrival and stay, how many spaces are predicted free then and what the stay costs.

A space counts as free for a stay only if it is free at the arrival (sensors within their
horizon, shared windows, service state: ``lots.states.space_state``) and no booking holds it at
any moment of the stay, which is what booking the stay will demand; a gate-counted garage has
room if its capacity exceeds the open sessions (near the present) plus the peak of the bookings
over the stay. The price is the lot's tariff over the stay, exactly as the booking is charged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from parking.bookings import repository as bookings_repo
from parking.bookings.service import peak_overlap
from parking.lots import repository as lots_repo
from parking.lots.schemas import SpaceKind, SpaceState
from parking.lots.service import lot_tariff
from parking.lots.states import GATE_COUNTED, SENSOR_HORIZON, space_state
from parking.lots.tariff import fee_fen
from parking.sessions import repository as sessions_repo
from parking.unit import Ctx


@dataclass(frozen=True, slots=True)
class LotSummary:
    id: uuid.UUID
    name: str
    kind: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class StayQuote:
    lot_id: uuid.UUID
    free_spaces: int
    cost_fen: int


async def all_lots(ctx: Ctx) -> list[LotSummary]:
    return [
        LotSummary(lot.id, lot.name, lot.kind, lot.lat, lot.lon)
        for lot in await lots_repo.lots_of_operator(ctx.db, None)
    ]


async def quote_stays(
    ctx: Ctx, arrivals: dict[uuid.UUID, datetime], stay_minutes: int, charge_kwh: float | None = None
) -> dict[uuid.UUID, StayQuote]:
    """For each lot, its predicted free spaces at the arrival and the fee of the stay after it.

    ``charge_kwh``: an EV driver who will charge that much during the stay. Only lots that
    price charging (an ``energy`` tariff) are quoted, their free spaces are the free EV spaces
    (where the chargers are, what a booking with charging holds), and the cost adds the energy at
    the band price of the arrival (an estimate: the bill follows the meter), rounded down."""
    out = {}
    for lot_id, at in arrivals.items():
        lot = await lots_repo.get_lot(ctx.db, lot_id)
        if lot is None:
            continue
        end = at + timedelta(minutes=stay_minutes)
        bookings = await bookings_repo.live_bookings_overlapping(ctx.db, lot.id, at, end)
        tariff = lot_tariff(lot)
        if charge_kwh is not None:
            if tariff.energy is None:
                continue
            held = {b.space_id for b in bookings}
            spaces = await lots_repo.spaces_of_lot(ctx.db, lot.id)
            free = sum(
                1
                for sp in spaces
                if sp.kind == SpaceKind.EV
                and sp.bookable
                and space_state(sp, sp.id in held, at, ctx.now) == SpaceState.FREE
            )
            energy_fen = int(charge_kwh * tariff.energy.fen_per_kwh_at(at))
            out[lot_id] = StayQuote(lot_id, free, fee_fen(tariff, at, end) + energy_fen)
            continue
        if lot.kind == GATE_COUNTED:
            sessions = (
                await sessions_repo.count_open_sessions(ctx.db, lot.id)
                if at - ctx.now <= SENSOR_HORIZON
                else 0
            )
            free = max(0, lot.capacity - sessions - peak_overlap(bookings, at, end))
        else:
            held = {b.space_id for b in bookings}
            spaces = await lots_repo.spaces_of_lot(ctx.db, lot.id)
            free = sum(
                1
                for sp in spaces
                if sp.bookable and space_state(sp, sp.id in held, at, ctx.now) == SpaceState.FREE
            )
        out[lot_id] = StayQuote(lot_id, free, fee_fen(lot_tariff(lot), at, end))
    return out
