"""What enters and leaves the sessions room."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from parking.types import Strict


class SessionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SessionFlag(StrEnum):
    """What an operator must look at in a stay (kept on the session and queued as a flag)."""

    LOW_CONFIDENCE = "low_confidence"  # a plate read below the confidence threshold
    DUPLICATE_ENTRY = "duplicate_entry"  # entry read while the plate's session is open
    EXIT_WITHOUT_ENTRY = "exit_without_entry"
    EXIT_BEFORE_ENTRY = "exit_before_entry"  # the exit's timestamp precedes the entry's
    OVERLONG_STAY = "overlong_stay"  # longer than BEIDOU_MAX_STAY_H: held for review, not billed
    UNPAID_EXIT = "unpaid_exit"  # the car left with money due: a receivable


class ReceivableReason(StrEnum):
    UNPAID_EXIT = "unpaid_exit"  # a camera saw the car leave with money due
    RELEASED = "released"  # the operator opened the gate with money due
    REVIEW = "review"  # the car left during a stay held for review (its fee is flagged)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SessionOut(BaseModel):
    id: uuid.UUID
    plate: str | None
    lot_id: uuid.UUID
    entry_ts: datetime | None
    exit_ts: datetime | None
    status: str
    fee_fen: int
    paid_fen: int
    exit_allowed: bool
    booking_id: uuid.UUID | None
    flags: list[str]


class PaymentOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID | None = Field(description="the stay paid for (or null: a booking's prepayment)")
    booking_id: uuid.UUID | None = Field(default=None, description="the booking paid ahead")
    amount_fen: int
    provider: str
    provider_ref: str
    status: str
    created_at: datetime
    settled_at: datetime | None
    checkout_url: str | None = Field(
        default=None, description="while pending: the provider's checkout page, which the app opens"
    )


class PaymentCallbackIn(Strict):
    model_config = ConfigDict(extra="ignore")
    provider_ref: Annotated[str, Field(min_length=1, max_length=64)]
    status: Literal["succeeded", "failed"]
    amount_fen: Annotated[int, Field(ge=0)]


class ReceivableOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    session_id: uuid.UUID
    plate: str | None
    amount_fen: int
    reason: str
    created_at: datetime
    settled_at: datetime | None


class ReleaseIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=500, description="why the gate was opened")]
