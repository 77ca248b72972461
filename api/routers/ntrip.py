"""NTRIP accounts of operators, and the caster's live mount state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import Caller, CtxDep, StateDep
from parking.ntrip import live as ntrip_live
from parking.ntrip import service as ntrip
from parking.ntrip.schemas import AccountKind, MountIn, MountOut, NtripUserIn, NtripUserOut

router = APIRouter(tags=["ntrip"])


@router.post("/v1/operator/ntrip/mounts", status_code=status.HTTP_201_CREATED, response_model=MountOut)
async def add_mount(body: MountIn, ctx: CtxDep, caller: Caller) -> Any:
    """A mountpoint for one of your base stations; the caster accepts it at once."""
    return await ntrip.create_mount(ctx, caller, body.name, body.source_password, body.identifier)


@router.get("/v1/operator/ntrip/mounts", response_model=list[MountOut])
async def list_mounts(ctx: CtxDep, caller: Caller) -> Any:
    return await ntrip.mounts_of(ctx, caller)


@router.delete("/v1/operator/ntrip/mounts/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_mount(name: str, ctx: CtxDep, caller: Caller) -> Response:
    await ntrip.delete(ctx, caller, AccountKind.MOUNT, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/operator/ntrip/users", status_code=status.HTTP_201_CREATED, response_model=NtripUserOut)
async def add_user(body: NtripUserIn, ctx: CtxDep, caller: Caller) -> Any:
    """A rover account limited to some of your mountpoints."""
    return await ntrip.create_user(ctx, caller, body.name, body.password, body.mounts)


@router.get("/v1/operator/ntrip/users", response_model=list[NtripUserOut])
async def list_users(ctx: CtxDep, caller: Caller) -> Any:
    return await ntrip.users_of(ctx, caller)


@router.delete("/v1/operator/ntrip/users/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(name: str, ctx: CtxDep, caller: Caller) -> Response:
    await ntrip.delete(ctx, caller, AccountKind.USER, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/ntrip/mounts", summary="Live state of your mountpoints (admin: all)")
async def mount_states(ctx: CtxDep, caller: Caller, state: StateDep) -> Any:
    """Clients, bytes in/out, frames dropped, message rates, age of the last frame, base position."""
    return await ntrip_live.mount_states(ctx, caller, state.live_store)
