"""ntrip accounts: mountpoints and rover users

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table, secret in (("ntrip_mounts", "source_password_hash"), ("ntrip_users", "password_hash")):
        columns = [
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column(secret, sa.String(length=200), nullable=False),
            sa.Column("operator_id", sa.Uuid(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        ]
        if table == "ntrip_mounts":
            columns.append(sa.Column("identifier", sa.String(length=200), nullable=False))
        else:
            columns.append(sa.Column("mounts", sa.JSON(), nullable=True))
        op.create_table(
            table,
            *columns,
            sa.ForeignKeyConstraint(
                ["operator_id"],
                ["operators.id"],
                name=op.f(f"fk_{table}_operator_id_operators"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("name", name=op.f(f"uq_{table}_name")),
        )
        op.create_index(op.f(f"ix_{table}_operator_id"), table, ["operator_id"], unique=False)


def downgrade() -> None:
    for table in ("ntrip_users", "ntrip_mounts"):
        op.drop_index(op.f(f"ix_{table}_operator_id"), table_name=table)
        op.drop_table(table)
