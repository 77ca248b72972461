"""Every query of the identity room."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
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


async def device_by_token(session: AsyncSession, digest: str) -> Device | None:
    return await session.scalar(select(Device).where(Device.token_hash == digest))


async def receiver_by_token(session: AsyncSession, digest: str) -> VehicleReceiver | None:
    return await session.scalar(select(VehicleReceiver).where(VehicleReceiver.token_hash == digest))


async def operators(session: AsyncSession) -> Sequence[Operator]:
    return (await session.scalars(select(Operator).order_by(Operator.created_at))).all()


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


async def get_device(session: AsyncSession, device_id: uuid.UUID) -> Device | None:
    return await session.get(Device, device_id)


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
