"""What enters and leaves the identity room."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from parking.types import Name, PlateText, Strict


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    DRIVER = "driver"
    DEVICE = "device"


class DeviceKind(StrEnum):
    ANPR_CAMERA = "anpr_camera"
    OCCUPANCY_SENSOR = "occupancy_sensor"
    GNSS_RECEIVER = "gnss_receiver"


class OperatorStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # its token and its devices' tokens are refused until resumed


class OperatorIn(Strict):
    name: Name


class OperatorAccount(BaseModel):
    """An operator as the identity room knows it (the admin's listing adds its lots)."""

    id: uuid.UUID
    name: str
    created_at: datetime
    status: OperatorStatus
    suspended_at: datetime | None
    devices: int


class DriverIn(Strict):
    name: Name
    phone: Annotated[str, Field(min_length=5, max_length=32, pattern=r"^\+?[0-9 \-]{5,32}$")]


class Credentials(BaseModel):
    id: uuid.UUID
    token: str


class PlateIn(Strict):
    plate: PlateText


class PlateOut(BaseModel):
    id: uuid.UUID
    plate: str
    created_at: datetime


class DeviceIn(Strict):
    lot_id: uuid.UUID
    kind: DeviceKind
    name: Name


class DeviceOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    kind: str
    name: str
    created_at: datetime
    rejected_future_events: int = Field(
        default=0, description="events refused for a timestamp ahead of the platform's clock"
    )
    last_seen_at: datetime | None  # the platform last accepted something from it (to the minute)


class DeviceAdminOut(DeviceOut):
    operator_id: uuid.UUID


class ReceiverIn(Strict):
    plate: PlateText
    name: Name


class ReceiverOut(BaseModel):
    id: uuid.UUID
    plate: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None
