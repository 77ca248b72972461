"""The parking domain's shared vocabulary for what enters and leaves it: a strict base model and
the annotated field types every room's schemas use (aware timestamps, coordinates, names).

Field names in the rooms' schemas are a contract with the driver app, operator consoles and
device vendors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

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
    return utc  # one form inside: equal instants compare, hash and answer alike


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")


def _rfc3339(value: Any) -> Any:
    """A timestamp is an RFC 3339 string: a number (a Unix time? in seconds, milliseconds?) is
    refused rather than guessed."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.match(value.strip()):
        return value
    raise ValueError("a timestamp is an RFC 3339 string with its UTC offset, e.g. 2026-11-25T08:00:00+08:00")


AwareDatetime = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_aware)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]
PlateText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        description="a mainland China civil plate: province character, issuing-authority letter and "
        "5 characters (6 for new-energy vehicles), e.g. 沪A12345 or 沪AD12345; full-width forms, "
        "lower case, spaces and the middle dot are normalized; anything else is refused "
        "(422 invalid_plate)",
        examples=["沪A12345", "沪AD12345"],
    ),
]


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
