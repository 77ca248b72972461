"""Every query of the charging room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import try_insert
from parking.charging.models import ChargePoint, ChargingSession, Connector, MeterReading


async def insert_point(session: AsyncSession, point: ChargePoint, connectors: Sequence[Connector]) -> bool:
    """False when the charge point id is taken (a concurrent registration won)."""
    if not await try_insert(session, point):
        return False
    session.add_all(connectors)
    await session.flush()
    return True


async def point_by_ocpp_id(session: AsyncSession, charge_point_id: str) -> ChargePoint | None:
    return await session.scalar(select(ChargePoint).where(ChargePoint.charge_point_id == charge_point_id))


async def get_point(session: AsyncSession, point_id: uuid.UUID) -> ChargePoint | None:
    return await session.get(ChargePoint, point_id)


async def point_on_space(session: AsyncSession, space_id: uuid.UUID) -> ChargePoint | None:
    return await session.scalar(select(ChargePoint).where(ChargePoint.space_id == space_id).limit(1))


async def points_of_lots(session: AsyncSession, lot_ids: Sequence[uuid.UUID]) -> Sequence[ChargePoint]:
    result = await session.scalars(
        select(ChargePoint).where(ChargePoint.lot_id.in_(lot_ids)).order_by(ChargePoint.charge_point_id)
    )
    return result.all()


async def connectors_of(session: AsyncSession, point_ids: Sequence[uuid.UUID]) -> Sequence[Connector]:
    result = await session.scalars(
        select(Connector).where(Connector.point_id.in_(point_ids)).order_by(Connector.connector_id)
    )
    return result.all()


async def connector(session: AsyncSession, point_id: uuid.UUID, connector_id: int) -> Connector | None:
    return await session.scalar(
        select(Connector).where(Connector.point_id == point_id, Connector.connector_id == connector_id)
    )


async def set_online(
    session: AsyncSession, point_id: uuid.UUID, online: bool, now: datetime, *, booted: bool = False
) -> None:
    values: dict[str, object] = {"online": online, "last_seen_at": now}
    if booted:
        values["booted_at"] = now
    await session.execute(
        update(ChargePoint)
        .where(ChargePoint.id == point_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def set_identity(session: AsyncSession, point_id: uuid.UUID, vendor: str, model: str) -> None:
    await session.execute(
        update(ChargePoint)
        .where(ChargePoint.id == point_id)
        .values(vendor=vendor, model=model)
        .execution_options(synchronize_session=False)
    )


async def apply_status(
    session: AsyncSession,
    point_id: uuid.UUID,
    connector_id: int,
    status: str,
    error_code: str | None,
    ts: datetime,
) -> bool:
    """Set the connector's status unless a newer one is stored: one statement, no lost update."""
    result = await session.execute(
        update(Connector)
        .where(
            Connector.point_id == point_id,
            Connector.connector_id == connector_id,
            or_(Connector.status_ts.is_(None), Connector.status_ts <= ts),
        )
        .values(status=status, error_code=error_code, status_ts=ts)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def free_connectors_by_lot(session: AsyncSession, lot_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Available connectors of online charge points, per lot (lots without any are absent)."""
    rows = await session.execute(
        select(Connector.lot_id, func.count().label("n"))
        .join(ChargePoint, ChargePoint.id == Connector.point_id)
        .where(Connector.lot_id.in_(lot_ids), Connector.status == "Available", ChargePoint.online.is_(True))
        .group_by(Connector.lot_id)
    )
    return {row.lot_id: row.n for row in rows}


async def insert_session(session: AsyncSession, row: ChargingSession) -> bool:
    """False when a constraint refused it: the transaction id is taken, or this start was
    recorded already (a replayed StartTransaction)."""
    return await try_insert(session, row)


async def session_by_start(
    session: AsyncSession, point_id: uuid.UUID, connector_id: int, start_ts: datetime
) -> ChargingSession | None:
    return await session.scalar(
        select(ChargingSession).where(
            ChargingSession.point_id == point_id,
            ChargingSession.connector_id == connector_id,
            ChargingSession.start_ts == start_ts,
        )
    )


async def session_by_transaction(
    session: AsyncSession, transaction_id: int, *, lock: bool = False
) -> ChargingSession | None:
    query = select(ChargingSession).where(ChargingSession.transaction_id == transaction_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def sessions_by_transactions(
    session: AsyncSession, transaction_ids: Sequence[int]
) -> dict[int, ChargingSession]:
    """Running and stopped sessions of these transactions, locked (``FOR UPDATE`` on PostgreSQL)."""
    result = await session.scalars(
        select(ChargingSession)
        .where(ChargingSession.transaction_id.in_(transaction_ids))
        .order_by(ChargingSession.transaction_id)  # one lock order for every batch: no deadlock
        .with_for_update()
    )
    return {row.transaction_id: row for row in result.all()}


async def get_session(session: AsyncSession, session_id: uuid.UUID) -> ChargingSession | None:
    return await session.get(ChargingSession, session_id)


async def add_readings(
    session: AsyncSession, session_id: uuid.UUID, readings: Sequence[tuple[datetime, int]]
) -> None:
    """Store readings; an instant already stored keeps its first value (a resend is no change)."""
    await add_readings_many(session, [(session_id, ts, wh) for ts, wh in readings])


async def add_readings_many(session: AsyncSession, rows: Sequence[tuple[uuid.UUID, datetime, int]]) -> None:
    """Readings of several sessions in few statements (the first value of an instant wins)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    unique = {(sid, ts): wh for sid, ts, wh in reversed(rows)}  # the first of repeats in the batch
    values = [{"session_id": sid, "ts": ts, "wh": wh} for (sid, ts), wh in unique.items()]
    for first in range(0, len(values), 300):  # well under SQLite's bound-parameter limit
        chunk = values[first : first + 300]
        await session.execute(insert_(MeterReading).values(chunk).on_conflict_do_nothing())


async def readings_of(session: AsyncSession, session_id: uuid.UUID) -> list[tuple[datetime, int]]:
    rows = await session.execute(
        select(MeterReading.ts, MeterReading.wh).where(MeterReading.session_id == session_id)
    )
    return [(row.ts, row.wh) for row in rows]


async def sessions_of_lots(
    session: AsyncSession, lot_ids: Sequence[uuid.UUID], *, status: str | None, limit: int
) -> Sequence[ChargingSession]:
    query = select(ChargingSession).where(ChargingSession.lot_id.in_(lot_ids))
    if status is not None:
        query = query.where(ChargingSession.status == status)
    result = await session.scalars(query.order_by(ChargingSession.start_ts.desc()).limit(limit))
    return result.all()


async def sessions_of_plates(
    session: AsyncSession, plates: Sequence[str], limit: int
) -> Sequence[ChargingSession]:
    result = await session.scalars(
        select(ChargingSession)
        .where(ChargingSession.plate.in_(plates))
        .order_by(ChargingSession.start_ts.desc())
        .limit(limit)
    )
    return result.all()


async def finished_between(
    session: AsyncSession, point_ids: Sequence[uuid.UUID], since: datetime, until: datetime
) -> Sequence[ChargingSession]:
    result = await session.scalars(
        select(ChargingSession).where(
            ChargingSession.point_id.in_(point_ids),
            ChargingSession.status == "finished",
            ChargingSession.stop_ts >= since,
            ChargingSession.stop_ts < until,
        )
    )
    return result.all()
