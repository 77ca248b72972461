"""What enters and leaves the events room."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from parking.lots.schemas import SpaceState
from parking.types import AwareDatetime, EventId, PlateText, Strict


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Gate(StrEnum):
    OPEN = "open"
    HOLD = "hold"


class GateReason(StrEnum):
    """Why the gate opens or holds: the barrier controller shows it to the driver."""

    BOOKED = "booked"  # entry: the plate's booking checked in
    FREE_SPACE = "free_space"  # entry: the lot has room
    FULL = "full"  # entry: no room, no booking (no session is opened)
    DUPLICATE_ENTRY = "duplicate_entry"  # entry: the plate's session was already open (flagged)
    PAID = "paid"  # exit: the stay is paid
    WITHIN_GRACE = "within_grace"  # exit: the stay costs nothing (free minutes)
    UNPAID = "unpaid"  # exit: money is due (amount_due_fen); pay, then drive out
    UNPAID_EXIT = "unpaid_exit"  # exit: the car left with money due: a receivable
    EXIT_WITHOUT_ENTRY = "exit_without_entry"  # exit: no session to charge (flagged)
    LOW_CONFIDENCE = "low_confidence"  # the read is too weak to act on: an operator checks
    REVIEW = "review"  # the times do not add up (overlong stay, exit before entry): an operator checks


class EvidenceSource(StrEnum):
    SENSOR = "sensor"
    GNSS = "gnss"  # an RTK-fixed stay of a receiver in the space


class AnprEventIn(Strict):
    event_id: EventId
    plate: PlateText
    direction: Direction
    ts: AwareDatetime
    confidence: Annotated[float, Field(ge=0, le=1)] = 1.0
    passed: bool = Field(
        default=False,
        description="exit only: the camera saw the car go through (a barrier-less lane, or a car "
        "that forced the gate); with money due the stay becomes a receivable",
    )


class AnprResult(BaseModel):
    session_id: uuid.UUID | None
    flagged: bool
    gate: Gate = Field(description="what the barrier does")
    reason: GateReason
    amount_due_fen: int | None = Field(default=None, description="exit: what the stay owes now")


class OccupancyEventIn(Strict):
    event_id: EventId
    space_code: Annotated[str, Field(min_length=1, max_length=64)]
    occupied: bool
    ts: AwareDatetime


class OccupancyResult(BaseModel):
    space_id: uuid.UUID
    applied: bool
    state: SpaceState


class FlagOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    kind: str
    session_id: uuid.UUID | None
    anpr_event_id: uuid.UUID | None
    detail: str
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class FlagResolveIn(Strict):
    resolution: Annotated[str, Field(min_length=1, max_length=1000)]


class FlagView(FlagOut):
    """A flag as the review queue shows it: with the plate the camera read and its confidence."""

    plate: str | None = None
    confidence: float | None = None
    direction: str | None = None
    read_at: datetime | None = None


class LotEvent(BaseModel):
    """One of a lot's latest device events: a camera read or a space sensor's reading."""

    source: str = Field(description="camera or sensor")
    ts: datetime
    direction: str | None = None
    plate: str | None = None
    confidence: float | None = None
    flagged: bool = False
    space_code: str | None = None
    occupied: bool | None = None
