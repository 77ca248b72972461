"""The caster's ``Accounts``: mountpoints and rover accounts read from the platform database.

The caster asks on every connection, so an account added with the CLI or the operator API works at
once, without a restart. Verifying a scrypt hash costs ~50 ms of CPU, so a verified (account,
password) pair is remembered for a minute - by a digest of the password, never the password
itself - and the mount list for a second. Rovers arriving together (thousands at once when a
caster restarts) share work already under way instead of each doing it again: one lookup of an
account for all the requests naming it while that lookup runs (one of the mount list for all
the requests that find it stale), and one scrypt for all the
requests with the same password while it runs. A shared answer is never older than the oldest
of those requests, so a changed account still counts from the next connection.

The virtual ``NEAREST`` mount also takes a driver's app token (``dr_...``) as the password, with
any user name: the driver app's RTK module connects without an NTRIP account of its own. The
token is looked up on every connection (a SHA-256 digest and one indexed query), so a revoked
token stops working at once. Ordinary mounts never accept a driver token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from core.security import hash_token, verify_password
from gnss.ntrip.sourcetable import MountInfo
from parking.identity.access import driver_token_valid
from parking.ntrip import repository as repo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

VERIFIED_TTL_S = 60.0
MOUNTS_TTL_S = 1.0
DRIVER_TOKEN_MOUNTS = ("NEAREST",)  # mounts a driver's app token opens
T = TypeVar("T")


class DatabaseAccounts:
    """The caster's ``Accounts``, read from the database with short-lived memos."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._verified: dict[tuple[str, str, str], float] = {}
        self._mounts: tuple[float, list[MountInfo]] | None = None
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def _shared(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        """``work()``'s answer; callers asking with the same key while it runs share it."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(work())
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shielded: a caller that goes away does not cancel the others' answer
        return cast(T, await asyncio.shield(future))

    async def _user(self, user: str) -> tuple[str, list[str] | None] | None:
        """(password hash, allowed mounts or None for all) of a rover account, or None."""

        async def lookup() -> tuple[str, list[str] | None] | None:
            async with self.sessionmaker() as db:
                row = await repo.user_named(db, user)
            return None if row is None else (row.password_hash, row.mounts)

        return await self._shared(("user", user), lookup)

    async def mounts(self) -> list[MountInfo]:
        now = time.monotonic()
        if self._mounts is None or now - self._mounts[0] > MOUNTS_TTL_S:

            async def lookup() -> list[MountInfo]:
                async with self.sessionmaker() as db:
                    rows = await repo.mounts(db)
                return [MountInfo(r.name, r.identifier or r.name) for r in rows]

            self._mounts = (now, await self._shared("mounts", lookup))
        return self._mounts[1]

    async def source_allowed(self, mount: str, user: str | None, password: str | None) -> bool:
        if not password:
            return False
        async with self.sessionmaker() as db:
            row = await repo.mount_named(db, mount)
        return row is not None and await self._verify(
            ("source", mount, password), row.source_password_hash, password
        )

    async def client_allowed(self, mount: str, user: str | None, password: str | None) -> bool:
        if mount in DRIVER_TOKEN_MOUNTS and password:
            async with self.sessionmaker() as db:
                if await driver_token_valid(db, password):
                    return True
        if not user or not password:
            return False
        account = await self._user(user)
        if account is None or (account[1] is not None and mount not in account[1]):
            return False
        return await self._verify(("user", user, password), account[0], password)

    async def _verify(self, key: tuple[str, str, str], stored: str, password: str) -> bool:
        memo = (key[0], key[1], hash_token(password + "\x00" + stored))
        now = time.monotonic()
        if self._verified.get(memo, 0.0) > now:
            return True
        # scrypt off the loop, once for every request with this password while it runs
        ok = await self._shared(
            ("verify", *memo), lambda: asyncio.to_thread(verify_password, password, stored)
        )
        if ok:
            if len(self._verified) > 100_000:
                self._verified.clear()
            self._verified[memo] = now + VERIFIED_TTL_S
        return ok
