"""The trip planning API's request and response shapes (pydantic, apart from the domain types)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from parking.types import AwareDatetime


class LatLon(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: Annotated[LatLon, Field(alias="from")]
    to: LatLon
    depart_at: AwareDatetime | None = None
    arrive_by: AwareDatetime | None = None
    modes: Annotated[list[Literal["walk", "transit", "car"]], Field(min_length=1, max_length=3)] = [
        "walk",
        "transit",
        "car",
    ]
    stay_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 120
    charge_kwh: Annotated[float, Field(gt=0, le=200)] | None = Field(
        default=None,
        description="an EV driver who charges this much while parked: drive + park + charge options at "
        "lots with chargers, the energy in cost_fen, and booking the itinerary holds an EV space",
    )
    max_results: Annotated[int, Field(ge=1, le=20)] = 5

    @model_validator(mode="after")
    def _one_time(self) -> PlanIn:
        if self.depart_at is not None and self.arrive_by is not None:
            raise ValueError("give depart_at or arrive_by, not both")
        return self


class BookItineraryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: Annotated[str | None, Field(min_length=1, max_length=32)] = None


class PlanOut(BaseModel):
    itineraries: list[dict[str, Any]]
    reason: str | None = None
