"""Bookings. PostgreSQL adds an exclusion constraint (see the migration) so that two live
bookings can never overlap on one space, whatever the application does."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, created_column, id_column


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("driver_id", "idempotency_key"),
        Index("ix_bookings_space_window", "space_id", "start_ts", "end_ts"),
        Index("ix_bookings_lot_window", "lot_id", "start_ts", "end_ts"),
    )
    id: Mapped[uuid.UUID] = id_column()
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    space_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), nullable=True
    )
    plate: Mapped[str | None] = mapped_column(String(16), nullable=True)
    start_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    end_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    price_fen: Mapped[int] = mapped_column(Integer)
    charging: Mapped[bool] = mapped_column(Boolean, default=False)  # a space with a charger
    cancel_fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = created_column()
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
