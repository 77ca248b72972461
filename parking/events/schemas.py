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


class EvidenceSource(StrEnum):
    SENSOR = "sensor"
    GNSS = "gnss"  # an RTK-fixed stay of a receiver in the space


class AnprEventIn(Strict):
    event_id: EventId
    plate: PlateText
    direction: Direction
    ts: AwareDatetime
    confidence: Annotated[float, Field(ge=0, le=1)] = 1.0


class AnprResult(BaseModel):
    session_id: uuid.UUID | None
    flagged: bool


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
