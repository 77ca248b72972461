"""Stored fixes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class TrackPoint(Base):
    """One stored fix of a receiver, at most one per second (the key enforces the thinning).

    ``receiver_id`` is a device's or a vehicle receiver's id; telemetry is append-only, so no
    foreign key ties it to either table.
    """

    __tablename__ = "track_points"
    receiver_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    height: Mapped[float | None] = mapped_column(Float, nullable=True)
    quality: Mapped[int] = mapped_column(Integer)
    satellites: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hdop: Mapped[float | None] = mapped_column(Float, nullable=True)
    sigma_h: Mapped[float | None] = mapped_column(Float, nullable=True)  # smoothed, metres (1-sigma)
    smoothed_lat: Mapped[float] = mapped_column(Float)
    smoothed_lon: Mapped[float] = mapped_column(Float)
    speed_m_s: Mapped[float | None] = mapped_column(Float, nullable=True)
