"""Accounts that hold a bearer token (stored only as a SHA-256 digest), and drivers' plates.

Tenancy is explicit in the rows: a device belongs to one operator's lot, a plate to one driver.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, created_column, id_column
from parking.identity.schemas import OperatorStatus


class Operator(Base):
    """A parking operator. A suspended one (and its devices) cannot sign in until resumed."""

    __tablename__ = "operators"
    id: Mapped[uuid.UUID] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()
    status: Mapped[str] = mapped_column(
        String(16), default=OperatorStatus.ACTIVE, server_default=OperatorStatus.ACTIVE.value
    )
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Driver(Base):
    __tablename__ = "drivers"
    id: Mapped[uuid.UUID] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()


class Plate(Base):
    """A plate registered by a driver; one driver per plate, so sessions never leak across drivers."""

    __tablename__ = "plates"
    id: Mapped[uuid.UUID] = id_column()
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = created_column()


class Device(Base):
    """A camera, sensor or roadside receiver of an operator, bound to one of its lots."""

    __tablename__ = "devices"
    id: Mapped[uuid.UUID] = id_column()
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"), index=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()
    rejected_future: Mapped[int] = mapped_column(Integer, default=0)  # events dated ahead of our clock
    # when the platform last accepted something from it (recorded at most once a minute)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class VehicleReceiver(Base):
    """A GNSS receiver in a driver's vehicle, bound to one of the driver's plates.

    Kept apart from ``devices`` (which belong to an operator's lot): its owner is a driver, and
    its fixes may confirm that plate's bookings. Its token is a device token (``dv_``).
    """

    __tablename__ = "vehicle_receivers"
    id: Mapped[uuid.UUID] = id_column()
    driver_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("drivers.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
