"""Every query of the identity room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import try_insert
from parking.identity.models import Device, Driver, Operator, Plate, VehicleReceiver

Account = Operator | Driver | Device | VehicleReceiver


async def add_account(session: AsyncSession, account: Account) -> None:
    session.add(account)
    await session.flush()


async def operator_by_token(session: AsyncSession, digest: str) -> Operator | None:
    return await session.scalar(select(Operator).where(Operator.token_hash == digest))


async def driver_by_token(session: AsyncSession, digest: str) -> Driver | None:
    return await session.scalar(select(Driver).where(Driver.token_hash == digest))


async def device_by_token(session: AsyncSession, digest: str) -> tuple[Device, str] | None:
    """The device and its operator's status, in one round trip."""
    row = (
        await session.execute(
            select(Device, Operator.status)
            .join(Operator, Operator.id == Device.operator_id)
            .where(Device.token_hash == digest)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def receiver_by_token(session: AsyncSession, digest: str) -> VehicleReceiver | None:
    return await session.scalar(select(VehicleReceiver).where(VehicleReceiver.token_hash == digest))


async def operators(session: AsyncSession, operator_id: uuid.UUID | None = None) -> Sequence[Operator]:
    """Every operator, oldest first (or the one with this id)."""
    query = select(Operator).order_by(Operator.created_at, Operator.id)
    if operator_id is not None:
        query = query.where(Operator.id == operator_id)
    return (await session.scalars(query)).all()


async def get_operator(session: AsyncSession, operator_id: uuid.UUID) -> Operator | None:
    return await session.get(Operator, operator_id)


async def device_counts(session: AsyncSession) -> dict[uuid.UUID, int]:
    """Devices per operator (operators without any are absent)."""
    rows = await session.execute(
        select(Device.operator_id, func.count().label("n")).group_by(Device.operator_id)
    )
    return {row.operator_id: row.n for row in rows}


async def plates_of_driver(session: AsyncSession, driver_id: uuid.UUID) -> Sequence[Plate]:
    result = await session.scalars(
        select(Plate).where(Plate.driver_id == driver_id).order_by(Plate.created_at)
    )
    return result.all()


async def plate_row(session: AsyncSession, plate: str) -> Plate | None:
    return await session.scalar(select(Plate).where(Plate.plate == plate))


async def insert_plate(session: AsyncSession, row: Plate) -> bool:
    """False when the plate is already someone's (a concurrent registration won)."""
    return await try_insert(session, row)


async def delete_plate(session: AsyncSession, row: Plate) -> None:
    await session.delete(row)
    await session.flush()


async def devices_of_operator(session: AsyncSession, operator_id: uuid.UUID) -> Sequence[Device]:
    result = await session.scalars(
        select(Device).where(Device.operator_id == operator_id).order_by(Device.created_at)
    )
    return result.all()


async def devices(session: AsyncSession, operator_id: uuid.UUID | None) -> Sequence[Device]:
    """Every device of the district, or of one operator."""
    query = select(Device).order_by(Device.created_at, Device.id)
    if operator_id is not None:
        query = query.where(Device.operator_id == operator_id)
    return (await session.scalars(query)).all()


async def get_device(session: AsyncSession, device_id: uuid.UUID) -> Device | None:
    return await session.get(Device, device_id)


SEEN_EVERY = timedelta(minutes=1)


async def touch_device(
    session: AsyncSession, device_id: uuid.UUID, at: datetime, every: timedelta = SEEN_EVERY
) -> bool:
    """Record that the device was heard from at ``at``, unless that was already done within
    ``every``: one conditional UPDATE, so a busy device costs no row write between two records.
    False when nothing was written (recent enough, or no such device)."""
    return await _touch(session, Device, device_id, at, every)


async def touch_receiver(
    session: AsyncSession, receiver_id: uuid.UUID, at: datetime, every: timedelta = SEEN_EVERY
) -> bool:
    """The same for a vehicle's receiver."""
    return await _touch(session, VehicleReceiver, receiver_id, at, every)


async def _touch(
    session: AsyncSession,
    model: type[Device] | type[VehicleReceiver],
    row_id: uuid.UUID,
    at: datetime,
    every: timedelta,
) -> bool:
    result = await session.execute(
        update(model)
        .where(model.id == row_id, or_(model.last_seen_at.is_(None), model.last_seen_at <= at - every))
        .values(last_seen_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def receivers_of_driver(session: AsyncSession, driver_id: uuid.UUID) -> Sequence[VehicleReceiver]:
    result = await session.scalars(
        select(VehicleReceiver)
        .where(VehicleReceiver.driver_id == driver_id)
        .order_by(VehicleReceiver.created_at)
    )
    return result.all()


async def get_receiver(session: AsyncSession, receiver_id: uuid.UUID) -> VehicleReceiver | None:
    return await session.get(VehicleReceiver, receiver_id)


async def count_future_event(session: AsyncSession, device_id: uuid.UUID) -> None:
    await session.execute(
        update(Device).where(Device.id == device_id).values(rejected_future=Device.rejected_future + 1)
    )
