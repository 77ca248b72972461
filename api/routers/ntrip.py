"""NTRIP accounts of operators, and the caster's live mount state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from api.deps import Caller, CtxDep, StateDep
from parking import ntrip_operator
from parking.models import NtripMount, NtripUser
from parking.schemas import Strict

router = APIRouter(tags=["ntrip"])
AccountName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
Password = Annotated[str, Field(min_length=8, max_length=200)]


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


@router.post("/v1/operator/ntrip/mounts", status_code=status.HTTP_201_CREATED, response_model=MountOut)
async def add_mount(body: MountIn, ctx: CtxDep, caller: Caller) -> Any:
    """A mountpoint for one of your base stations; the caster accepts it at once."""
    m = await ntrip_operator.create_mount(ctx, caller, body.name, body.source_password, body.identifier)
    return MountOut(name=m.name, identifier=m.identifier, created_at=m.created_at)


@router.get("/v1/operator/ntrip/mounts", response_model=list[MountOut])
async def list_mounts(ctx: CtxDep, caller: Caller) -> Any:
    return [
        MountOut(name=m.name, identifier=m.identifier, created_at=m.created_at)
        for m in await ntrip_operator.mounts_of(ctx, caller)
    ]


@router.delete("/v1/operator/ntrip/mounts/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_mount(name: str, ctx: CtxDep, caller: Caller) -> Response:
    await ntrip_operator.delete(ctx, caller, NtripMount, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/operator/ntrip/users", status_code=status.HTTP_201_CREATED, response_model=NtripUserOut)
async def add_user(body: NtripUserIn, ctx: CtxDep, caller: Caller) -> Any:
    """A rover account limited to some of your mountpoints."""
    u = await ntrip_operator.create_user(ctx, caller, body.name, body.password, body.mounts)
    return NtripUserOut(name=u.name, mounts=u.mounts, created_at=u.created_at)


@router.get("/v1/operator/ntrip/users", response_model=list[NtripUserOut])
async def list_users(ctx: CtxDep, caller: Caller) -> Any:
    return [
        NtripUserOut(name=u.name, mounts=u.mounts, created_at=u.created_at)
        for u in await ntrip_operator.users_of(ctx, caller)
    ]


@router.delete("/v1/operator/ntrip/users/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(name: str, ctx: CtxDep, caller: Caller) -> Response:
    await ntrip_operator.delete(ctx, caller, NtripUser, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/ntrip/mounts", summary="Live state of your mountpoints (admin: all)")
async def mount_states(ctx: CtxDep, caller: Caller, state: StateDep) -> Any:
    """Clients, bytes in/out, frames dropped, message rates, age of the last frame, base position."""
    return await ntrip_operator.mount_states(ctx, caller, state.live_store)
