"""Device events (append-only, unique per lot and event id) and the review queue."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, created_column, id_column


class AnprEvent(Base):
    __tablename__ = "anpr_events"
    __table_args__ = (
        UniqueConstraint("lot_id", "event_id"),
        Index("ix_anpr_events_lot_dir_ts", "lot_id", "direction", "ts"),
    )
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(128))
    plate: Mapped[str | None] = mapped_column(String(16), nullable=True)
    plate_hash: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    confidence: Mapped[float] = mapped_column(Float)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # the gate's answer, kept so that a replayed read gets the same one
    gate: Mapped[str | None] = mapped_column(String(8), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    amount_due_fen: Mapped[int | None] = mapped_column(Integer, nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean, default=False)  # the camera saw the car go through
    received_at: Mapped[datetime] = created_column()


class OccupancyEvent(Base):
    __tablename__ = "occupancy_events"
    __table_args__ = (
        UniqueConstraint("lot_id", "event_id"),
        Index("ix_occupancy_events_space_ts", "space_id", "ts"),
    )
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )
    event_id: Mapped[str] = mapped_column(String(128))
    space_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    occupied: Mapped[bool] = mapped_column(Boolean)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32), default="sensor")
    applied: Mapped[bool] = mapped_column(Boolean)
    received_at: Mapped[datetime] = created_column()


class Flag(Base):
    """Something an operator must look at: an exit without entry, a double entry, a weak read."""

    __tablename__ = "flags"
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    anpr_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = created_column()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
