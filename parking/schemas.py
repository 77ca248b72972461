"""Pydantic shapes of what enters and leaves the parking domain (separate from the ORM rows).

Field names are a contract with the driver app, operator consoles and device vendors.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

LotKind = Literal["garage", "surface", "on_street", "residential_shared"]
SpaceKind = Literal["standard", "ev", "accessible"]
DeviceKind = Literal["anpr_camera", "occupancy_sensor", "gnss_receiver"]
SpaceState = Literal["free", "occupied", "reserved", "out_of_service"]

MIN_YEAR, MAX_YEAR = 1970, 2200
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset, e.g. 2026-11-25T08:00:00+08:00")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"timestamp must lie between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]


def _no_nul(value: Any) -> Any:
    """NUL cannot be stored in PostgreSQL text; refuse it at the edge instead of failing later."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


# --- principals -------------------------------------------------------------------------------


class OperatorIn(Strict):
    name: Name


class DriverIn(Strict):
    name: Name
    phone: Annotated[str, Field(min_length=5, max_length=32, pattern=r"^\+?[0-9 \-]{5,32}$")]


class Credentials(BaseModel):
    id: uuid.UUID
    token: str


class PlateIn(Strict):
    plate: Annotated[str, Field(min_length=1, max_length=32)]


class PlateOut(BaseModel):
    id: uuid.UUID
    plate: str
    created_at: datetime


class DeviceIn(Strict):
    lot_id: uuid.UUID
    kind: DeviceKind
    name: Name


class ReceiverIn(Strict):
    plate: Annotated[str, Field(min_length=1, max_length=32)]
    name: Name


class ReceiverOut(BaseModel):
    id: uuid.UUID
    plate: str
    name: str
    created_at: datetime


class NmeaIngestResult(BaseModel):
    accepted: int = Field(description="sentences read")
    rejected: int = Field(description="sentences refused: bad checksum or unreadable")
    rtcm_frames: int
    bytes_skipped: int
    fixes: int = Field(description="position fixes assembled from the sentences")
    outliers: int = Field(description="fixes the smoother rejected as outliers")
    stored: int = Field(description="track points stored (at most one per second)")


class DeviceOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    kind: str
    name: str
    created_at: datetime


# --- lots and spaces --------------------------------------------------------------------------


class GeoJSONPolygon(Strict):
    model_config = ConfigDict(extra="allow")
    type: Literal["Polygon"]
    coordinates: list[list[Annotated[list[float], Field(min_length=2, max_length=3)]]]

    @field_validator("coordinates")
    @classmethod
    def _rings_closed(cls, rings: list[list[list[float]]]) -> list[list[list[float]]]:
        if not rings:
            raise ValueError("a polygon needs at least one ring")
        for ring in rings:
            if len(ring) < 4 or ring[0][:2] != ring[-1][:2]:
                raise ValueError("each ring needs >= 4 positions and must be closed")
            for lon, lat, *_ in ring:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError("positions are [lon, lat] in degrees")
        return rings


class LotIn(Strict):
    name: Name
    lat: Lat
    lon: Lon
    kind: LotKind
    capacity: Annotated[int, Field(ge=0, le=100_000)]
    tariff: dict[str, Any]
    polygon: GeoJSONPolygon | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    entrances: Annotated[int, Field(ge=1, le=100)] = 1
    entrance_service_rate_per_min: Annotated[float, Field(gt=0, le=600)] = 6.0


class LotPatch(Strict):
    name: Name | None = None
    capacity: Annotated[int, Field(ge=0, le=100_000)] | None = None
    tariff: dict[str, Any] | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    entrances: Annotated[int, Field(ge=1, le=100)] | None = None
    entrance_service_rate_per_min: Annotated[float, Field(gt=0, le=600)] | None = None


class Availability(BaseModel):
    at: datetime
    free_spaces: int
    by_kind: dict[str, int]
    occupied: int
    reserved: int
    out_of_service: int
    degraded: bool = False


class LotOut(BaseModel):
    id: uuid.UUID
    operator_id: uuid.UUID
    name: str
    kind: str
    lat: float
    lon: float
    capacity: int
    tariff: dict[str, Any]
    polygon: dict[str, Any] | None
    address: str | None
    entrances: int
    entrance_service_rate_per_min: float


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


class LotSearchResult(BaseModel):
    at: datetime
    live_degraded: bool
    lots: list[LotSearchHit]


class SharedWindow(Strict):
    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7)]
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("time must be HH:MM (00:00..23:59, or 24:00 as an end)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> SharedWindow:
        if self.start == self.end:
            raise ValueError("a window must not be empty (start == end)")
        return self


class SpaceIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    lat: Lat
    lon: Lon
    kind: SpaceKind = "standard"
    bookable: bool = True
    polygon: GeoJSONPolygon | None = None


class SpacePatch(Strict):
    out_of_service: bool | None = None
    bookable: bool | None = None
    kind: SpaceKind | None = None


class SpaceOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    code: str
    kind: str
    lat: float
    lon: float
    bookable: bool
    polygon: dict[str, Any] | None
    shared_windows: list[dict[str, Any]]
    state: SpaceState
    state_source: str
    state_ts: datetime | None


class GuidanceHit(BaseModel):
    space_id: uuid.UUID
    code: str
    kind: str
    lat: float
    lon: float
    distance_m: float


# --- device events ----------------------------------------------------------------------------


class AnprEventIn(Strict):
    event_id: EventId
    plate: Annotated[str, Field(min_length=1, max_length=32)]
    direction: Literal["in", "out"]
    ts: AwareDatetime
    confidence: Annotated[float, Field(ge=0, le=1)] = 1.0


class AnprResult(BaseModel):
    session_id: uuid.UUID | None
    flagged: bool


class OccupancyEventIn(Strict):
    event_id: EventId
    space_code: Annotated[str, Field(min_length=1, max_length=64)]
    occupied: bool
    ts: AwareDatetime


class OccupancyResult(BaseModel):
    space_id: uuid.UUID
    applied: bool
    state: SpaceState


# --- bookings, sessions, payments -------------------------------------------------------------


class BookingIn(Strict):
    lot_id: uuid.UUID
    space_id: uuid.UUID | None = None
    space_kind: SpaceKind | None = None
    start: AwareDatetime
    end: AwareDatetime
    plate: Annotated[str, Field(min_length=1, max_length=32)]

    @model_validator(mode="after")
    def _window(self) -> BookingIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).total_seconds() > 7 * 86400:
            raise ValueError("a booking may last at most 7 days")
        return self


class BookingOut(BaseModel):
    id: uuid.UUID
    status: str
    lot_id: uuid.UUID
    space_id: uuid.UUID | None
    plate: str | None
    start: datetime
    end: datetime
    price_fen: int
    cancel_fee_fen: int
    session_id: uuid.UUID | None
    created_at: datetime


class SessionOut(BaseModel):
    id: uuid.UUID
    plate: str | None
    lot_id: uuid.UUID
    entry_ts: datetime | None
    exit_ts: datetime | None
    status: str
    fee_fen: int
    paid_fen: int
    exit_allowed: bool
    booking_id: uuid.UUID | None
    flags: list[str]


class PaymentOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    amount_fen: int
    provider: str
    provider_ref: str
    status: str
    created_at: datetime
    settled_at: datetime | None
    checkout_url: str | None = Field(
        default=None, description="while pending: the provider's checkout page, which the app opens"
    )


class PaymentCallbackIn(Strict):
    model_config = ConfigDict(extra="ignore")
    provider_ref: Annotated[str, Field(min_length=1, max_length=64)]
    status: Literal["succeeded", "failed"]
    amount_fen: Annotated[int, Field(ge=0)]


# --- operator views ---------------------------------------------------------------------------


class FlagOut(BaseModel):
    id: uuid.UUID
    lot_id: uuid.UUID
    kind: str
    session_id: uuid.UUID | None
    anpr_event_id: uuid.UUID | None
    detail: str
    created_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class FlagResolveIn(Strict):
    resolution: Annotated[str, Field(min_length=1, max_length=1000)]


class OccupancyBucket(BaseModel):
    start: datetime
    end: datetime
    avg_occupied: float
    max_occupied: int
    occupancy_ratio: float
    entries: int
    exits: int


class RevenueRow(BaseModel):
    lot_id: uuid.UUID
    day: str
    revenue_fen: int
    payments: int
