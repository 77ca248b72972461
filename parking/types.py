"""The parking domain's shared vocabulary for what enters and leaves it: a strict base model and
the annotated field types every room's schemas use (aware timestamps, coordinates, names).

Field names in the rooms' schemas are a contract with the driver app, operator consoles and
device vendors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

MIN_YEAR, MAX_YEAR = 1970, 2200


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
PlateText = Annotated[str, Field(min_length=1, max_length=32)]


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
