"""What enters and leaves the bookings room."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from parking.lots.schemas import SpaceKind
from parking.types import AwareDatetime, PlateText, Strict


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"  # holds its space for the window
    CHECKED_IN = "checked_in"  # the car arrived (gate read or RTK-fixed stay)
    COMPLETED = "completed"  # the car left
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"  # not arrived by start + grace: the space is released


LIVE_BOOKING = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


class BookingIn(Strict):
    lot_id: uuid.UUID
    space_id: uuid.UUID | None = None
    space_kind: SpaceKind | None = None
    start: AwareDatetime
    end: AwareDatetime
    plate: PlateText
    charging: bool = Field(default=False, description="a space with a charger (an EV space)")

    @model_validator(mode="after")
    def _window(self) -> BookingIn:
        if self.charging and self.space_kind not in (None, SpaceKind.EV):
            raise ValueError("a booking with charging is for an ev space")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).total_seconds() > 7 * 86400:
            raise ValueError("a booking may last at most 7 days")
        return self


class BookingOut(BaseModel):
    id: uuid.UUID
    status: str
    lot_id: uuid.UUID
    space_id: uuid.UUID | None
    plate: str | None
    start: datetime
    end: datetime
    price_fen: int
    cancel_fee_fen: int
    session_id: uuid.UUID | None
    created_at: datetime
    charging: bool = False


class RefundOut(BaseModel):
    id: uuid.UUID
    amount_fen: int
    reason: str = Field(description="cancellation, no_show, or unused (the stay cost less than paid)")
    status: str = Field(description="pending until the provider accepts it, then succeeded")
    provider: str
    provider_ref: str | None
    created_at: datetime
    settled_at: datetime | None


class BookingMoneyOut(BaseModel):
    booking_id: uuid.UUID
    price_fen: int
    paid_fen: int = Field(description="paid ahead (succeeded payments)")
    pending_fen: int = Field(description="payments awaiting the provider's confirmation")
    cancel_fee_fen: int = Field(description="kept under the tariff's cancellation rule")
    refunds: list[RefundOut]
