"""EV charging: charge points on spaces, connectors, charging sessions and their meter readings;
bookings with charging, parking sessions' charging fees

Revision ID: 0006_ev_charging
Revises: 0005
Create Date: 2026-12-06 08:30:00

New tables, and columns added with ``ALTER TABLE ... ADD COLUMN`` and a constant default for the
rows already there (``recreate="never"``: a SQLite batch copy of ``bookings`` or
``parking_sessions`` would drop the table under enforced foreign keys).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_ev_charging"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charge_points",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("charge_point_id", sa.String(length=48), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("space_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_name", sa.String(length=100), nullable=True),
        sa.Column("owner_share_pct", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("booted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_charge_points_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_charge_points_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_charge_points_space_id_spaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_points")),
        sa.UniqueConstraint("charge_point_id", name=op.f("uq_charge_points_charge_point_id")),
    )
    with op.batch_alter_table("charge_points", recreate="never") as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_points_lot_id"), ["lot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_charge_points_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_charge_points_space_id"), ["space_id"], unique=False)

    op.create_table(
        "charge_connectors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("max_kw", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("status_ts", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_charge_connectors_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["charge_points.id"],
            name=op.f("fk_charge_connectors_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_connectors")),
        sa.UniqueConstraint("point_id", "connector_id", name=op.f("uq_charge_connectors_point_id")),
    )
    with op.batch_alter_table("charge_connectors", recreate="never") as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_connectors_lot_id"), ["lot_id"], unique=False)

    op.create_table(
        "charging_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("id_tag", sa.String(length=20), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("parking_session_id", sa.Uuid(), nullable=True),
        sa.Column("booking_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meter_start_wh", sa.Integer(), nullable=False),
        sa.Column("energy_wh", sa.Integer(), nullable=False),
        sa.Column("last_meter_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meter_stop_wh", sa.Integer(), nullable=True),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("charge_end_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("energy_fee_fen", sa.Integer(), nullable=False),
        sa.Column("idle_fee_fen", sa.Integer(), nullable=False),
        sa.Column("fee_fen", sa.Integer(), nullable=False),
        sa.Column("billed_on_session", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_charging_sessions_lot_id_lots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["point_id"],
            ["charge_points.id"],
            name=op.f("fk_charging_sessions_point_id_charge_points"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_sessions")),
        sa.UniqueConstraint(
            "point_id", "connector_id", "start_ts", name=op.f("uq_charging_sessions_point_id")
        ),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_charging_sessions_transaction_id")),
    )
    with op.batch_alter_table("charging_sessions", recreate="never") as batch_op:
        batch_op.create_index("ix_charging_sessions_lot_start", ["lot_id", "start_ts"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_charging_sessions_parking_session_id"), ["parking_session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_charging_sessions_point_id"), ["point_id"], unique=False)

    op.create_table(
        "charging_meter_readings",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wh", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["charging_sessions.id"],
            name=op.f("fk_charging_meter_readings_session_id_charging_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "ts", name=op.f("pk_charging_meter_readings")),
    )
    with op.batch_alter_table("bookings", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("charging", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("parking_sessions", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("charging_fen", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("parking_sessions", recreate="never") as batch_op:
        batch_op.drop_column("charging_fen")
    with op.batch_alter_table("bookings", recreate="never") as batch_op:
        batch_op.drop_column("charging")

    op.drop_table("charging_meter_readings")
    with op.batch_alter_table("charging_sessions", recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_charging_sessions_point_id"))
        batch_op.drop_index(batch_op.f("ix_charging_sessions_parking_session_id"))
        batch_op.drop_index("ix_charging_sessions_lot_start")

    op.drop_table("charging_sessions")
    with op.batch_alter_table("charge_connectors", recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_connectors_lot_id"))

    op.drop_table("charge_connectors")
    with op.batch_alter_table("charge_points", recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_points_space_id"))
        batch_op.drop_index(batch_op.f("ix_charge_points_operator_id"))
        batch_op.drop_index(batch_op.f("ix_charge_points_lot_id"))

    op.drop_table("charge_points")
