"""What enters and leaves the lots room."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parking.types import Lat, Lon, Name, Strict

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class LotKind(StrEnum):
    GARAGE = "garage"  # gate-counted: capacity minus open sessions and bookings
    SURFACE = "surface"
    ON_STREET = "on_street"
    RESIDENTIAL_SHARED = "residential_shared"  # private spaces shared in windows


class SpaceKind(StrEnum):
    STANDARD = "standard"
    EV = "ev"
    ACCESSIBLE = "accessible"


class SpaceState(StrEnum):
    FREE = "free"
    OCCUPIED = "occupied"
    RESERVED = "reserved"
    OUT_OF_SERVICE = "out_of_service"


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


HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", examples=["08:00"])]


class TariffBand(Strict):
    start: HHMM = Field(description="Asia/Shanghai wall-clock time the band starts (00:00-23:59)")
    end: HHMM = Field(description="when it ends; not after start: the band crosses midnight")
    unit_fen: Annotated[int, Field(ge=0, description="price of a unit starting in this band, fen")]


class Cancellation(Strict):
    free_until_min: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = Field(
        default=0, description="cancelling is free until this many minutes before the start"
    )
    fee_pct: Annotated[int, Field(ge=0, le=100)] = Field(
        default=100, description="after that, this % of the booking's price (rounded down to the fen)"
    )


class EnergyBandIn(Strict):
    start: HHMM = Field(description="Asia/Shanghai wall-clock time the band starts")
    end: HHMM = Field(description="when it ends; not after start: the band crosses midnight")
    fen_per_kwh: Annotated[int, Field(ge=0, le=100_000, description="price of a kWh delivered in this band")]


class EnergyTariffIn(Strict):
    """Charging at the lot's chargers: energy by band (spread evenly between meter readings),
    then an idle fee per started minute once charging ended and the grace has passed."""

    bands: Annotated[list[EnergyBandIn], Field(min_length=1)]
    idle_fen_per_min: Annotated[int, Field(ge=0, le=100_000)] = 0
    idle_grace_min: Annotated[int, Field(ge=0, le=1440)] = 0


class TariffIn(Strict):
    """A lot's tariff: free minutes, fixed-length units priced by the band holding each unit's
    start (Asia/Shanghai), a cap per 24 h from entry. The bands must cover the whole day."""

    free_minutes: Annotated[int, Field(ge=0)] = 0
    unit_minutes: Annotated[int, Field(ge=1, le=1440)]
    bands: Annotated[list[TariffBand], Field(min_length=1)]
    daily_cap_fen: Annotated[int, Field(ge=0)] | None = None
    cancellation: Cancellation | None = None
    energy: EnergyTariffIn | None = Field(default=None, description="charging prices (null: no chargers)")


class LotIn(Strict):
    name: Name
    lat: Lat
    lon: Lon
    kind: LotKind
    capacity: Annotated[int, Field(ge=0, le=100_000)]
    tariff: TariffIn
    polygon: GeoJSONPolygon | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    entrances: Annotated[int, Field(ge=1, le=100)] = 1
    entrance_service_rate_per_min: Annotated[float, Field(gt=0, le=600)] = 6.0


class LotPatch(Strict):
    name: Name | None = None
    capacity: Annotated[int, Field(ge=0, le=100_000)] | None = None
    tariff: TariffIn | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    entrances: Annotated[int, Field(ge=1, le=100)] | None = None
    entrance_service_rate_per_min: Annotated[float, Field(gt=0, le=600)] | None = None


class LotOut(BaseModel):
    id: uuid.UUID
    operator_id: uuid.UUID
    name: str
    kind: str
    lat: float
    lon: float
    capacity: int
    tariff: TariffIn
    polygon: dict[str, Any] | None
    address: str | None
    entrances: int
    entrance_service_rate_per_min: float


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
    kind: SpaceKind = SpaceKind.STANDARD
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


class SpaceStateIn(Strict):
    occupied: bool
