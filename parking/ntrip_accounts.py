"""NTRIP mountpoints and rover accounts in the platform database.

The caster asks on every connection (``Accounts`` protocol of ``gnss.ntrip.caster``), so an
account added with the CLI or the operator API works at once, without a restart. Verifying a
scrypt hash costs ~50 ms of CPU, so a verified (account, password) pair is remembered for a
minute - by a digest of the password, never the password itself - and the mount list for a
second.

The virtual ``NEAREST`` mount also takes a driver's app token (``dr_...``) as the password, with
any user name: the driver app's RTK module connects without an NTRIP account of its own. The
token is looked up on every connection (a SHA-256 digest and one indexed query), so a revoked
token stops working at once. Ordinary mounts never accept a driver token.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import Conflict, Invalid, NotFound
from core.security import hash_password, hash_token, role_of, verify_password
from gnss.ntrip.sourcetable import MountInfo
from parking import repository
from parking.models import NtripMount, NtripUser

VERIFIED_TTL_S = 60.0
MOUNTS_TTL_S = 1.0
VIRTUAL_MOUNTS = ("NEAREST",)
DRIVER_TOKEN_MOUNTS = ("NEAREST",)  # mounts a driver's app token opens


def _valid_name(name: str) -> str:
    if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
        raise Invalid("a mountpoint or user name is 1-100 letters, digits, '-', '_' or '.'")
    return name


async def add_mount(
    db: AsyncSession,
    name: str,
    source_password: str,
    *,
    identifier: str = "",
    operator_id: uuid.UUID | None = None,
) -> NtripMount:
    _valid_name(name)
    if name in VIRTUAL_MOUNTS:
        raise Invalid(f"{name} is a virtual mountpoint of the caster")
    if await db.scalar(select(NtripMount).where(NtripMount.name == name)) is not None:
        raise Conflict(f"mountpoint {name} exists", code="mount_exists")
    mount = NtripMount(
        name=name,
        identifier=identifier,
        source_password_hash=hash_password(source_password),
        operator_id=operator_id,
    )
    db.add(mount)
    await db.flush()
    return mount


async def add_user(
    db: AsyncSession,
    name: str,
    password: str,
    *,
    mounts: Sequence[str] | None = None,
    operator_id: uuid.UUID | None = None,
) -> NtripUser:
    _valid_name(name)
    if await db.scalar(select(NtripUser).where(NtripUser.name == name)) is not None:
        raise Conflict(f"user {name} exists", code="user_exists")
    user = NtripUser(
        name=name,
        password_hash=hash_password(password),
        mounts=list(mounts) if mounts else None,
        operator_id=operator_id,
    )
    db.add(user)
    await db.flush()
    return user


async def remove(db: AsyncSession, model: type[NtripMount] | type[NtripUser], name: str) -> None:
    row = await db.scalar(select(model).where(model.name == name))
    if row is None:
        raise NotFound(f"{name} not found")
    await db.delete(row)


async def list_mounts(db: AsyncSession, operator_id: uuid.UUID | None = None) -> Sequence[NtripMount]:
    query = select(NtripMount).order_by(NtripMount.name)
    if operator_id is not None:
        query = query.where(NtripMount.operator_id == operator_id)
    return (await db.scalars(query)).all()


async def list_users(db: AsyncSession, operator_id: uuid.UUID | None = None) -> Sequence[NtripUser]:
    query = select(NtripUser).order_by(NtripUser.name)
    if operator_id is not None:
        query = query.where(NtripUser.operator_id == operator_id)
    return (await db.scalars(query)).all()


class DatabaseAccounts:
    """The caster's ``Accounts``, read from the database with short-lived memos."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._verified: dict[tuple[str, str, str], float] = {}
        self._mounts: tuple[float, list[MountInfo]] | None = None

    async def mounts(self) -> list[MountInfo]:
        now = time.monotonic()
        if self._mounts is None or now - self._mounts[0] > MOUNTS_TTL_S:
            async with self.sessionmaker() as db:
                rows = await list_mounts(db)
            self._mounts = (now, [MountInfo(r.name, r.identifier or r.name) for r in rows])
        return self._mounts[1]

    async def source_allowed(self, mount: str, user: str | None, password: str | None) -> bool:
        if not password:
            return False
        async with self.sessionmaker() as db:
            row = await db.scalar(select(NtripMount).where(NtripMount.name == mount))
        return row is not None and await self._verify(
            ("source", mount, password), row.source_password_hash, password
        )

    async def client_allowed(self, mount: str, user: str | None, password: str | None) -> bool:
        if mount in DRIVER_TOKEN_MOUNTS and password and role_of(password) == "driver":
            async with self.sessionmaker() as db:
                if await repository.driver_by_token(db, hash_token(password)) is not None:
                    return True
        if not user or not password:
            return False
        async with self.sessionmaker() as db:
            row = await db.scalar(select(NtripUser).where(NtripUser.name == user))
        if row is None or (row.mounts is not None and mount not in row.mounts):
            return False
        return await self._verify(("user", user, password), row.password_hash, password)

    async def _verify(self, key: tuple[str, str, str], stored: str, password: str) -> bool:
        memo = (key[0], key[1], hash_token(password + "\x00" + stored))
        now = time.monotonic()
        if self._verified.get(memo, 0.0) > now:
            return True
        ok = await asyncio.to_thread(verify_password, password, stored)  # scrypt off the loop
        if ok:
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[memo] = now + VERIFIED_TTL_S
        return ok
