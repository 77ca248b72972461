"""A booking in one PostgreSQL round trip: ``beidou_book`` (migration 0007_booking_fastpath),
called on the unit's autocommit executor, answers what ``service._create`` answers."""

from __future__ import annotations

import hashlib
import json

from core.db import Autocommit
from core.errors import Invalid
from parking.bookings import repository as repo
from parking.bookings.rules import (
    CANDIDATES,
    ROUNDS,
    check_replay,
    fingerprint,
    new_row,
    refused,
    touch_window,
    window_problem,
)
from parking.bookings.schemas import BookingIn, BookingOut, BookingStatus
from parking.identity.access import Principal, require
from parking.identity.plates import normalize_plate
from parking.identity.schemas import Role
from parking.lots.schemas import LotKind
from parking.lots.states import GATE_COUNTED, SENSOR_HORIZON
from parking.lots.tariff import Tariff, fee_fen, tariff_of
from parking.unit import Ctx

# Lots the one-statement path leaves to the ORM path: a gate-counted garage's capacity is checked
# under a lot lock, and a residential lot's spaces open in windows checked here in Python.
ORM_ONLY_KINDS = (GATE_COUNTED.value, LotKind.RESIDENTIAL_SHARED.value)
TARIFF_MEMO = "bookings.lot_tariff"
MEMO_LIMIT = 10_000


async def create_in_one_statement(
    ctx: Ctx, db: Autocommit, principal: Principal, data: BookingIn, idempotency_key: str | None
) -> tuple[BookingOut, bool] | None:
    """``_create`` in one round trip (``beidou_book``, committed when it answers); None when the
    function left the booking to the ORM path (it wrote nothing then)."""
    require(principal, Role.DRIVER)
    assert principal.id is not None
    try:
        plate = normalize_plate(data.plate)
    except Invalid:
        return None  # the ORM path answers it, after the idempotency replay as always
    problem = window_problem(ctx, data.start)
    digest = fingerprint(data)
    values = new_row(ctx, principal.id, data.lot_id, data.space_id, plate, data, 0, idempotency_key, digest)
    starts_now = data.start <= ctx.now + SENSOR_HORIZON
    for _ in range(3):  # a tariff changed under the memo costs one more round trip
        memo: tuple[str, Tariff] | None = db.memo.get((TARIFF_MEMO, data.lot_id))
        if memo is not None:
            values["price_fen"] = fee_fen(memo[1], data.start, data.end)
        row = await repo.book_in_one_statement(
            db,
            values,
            space_kind=None if data.space_kind is None else data.space_kind.value,
            window_problem=None if problem is None else problem.code,
            starts_now=starts_now,
            fallback_kinds=ORM_ONLY_KINDS,
            tariff_md5=None if memo is None else memo[0],
            rounds=ROUNDS,
            candidates=CANDIDATES,
        )
        outcome = row["o_outcome"]
        if outcome != "tariff":
            break
        text = row["o_tariff"]
        if len(db.memo) >= MEMO_LIMIT:
            db.memo.clear()
        db.memo[(TARIFF_MEMO, data.lot_id)] = (
            hashlib.md5(text.encode()).hexdigest(),
            tariff_of(json.loads(text)),
        )
    else:
        return None
    if outcome == "created":  # what was stored, as the ORM path answers it (no ORM object)
        touch_window(ctx, data.lot_id, data.start, data.end)
        return (
            BookingOut.model_construct(
                id=values["id"],
                status=BookingStatus.CONFIRMED.value,
                lot_id=data.lot_id,
                space_id=row["o_space_id"],
                plate=plate,
                start=data.start,
                end=data.end,
                price_fen=values["price_fen"],
                cancel_fee_fen=0,
                session_id=None,
                created_at=ctx.now,
            ),
            True,
        )
    if outcome == "existing":
        check_replay(row["o_fingerprint"], digest)
        return (
            BookingOut(
                id=row["o_id"],
                status=row["o_status"],
                lot_id=row["o_lot_id"],
                space_id=row["o_space_id"],
                plate=row["o_plate"],
                start=row["o_start"],
                end=row["o_end"],
                price_fen=row["o_price_fen"],
                cancel_fee_fen=row["o_cancel_fee_fen"],
                session_id=row["o_session_id"],
                created_at=row["o_created_at"],
            ),
            False,
        )
    if outcome == "fallback":
        return None
    if problem is not None and outcome == problem.code:
        raise problem
    raise refused(outcome)
