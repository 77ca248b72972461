"""gate decisions, receivables, booking prepayments and refunds, idempotency fingerprints,
refused device clocks

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # columns only: plain ALTER TABLE (a SQLite batch copy would drop the table under enforced
    # foreign keys and cascade to the rows that point at it)
    with op.batch_alter_table("anpr_events", recreate="never") as batch:
        batch.add_column(sa.Column("gate", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("amount_due_fen", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("passed", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("devices", recreate="never") as batch:
        batch.add_column(sa.Column("rejected_future", sa.Integer(), nullable=False, server_default="0"))
    for table in ("bookings", "payments"):
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True))
    op.create_table(
        "receivables",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("plate_hash", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_receivables_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["parking_sessions.id"],
            name=op.f("fk_receivables_session_id_parking_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivables")),
        sa.UniqueConstraint("session_id", name=op.f("uq_receivables_session_id")),
    )
    op.create_index(op.f("ix_receivables_lot_id"), "receivables", ["lot_id"], unique=False)
    op.create_index(op.f("ix_receivables_plate_hash"), "receivables", ["plate_hash"], unique=False)
    # a payment is for a stay or ahead of a booking (SQLite copies payments: nothing points at it)
    with op.batch_alter_table("payments") as batch:
        batch.alter_column("session_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("booking_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_payments_booking_id_bookings"), "bookings", ["booking_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint(op.f("uq_payments_booking_id"), ["booking_id", "idempotency_key"])
        batch.create_index(op.f("ix_payments_booking_id"), ["booking_id"], unique=False)
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_ref", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_refunds_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    op.create_index(op.f("ix_refunds_lot_id"), "refunds", ["lot_id"], unique=False)
    op.create_index(op.f("ix_refunds_payment_id"), "refunds", ["payment_id"], unique=False)
    op.create_index(op.f("ix_refunds_booking_id"), "refunds", ["booking_id"], unique=False)


def downgrade() -> None:
    for index in ("ix_refunds_booking_id", "ix_refunds_payment_id", "ix_refunds_lot_id"):
        op.drop_index(op.f(index), table_name="refunds")
    op.drop_table("refunds")
    op.execute("DELETE FROM payments WHERE session_id IS NULL")  # booking prepayments have no home
    with op.batch_alter_table("payments") as batch:
        batch.drop_index(op.f("ix_payments_booking_id"))
        batch.drop_constraint(op.f("uq_payments_booking_id"), type_="unique")
        batch.drop_constraint(op.f("fk_payments_booking_id_bookings"), type_="foreignkey")
        batch.drop_column("booking_id")
        batch.alter_column("session_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index(op.f("ix_receivables_plate_hash"), table_name="receivables")
    op.drop_index(op.f("ix_receivables_lot_id"), table_name="receivables")
    op.drop_table("receivables")
    for table in ("payments", "bookings"):
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("idempotency_fingerprint")
    with op.batch_alter_table("devices", recreate="never") as batch:
        batch.drop_column("rejected_future")
    with op.batch_alter_table("anpr_events", recreate="never") as batch:
        for column in ("passed", "amount_due_fen", "reason", "gate"):
            batch.drop_column(column)
