"""gnss ingestion: vehicle receivers and thinned tracks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vehicle_receivers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("driver_id", sa.Uuid(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"],
            ["drivers.id"],
            name=op.f("fk_vehicle_receivers_driver_id_drivers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle_receivers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_vehicle_receivers_token_hash")),
    )
    op.create_index(op.f("ix_vehicle_receivers_driver_id"), "vehicle_receivers", ["driver_id"], unique=False)
    op.create_table(
        "track_points",
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("height", sa.Float(), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.Column("satellites", sa.Integer(), nullable=True),
        sa.Column("hdop", sa.Float(), nullable=True),
        sa.Column("sigma_h", sa.Float(), nullable=True),
        sa.Column("smoothed_lat", sa.Float(), nullable=False),
        sa.Column("smoothed_lon", sa.Float(), nullable=False),
        sa.Column("speed_m_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("receiver_id", "ts", name=op.f("pk_track_points")),
    )
    op.create_index("ix_spaces_lat_lon", "spaces", ["lat", "lon"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_spaces_lat_lon", table_name="spaces")
    op.drop_table("track_points")
    op.drop_index(op.f("ix_vehicle_receivers_driver_id"), table_name="vehicle_receivers")
    op.drop_table("vehicle_receivers")
