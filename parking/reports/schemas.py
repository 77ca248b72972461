"""What leaves the reports room."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from parking.identity.schemas import OperatorStatus


class OccupancyBucket(BaseModel):
    start: datetime
    end: datetime
    avg_occupied: float
    max_occupied: int
    occupancy_ratio: float
    entries: int
    exits: int


class RevenueRow(BaseModel):
    lot_id: uuid.UUID
    day: str
    revenue_fen: int
    payments: int


# --- the admin's district-wide views ------------------------------------------------------------


class OperatorCounts(BaseModel):
    lots: int
    devices: int


class OperatorOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    status: OperatorStatus
    suspended_at: datetime | None
    counts: OperatorCounts
