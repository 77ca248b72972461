"""Lots of an operator and their spaces."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, created_column, id_column


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[uuid.UUID] = id_column()
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    capacity: Mapped[int] = mapped_column(Integer)
    tariff: Mapped[dict[str, Any]] = mapped_column(JSON)
    polygon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    entrances: Mapped[int] = mapped_column(Integer, default=1)
    entrance_service_rate_per_min: Mapped[float] = mapped_column(Float, default=6.0)
    created_at: Mapped[datetime] = created_column()


class Space(Base):
    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("lot_id", "code"), Index("ix_spaces_lat_lon", "lat", "lon"))
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    bookable: Mapped[bool] = mapped_column(Boolean, default=True)
    polygon: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shared_windows: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    out_of_service: Mapped[bool] = mapped_column(Boolean, default=False)
    occupied: Mapped[bool] = mapped_column(Boolean, default=False)
    state_source: Mapped[str] = mapped_column(String(32), default="initial")
    state_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = created_column()
