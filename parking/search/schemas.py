"""What leaves the search room."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from parking.lots.schemas import LotOut


class Availability(BaseModel):
    at: datetime
    free_spaces: int
    by_kind: dict[str, int]
    occupied: int
    reserved: int
    out_of_service: int
    degraded: bool = False


class LotDetail(LotOut):
    free_spaces: int
    availability: Availability
    price_fen_per_hour: int
    arrivals_per_min: float
    entrance_congested: bool
    live_degraded: bool


class LotSearchHit(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    lat: float
    lon: float
    address: str | None
    distance_m: float
    capacity: int
    free_spaces: int
    by_kind: dict[str, int]
    price_fen_per_hour: int
    free_chargers: int | None = Field(
        default=None, description="with charging=true only: Available connectors of connected chargers"
    )


class LotSearchResult(BaseModel):
    at: datetime
    live_degraded: bool
    lots: list[LotSearchHit]


class GuidanceHit(BaseModel):
    space_id: uuid.UUID
    code: str
    kind: str
    lat: float
    lon: float
    distance_m: float


class LotCard(BaseModel):
    """One lot as the district map shows it: live counts, tariff, off-peak sharing."""

    id: uuid.UUID
    operator_id: uuid.UUID
    name: str
    kind: str
    lat: float
    lon: float
    address: str | None
    capacity: int
    free_spaces: int
    occupied: int
    reserved: int
    price_fen_per_hour: int
    tariff: dict[str, object]
    shared_spaces: int
    shared_windows: list[dict[str, object]]
    shared_open_now: bool
    live_degraded: bool


class NearestFree(BaseModel):
    lot: LotCard
    distance_m: float
