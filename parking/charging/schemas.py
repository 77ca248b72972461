"""What enters and leaves the charging room."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from parking.types import Strict

# the last segment of the charger's URL: printable, no separators (OCPP 1.6 CiString, 48 at most)
CHARGE_POINT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,48}$")


class ConnectorStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ConnectorType(StrEnum):
    GBT_AC = "GB/T AC"  # GB/T 20234.2, China's AC connector
    GBT_DC = "GB/T DC"  # GB/T 20234.3
    TYPE2 = "Type2"
    CCS2 = "CCS2"
    CHADEMO = "CHAdeMO"


class ChargingStatus(StrEnum):
    CHARGING = "charging"  # the transaction runs (energy may have stopped flowing: idle)
    FINISHED = "finished"  # stopped and billed


class ConnectorIn(Strict):
    connector_id: Annotated[int, Field(ge=1, le=32)]
    type: ConnectorType
    max_kw: Annotated[float, Field(gt=0, le=1000)]


class ChargePointIn(Strict):
    lot_id: uuid.UUID
    space_code: Annotated[str, Field(min_length=1, max_length=64)]
    charge_point_id: Annotated[str, Field(min_length=1, max_length=48, examples=["CP-YANGPU-001"])]
    connectors: Annotated[list[ConnectorIn], Field(min_length=1, max_length=32)]
    owner_name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="a resident sharing a private charger"
    )
    owner_share_pct: Annotated[int, Field(ge=0, le=100)] = Field(
        default=0, description="the owner's share of the charging revenue, %"
    )

    @field_validator("charge_point_id")
    @classmethod
    def _url_segment(cls, value: str) -> str:
        if not CHARGE_POINT_ID.match(value):
            raise ValueError("charge_point_id is 1-48 of A-Z a-z 0-9 . _ ~ - (it is a URL segment)")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> ChargePointIn:
        ids = [c.connector_id for c in self.connectors]
        if len(set(ids)) != len(ids):
            raise ValueError("connector ids repeat")
        return self


class ConnectorOut(BaseModel):
    connector_id: int
    type: str
    max_kw: float
    status: str
    error_code: str | None
    status_ts: datetime | None


class ChargePointOut(BaseModel):
    id: uuid.UUID
    charge_point_id: str
    lot_id: uuid.UUID
    space_id: uuid.UUID
    owner_name: str | None
    owner_share_pct: int
    vendor: str | None
    model: str | None
    online: bool
    last_seen_at: datetime | None
    connectors: list[ConnectorOut]
    ocpp_path: str = Field(description="where the charger connects: /ocpp/{charge_point_id}, ocpp1.6")


class ChargePointCreated(ChargePointOut):
    password: str = Field(description="HTTP Basic password of the charger; shown once, stored hashed")


class ChargingSessionOut(BaseModel):
    id: uuid.UUID
    transaction_id: int
    charge_point_id: str
    connector_id: int
    lot_id: uuid.UUID
    plate: str | None
    parking_session_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    status: str
    start_ts: datetime
    stop_ts: datetime | None
    charge_end_ts: datetime | None
    meter_start_wh: int
    energy_wh: int
    energy_fee_fen: int
    idle_fee_fen: int
    fee_fen: int
    billed_with_parking: bool = Field(
        description="the fee was added to the parking session (paid with the stay in one payment)"
    )
    stop_reason: str | None


class RemoteStartIn(Strict):
    connector_id: Annotated[int, Field(ge=1, le=32)]
    id_tag: Annotated[str, Field(min_length=1, max_length=20, description="the plate to charge for")]


class RemoteCommandOut(BaseModel):
    status: str = Field(description="the charger's answer: Accepted or Rejected")


class OwnerRevenueOut(BaseModel):
    charge_point_id: str
    owner_name: str | None
    owner_share_pct: int
    sessions: int
    energy_wh: int
    fee_fen: int
    owner_share_fen: int = Field(description="fee_fen x owner_share_pct / 100, rounded down to the fen")
