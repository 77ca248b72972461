"""Mountpoints and rover accounts: the platform's (CLI, admin) and each operator's own.

An operator sees and changes only its own accounts; its rovers may use only its own mounts (and
the caster's virtual ones). Passwords are scrypt-hashed before they are stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.errors import Conflict, Invalid, NotFound
from core.security import hash_password
from parking.identity.access import Principal, operator_scope, require
from parking.identity.schemas import Role
from parking.ntrip import repository as repo
from parking.ntrip.models import NtripMount, NtripUser
from parking.ntrip.schemas import AccountKind, MountOut, NtripUserOut, valid_name
from parking.unit import Ctx

VIRTUAL_MOUNTS = ("NEAREST",)
MIN_PASSWORD = 8


def _checked(name: str, password: str) -> None:
    if not valid_name(name):
        raise Invalid("a mountpoint or user name is 1-100 ASCII letters, digits, '-', '_' or '.'")
    if not MIN_PASSWORD <= len(password) <= 200:
        raise Invalid(f"a password is {MIN_PASSWORD}-200 characters")


def mount_out(m: NtripMount) -> MountOut:
    return MountOut(name=m.name, identifier=m.identifier, created_at=m.created_at)


def user_out(u: NtripUser) -> NtripUserOut:
    return NtripUserOut(name=u.name, mounts=u.mounts, created_at=u.created_at)


async def create_mount(
    ctx: Ctx, principal: Principal, name: str, source_password: str, identifier: str = ""
) -> MountOut:
    """A mountpoint (an operator's own, or the platform's for an admin); the caster sees it at once."""
    require(principal, Role.OPERATOR, Role.ADMIN)
    _checked(name, source_password)
    if name in VIRTUAL_MOUNTS:
        raise Invalid(f"{name} is a virtual mountpoint of the caster")
    if await repo.mount_named(ctx.db, name) is not None:
        raise Conflict(f"mountpoint {name} exists", code="mount_exists")
    password_hash = await asyncio.to_thread(hash_password, source_password)
    mount = NtripMount(
        name=name,
        identifier=identifier,
        source_password_hash=password_hash,
        operator_id=operator_scope(principal),
    )
    await repo.add(ctx.db, mount)
    return mount_out(mount)


async def create_user(
    ctx: Ctx, principal: Principal, name: str, password: str, mounts: Sequence[str] | None = None
) -> NtripUserOut:
    scope = operator_scope(principal)
    _checked(name, password)
    if scope is not None:  # an operator's rovers reach the operator's own mounts only
        own = {m.name for m in await repo.mounts(ctx.db, scope)}
        if not mounts:
            raise Invalid("list the mountpoints this user may use", code="mounts_required")
        if unknown := sorted(set(mounts) - own - set(VIRTUAL_MOUNTS)):
            raise NotFound(f"no such mountpoint of yours: {', '.join(unknown)}")
    if await repo.user_named(ctx.db, name) is not None:
        raise Conflict(f"user {name} exists", code="user_exists")
    password_hash = await asyncio.to_thread(hash_password, password)
    user = NtripUser(
        name=name, password_hash=password_hash, mounts=list(mounts) if mounts else None, operator_id=scope
    )
    await repo.add(ctx.db, user)
    return user_out(user)


async def mounts_of(ctx: Ctx, principal: Principal) -> list[MountOut]:
    return [mount_out(m) for m in await repo.mounts(ctx.db, operator_scope(principal))]


async def users_of(ctx: Ctx, principal: Principal) -> list[NtripUserOut]:
    return [user_out(u) for u in await repo.users(ctx.db, operator_scope(principal))]


async def delete(ctx: Ctx, principal: Principal, kind: AccountKind, name: str) -> None:
    """Remove one of the caller's mounts or users (an admin: any); others are not found."""
    scope = operator_scope(principal)
    row = await (repo.mount_named if kind == AccountKind.MOUNT else repo.user_named)(ctx.db, name)
    if row is None or (scope is not None and row.operator_id != scope):
        raise NotFound(f"{name} not found")
    await repo.delete(ctx.db, row)
