"""Sessions and their payments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, created_column, id_column


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
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"))
    plate: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    plate_hash: Mapped[str] = mapped_column(String(64), index=True)
    entry_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    # what the stay's charging sessions cost, billed with the parking fee (one payment)
    charging_fen: Mapped[int] = mapped_column(Integer, default=0)
    paid_fen: Mapped[int] = mapped_column(Integer, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paid_basis_ts: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = created_column()


class Payment(Base):
    """Money in from a driver: for a stay (``session_id``) or ahead of a booking (``booking_id``)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("session_id", "idempotency_key"),
        UniqueConstraint("booking_id", "idempotency_key"),
        UniqueConstraint("provider", "provider_ref"),
    )
    id: Mapped[uuid.UUID] = id_column()
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("parking_sessions.id", ondelete="CASCADE"), index=True, nullable=True
    )
    booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True, nullable=True
    )
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    driver_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    fee_basis_ts: Mapped[datetime] = mapped_column(UTCDateTime)
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = created_column()
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Refund(Base):
    """Money back on a payment (a cancelled booking, a no-show, a prepaid booking the stay did not
    use up). Decided in the transaction that decides it (``pending``, an outbox row) and sent to the
    payment's provider after the commit; a refund is never lost between the two."""

    __tablename__ = "refunds"
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True, index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_column()
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Receivable(Base):
    """Money a stay still owes after its car left (an unpaid exit the operator let through, or a
    camera that saw the car go): settled when the driver pays the session later."""

    __tablename__ = "receivables"
    id: Mapped[uuid.UUID] = id_column()
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lots.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("parking_sessions.id", ondelete="CASCADE"), unique=True
    )
    plate: Mapped[str | None] = mapped_column(String(16), nullable=True)  # cleared by retention
    plate_hash: Mapped[str] = mapped_column(String(64), index=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_column()
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
