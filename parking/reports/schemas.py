"""What leaves the reports room."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

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


class DistrictBucket(StrEnum):
    HOUR = "hour"
    DAY = "day"


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


class LotOccupancy(BaseModel):
    """One lot's occupancy buckets (the same figures its operator sees for the lot)."""

    lot_id: uuid.UUID
    operator_id: uuid.UUID
    name: str
    buckets: list[OccupancyBucket]


class RevenueBucketRow(BaseModel):
    """Settled payments of one lot in one Asia/Shanghai hour or day (``start``/``end`` carry
    +08:00); buckets without a payment are left out."""

    lot_id: uuid.UUID
    operator_id: uuid.UUID
    start: datetime
    end: datetime
    revenue_fen: int
    payments: int
