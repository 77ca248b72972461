"""Charge points, their connectors, charging sessions and the meter readings of each session."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, created_column, id_column


class ChargePoint(Base):
    """A charger on a space, known to the central system by ``charge_point_id`` (the last segment
    of its OCPP URL) and its password (stored as a SHA-256 digest: we generate it, 192 random bits).

    ``owner_share_pct``: a resident's private charger shared with the public gets this share of
    the charging revenue (0 for the operator's own chargers)."""

    __tablename__ = "charge_points"
    id: Mapped[uuid.UUID] = id_column()
    charge_point_id: Mapped[str] = mapped_column(String(48), unique=True)
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    space_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(64))
    owner_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    owner_share_pct: Mapped[int] = mapped_column(Integer, default=0)
    vendor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    booted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = created_column()


class Connector(Base):
    """One outlet of a charge point; its OCPP status (``Available``, ``Charging``...) as of
    ``status_ts`` (the charger's time: an older notification never overwrites a newer one)."""

    __tablename__ = "charge_connectors"
    __table_args__ = (UniqueConstraint("point_id", "connector_id"),)
    id: Mapped[uuid.UUID] = id_column()
    point_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("charge_points.id", ondelete="CASCADE"))
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    connector_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    max_kw: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="Unavailable")
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChargingSession(Base):
    """One OCPP transaction: who charged (the plate as id tag), on which parking session or
    booking, the energy so far, and once stopped what it cost.

    A replayed StartTransaction (same charger, connector and start time) finds this row again
    (the unique constraint), so it has one effect."""

    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("point_id", "connector_id", "start_ts"),
        Index("ix_charging_sessions_lot_start", "lot_id", "start_ts"),
    )
    id: Mapped[uuid.UUID] = id_column()
    transaction_id: Mapped[int] = mapped_column(Integer, unique=True)
    point_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charge_points.id", ondelete="CASCADE"), index=True
    )
    connector_id: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    id_tag: Mapped[str] = mapped_column(String(20))
    plate: Mapped[str | None] = mapped_column(String(16), nullable=True)
    parking_session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="charging")
    start_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    meter_start_wh: Mapped[int] = mapped_column(Integer)
    energy_wh: Mapped[int] = mapped_column(Integer, default=0)
    last_meter_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stop_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    meter_stop_wh: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    charge_end_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    energy_fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    idle_fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    billed_on_session: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_column()


class MeterReading(Base):
    """The energy register at one instant of a session: the key is the instant, so a resent or
    reordered MeterValues stores nothing twice."""

    __tablename__ = "charging_meter_readings"
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charging_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    wh: Mapped[int] = mapped_column(Integer)
