"""Rules both ways of booking share (the ORM path in ``service`` and the one-statement path in
``one_statement``), each defined once: the window, the refusals, the idempotency fingerprint,
the new row and when it changes the live view."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from core.errors import Conflict, DomainError, Invalid, NotFound
from parking.bookings.schemas import BookingIn, BookingStatus
from parking.identity import service as identity
from parking.lots.states import SENSOR_HORIZON
from parking.unit import Ctx

# A booking may start a little in the past (clock skew, the driver at the gate).
PAST_TOLERANCE = timedelta(minutes=5)


# Rounds of "fetch candidates, try them" before answering 409: candidates fetched before a
# concurrent burst committed may all be gone, while others are still free.
ROUNDS = 3
# How many free spaces to fetch per attempt: enough to survive a few lost races without loading
# the whole lot.
CANDIDATES = 8


def window_problem(ctx: Ctx, start: datetime) -> Invalid | None:
    if start < ctx.now - PAST_TOLERANCE:
        return Invalid("a booking cannot start in the past", code="start_in_past")
    horizon = timedelta(days=ctx.settings.booking_horizon_days)
    if start > ctx.now + horizon:
        return Invalid(f"a booking may start at most {horizon.days} days ahead", code="beyond_horizon")
    return None


def refused(outcome: str) -> DomainError:
    """The error of a refusal both paths share, by its code."""
    if outcome == "lot_not_found":
        return NotFound("lot not found")
    if outcome == "lot_suspended":
        return Conflict("the lot's operator is suspended: it takes no bookings", code="lot_suspended")
    if outcome == "space_not_found":
        return NotFound("space not found in this lot")
    if outcome == "no_space":
        return Conflict("no space is free for the whole window", code="no_space")
    if outcome == "plate_not_yours":
        return identity.plate_not_yours()
    raise ValueError(f"unknown refusal {outcome!r}")


def fingerprint(data: BookingIn) -> str:
    """The request a key stands for: its body, in one canonical form."""
    # ``charging`` joined the body later: left out when off, so earlier keys replay as before
    body = data.model_dump_json(exclude=None if data.charging else {"charging"})
    return hashlib.sha256(body.encode()).hexdigest()


def check_replay(stored: str | None, fingerprint: str) -> None:
    if stored not in (None, fingerprint):
        raise Invalid("this Idempotency-Key was used for a different request", code="idempotency_key_reused")


def new_row(
    ctx: Ctx,
    driver_id: uuid.UUID,
    lot_id: uuid.UUID,
    space_id: uuid.UUID | None,
    plate: str,
    data: BookingIn,
    price: int,
    idempotency_key: str | None,
    fingerprint: str,
) -> dict[str, Any]:
    """A new booking's row."""
    return {
        "id": uuid.uuid4(),
        "driver_id": driver_id,
        "lot_id": lot_id,
        "space_id": space_id,
        "plate": plate,
        "start_ts": data.start,
        "end_ts": data.end,
        "status": BookingStatus.CONFIRMED,
        "price_fen": price,
        "charging": data.charging,
        "cancel_fee_fen": 0,
        "idempotency_key": idempotency_key,
        "idempotency_fingerprint": fingerprint,
        "created_at": ctx.now,
    }


def touch_window(ctx: Ctx, lot_id: uuid.UUID, start: datetime, end: datetime) -> None:
    if start <= ctx.now + SENSOR_HORIZON and end > ctx.now:
        ctx.changed_lots.add(lot_id)
