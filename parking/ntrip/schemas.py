"""What enters and leaves the NTRIP accounts room; the one naming rule of mounts and users."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from parking.types import Strict

# NTRIP request lines and sourcetables are ASCII: a mountpoint or user name is what a rover's
# firmware can type, and the same rule holds for the API, the CLI and the demo.
NAME_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
_NAME = re.compile(NAME_PATTERN)
AccountName = Annotated[str, Field(min_length=1, max_length=100, pattern=NAME_PATTERN)]
Password = Annotated[str, Field(min_length=8, max_length=200)]


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


class AccountKind(StrEnum):
    MOUNT = "mount"
    USER = "user"


class MountIn(Strict):
    name: AccountName
    source_password: Password
    identifier: Annotated[str, Field(max_length=200)] = ""


class MountOut(BaseModel):
    name: str
    identifier: str
    created_at: datetime


class NtripUserIn(Strict):
    name: AccountName
    password: Password
    mounts: list[AccountName] | None = Field(default=None, description="mountpoints this rover may use")


class NtripUserOut(BaseModel):
    name: str
    mounts: list[str] | None
    created_at: datetime
