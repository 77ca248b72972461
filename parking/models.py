"""ORM models of the parking resource center.

Tenancy is explicit in the rows: a lot belongs to an operator, a device to one lot, a plate to one
driver. Bookings carry a PostgreSQL exclusion constraint (see the migration) so that two live
bookings can never overlap on one space, whatever the application does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Operator(Base):
    __tablename__ = "operators"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()


class Driver(Base):
    __tablename__ = "drivers"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()


class Plate(Base):
    """A plate registered by a driver; one driver per plate, so sessions never leak across drivers."""

    __tablename__ = "plates"
    id: Mapped[uuid.UUID] = _id()
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = _created()


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[uuid.UUID] = _id()
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
    created_at: Mapped[datetime] = _created()


class Space(Base):
    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("lot_id", "code"), Index("ix_spaces_lat_lon", "lat", "lon"))
    id: Mapped[uuid.UUID] = _id()
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
    created_at: Mapped[datetime] = _created()


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[uuid.UUID] = _id()
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()


class ParkingSession(Base):
    """A stay of one plate in one lot, opened by an entry read and closed by an exit read.

    At most one open session per plate and lot, enforced by a partial unique index so two
    concurrent entry reads cannot both open one. ``plate`` is cleared by the retention purge;
    ``plate_hash`` (keyed) remains for statistics.
    """

    __tablename__ = "parking_sessions"
    __table_args__ = (
        Index(
            "uq_parking_sessions_open_plate",
            "lot_id",
            "plate_hash",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_parking_sessions_lot_entry", "lot_id", "entry_ts"),
    )
    id: Mapped[uuid.UUID] = _id()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    plate: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    plate_hash: Mapped[str] = mapped_column(String(64), index=True)
    entry_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_basis_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = _created()


class AnprEvent(Base):
    __tablename__ = "anpr_events"
    __table_args__ = (
        UniqueConstraint("lot_id", "event_id"),
        Index("ix_anpr_events_lot_dir_ts", "lot_id", "direction", "ts"),
    )
    id: Mapped[uuid.UUID] = _id()
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
    received_at: Mapped[datetime] = _created()


class OccupancyEvent(Base):
    __tablename__ = "occupancy_events"
    __table_args__ = (
        UniqueConstraint("lot_id", "event_id"),
        Index("ix_occupancy_events_space_ts", "space_id", "ts"),
    )
    id: Mapped[uuid.UUID] = _id()
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
    received_at: Mapped[datetime] = _created()


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("driver_id", "idempotency_key"),
        Index("ix_bookings_space_window", "space_id", "start_ts", "end_ts"),
        Index("ix_bookings_lot_window", "lot_id", "start_ts", "end_ts"),
    )
    id: Mapped[uuid.UUID] = _id()
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
    cancel_fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = _created()
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("session_id", "idempotency_key"),
        UniqueConstraint("provider", "provider_ref"),
    )
    id: Mapped[uuid.UUID] = _id()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("parking_sessions.id", ondelete="CASCADE"), index=True
    )
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    driver_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    amount_fen: Mapped[int] = mapped_column(Integer)
    fee_basis_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = _created()
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Flag(Base):
    """Something an operator must look at: an exit without entry, a double entry, a weak read."""

    __tablename__ = "flags"
    id: Mapped[uuid.UUID] = _id()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    anpr_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = _created()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


class VehicleReceiver(Base):
    """A GNSS receiver in a driver's vehicle, bound to one of the driver's plates.

    Kept apart from ``devices`` (which belong to an operator's lot): its owner is a driver, and
    its fixes may confirm that plate's bookings. Its token is a device token (``dv_``).
    """

    __tablename__ = "vehicle_receivers"
    id: Mapped[uuid.UUID] = _id()
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _created()


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


class NtripMount(Base):
    """A caster mountpoint and the password its base station pushes with (hashed)."""

    __tablename__ = "ntrip_mounts"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    identifier: Mapped[str] = mapped_column(String(200), default="")
    source_password_hash: Mapped[str] = mapped_column(String(200))
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = _created()


class NtripUser(Base):
    """A rover account; ``mounts`` limits it to some mountpoints (None: all of them)."""

    __tablename__ = "ntrip_users"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    mounts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = _created()
