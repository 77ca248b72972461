"""What leaves the reports room."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


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
