"""Every query of the lots room."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import try_insert
from parking.lots.models import Lot, Space


async def add_lot(session: AsyncSession, lot: Lot) -> None:
    session.add(lot)
    await session.flush()


async def insert_spaces(session: AsyncSession, spaces: Sequence[Space]) -> bool:
    """False when a code already exists in the lot (a concurrent request won)."""
    return await try_insert(session, *spaces)


async def get_lot(session: AsyncSession, lot_id: uuid.UUID) -> Lot | None:
    return await session.get(Lot, lot_id)


async def lock_lot(session: AsyncSession, lot_id: uuid.UUID) -> Lot | None:
    """The lot row under ``FOR UPDATE`` (a no-op on SQLite, whose writers are serialised)."""
    return await session.scalar(select(Lot).where(Lot.id == lot_id).with_for_update())


async def all_lot_ids(session: AsyncSession) -> Sequence[uuid.UUID]:
    return (await session.scalars(select(Lot.id))).all()


async def lots_of_operator(session: AsyncSession, operator_id: uuid.UUID | None) -> Sequence[Lot]:
    query = select(Lot).order_by(Lot.created_at)
    if operator_id is not None:
        query = query.where(Lot.operator_id == operator_id)
    return (await session.scalars(query)).all()


async def lot_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    """Lots per operator (operators without any are absent)."""
    rows = await session.execute(select(Lot.operator_id, func.count().label("n")).group_by(Lot.operator_id))
    return {row.operator_id: row.n for row in rows}


async def lots_in_box(
    session: AsyncSession, box: tuple[float, float, float, float], kind: str | None
) -> Sequence[Lot]:
    min_lat, max_lat, min_lon, max_lon = box
    query = select(Lot).where(Lot.lat.between(min_lat, max_lat), Lot.lon.between(min_lon, max_lon))
    if kind is not None:
        query = query.where(Lot.kind == kind)
    return (await session.scalars(query)).all()


async def spaces_of_lot(session: AsyncSession, lot_id: uuid.UUID) -> Sequence[Space]:
    result = await session.scalars(select(Space).where(Space.lot_id == lot_id).order_by(Space.code))
    return result.all()


async def get_space(session: AsyncSession, space_id: uuid.UUID) -> Space | None:
    return await session.get(Space, space_id)


async def space_by_code(session: AsyncSession, lot_id: uuid.UUID, code: str) -> Space | None:
    return await session.scalar(select(Space).where(Space.lot_id == lot_id, Space.code == code))


async def refresh_space(session: AsyncSession, space: Space) -> None:
    await session.refresh(space)


async def apply_space_state(
    session: AsyncSession, space_id: uuid.UUID, occupied: bool, ts: datetime, source: str
) -> bool:
    """Set the sensed state unless a newer one is already there; one statement, so no lost update."""
    result = await session.execute(
        update(Space)
        .where(Space.id == space_id, or_(Space.state_ts.is_(None), Space.state_ts < ts))
        .values(occupied=occupied, state_ts=ts, state_source=source)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def spaces_in_box(session: AsyncSession, box: tuple[float, float, float, float]) -> Sequence[Space]:
    """Spaces with a polygon whose reference point is in the box (any lot): fix-to-space candidates."""
    min_lat, max_lat, min_lon, max_lon = box
    result = await session.scalars(
        select(Space).where(
            Space.lat.between(min_lat, max_lat),
            Space.lon.between(min_lon, max_lon),
            Space.polygon.is_not(None),
        )
    )
    return result.all()


async def set_space_state(
    session: AsyncSession, space_id: uuid.UUID, occupied: bool, ts: datetime, source: str
) -> None:
    """Set the state whatever the stored one's time (an operator's correction)."""
    await session.execute(
        update(Space)
        .where(Space.id == space_id)
        .values(occupied=occupied, state_ts=ts, state_source=source)
        .execution_options(synchronize_session=False)
    )


async def shared_windows_by_lot(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, list[list[dict[str, object]]]]:
    """Per lot, the shared windows of each space that has any (off-peak sharing). Read as text
    and parsed once per distinct value: a district's 20,000 spaces share a few patterns."""
    as_text = func.coalesce(cast(Space.shared_windows, String), "null")
    query = select(Space.lot_id, as_text).where(as_text.not_in(["null", "[]"]))
    if lot_ids is not None:
        query = query.where(Space.lot_id.in_(lot_ids))
    parsed: dict[str, list[dict[str, object]]] = {}
    found: dict[uuid.UUID, list[list[dict[str, object]]]] = {}
    for lot_id, text in await session.execute(query):
        if text not in parsed:
            parsed[text] = json.loads(text)
        if parsed[text]:
            found.setdefault(lot_id, []).append(parsed[text])
    return found
