"""Every query of the NTRIP accounts room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parking.ntrip.models import NtripMount, NtripUser


async def add(session: AsyncSession, row: NtripMount | NtripUser) -> None:
    session.add(row)
    await session.flush()


async def delete(session: AsyncSession, row: NtripMount | NtripUser) -> None:
    await session.delete(row)
    await session.flush()


async def mount_named(session: AsyncSession, name: str) -> NtripMount | None:
    return await session.scalar(select(NtripMount).where(NtripMount.name == name))


async def user_named(session: AsyncSession, name: str) -> NtripUser | None:
    return await session.scalar(select(NtripUser).where(NtripUser.name == name))


async def mounts(session: AsyncSession, operator_id: uuid.UUID | None = None) -> Sequence[NtripMount]:
    query = select(NtripMount).order_by(NtripMount.name)
    if operator_id is not None:
        query = query.where(NtripMount.operator_id == operator_id)
    return (await session.scalars(query)).all()


async def users(session: AsyncSession, operator_id: uuid.UUID | None = None) -> Sequence[NtripUser]:
    query = select(NtripUser).order_by(NtripUser.name)
    if operator_id is not None:
        query = query.where(NtripUser.operator_id == operator_id)
    return (await session.scalars(query)).all()
