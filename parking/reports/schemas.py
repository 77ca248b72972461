"""What leaves the reports room."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

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
    """A lot's money on one Asia/Shanghai day, received and billed (the reconciliation's view)."""

    lot_id: uuid.UUID
    day: str
    revenue_fen: int = Field(description="payments settled that day (cash basis)")
    payments: int = Field(description="how many payments settled that day")
    billed_fen: int = Field(description="fees of the stays that ended that day, and cancellation fees kept")
    refunded_fen: int = Field(description="refunds made that day")
    receivables_fen: int = Field(description="of the billed, what left unpaid that day (owed)")


class ReconciliationRow(BaseModel):
    """One lot's money for one Asia/Shanghai calendar day: what its stays cost, what came in,
    what is owed."""

    lot_id: uuid.UUID
    day: str
    sessions_closed: int
    fees_fen: int  # expected: the fees of the stays that ended that day
    cancellation_fees_fen: int  # expected too: fees kept from prepaid bookings cancelled or no-show
    received_fen: int  # payments settled that day (stays and bookings paid ahead)
    refunded_fen: int  # refunds the providers accepted that day
    receivables_new_fen: int  # money due on stays that left unpaid that day
    receivables_settled_fen: int  # of those (any day's), paid that day
    outstanding_fen: int  # receivables still open at the end of the day


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
    """One lot's money in one Asia/Shanghai hour or day (``start``/``end`` carry +08:00); buckets
    where nothing happened are left out."""

    lot_id: uuid.UUID
    operator_id: uuid.UUID
    start: datetime
    end: datetime
    revenue_fen: int = Field(description="payments settled (cash basis)")
    payments: int
    billed_fen: int = Field(description="fees of the stays that ended, and cancellation fees kept")
    refunded_fen: int = Field(description="refunds made")
    receivables_fen: int = Field(description="money left owed by stays that ended unpaid")
