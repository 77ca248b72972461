"""district admin: operator suspension, devices' last contact

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00

Columns only, all added with ``ALTER TABLE ... ADD COLUMN`` (nullable, or a constant default for
the rows already there), so neither backend rewrites a table. The downgrade drops them with
``ALTER TABLE ... DROP COLUMN`` too (``recreate="never"``): on SQLite a batch *copy* of
``operators`` would drop the original table under enforced foreign keys, which refuses (devices,
lots) or cascades (NTRIP accounts) on the rows that point at it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEN_TABLES = ("devices", "vehicle_receivers")


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="active"))
        batch.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
    for table in SEEN_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in SEEN_TABLES:
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("last_seen_at")
    with op.batch_alter_table("operators", recreate="never") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("status")
