"""Caster accounts (passwords stored scrypt-hashed)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, created_column, id_column


class NtripMount(Base):
    """A caster mountpoint and the password its base station pushes with (hashed)."""

    __tablename__ = "ntrip_mounts"
    id: Mapped[uuid.UUID] = id_column()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    identifier: Mapped[str] = mapped_column(String(200), default="")
    source_password_hash: Mapped[str] = mapped_column(String(200))
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = created_column()


class NtripUser(Base):
    """A rover account; ``mounts`` limits it to some mountpoints (None: all of them)."""

    __tablename__ = "ntrip_users"
    id: Mapped[uuid.UUID] = id_column()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    mounts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    operator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = created_column()
