"""Who is calling, and what they may touch.

Tenancy rules live here rather than in routers so every entry point (HTTP, MQTT, TCP, CLI) applies
the same ones. Resources of another tenant answer ``NotFound`` (not ``Forbidden``) so their
existence does not leak.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from core.errors import Forbidden, Unauthenticated
from core.live import LiveStore, LiveStoreUnavailable
from core.security import hash_token, role_of, same_secret
from parking.identity import repository as repo
from parking.identity.schemas import DeviceKind, OperatorStatus, Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    id: uuid.UUID | None = None
    lot_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    device_kind: str | None = None
    driver_id: uuid.UUID | None = None  # a vehicle receiver's owner
    plate: str | None = None  # the plate a vehicle receiver is bound to

    @property
    def key(self) -> str:
        return f"{self.role}:{self.id}"


ADMIN = Principal(role=Role.ADMIN)
REVOCATIONS = "identity:revocations"  # live-store channel: operators whose credentials were revoked
log = structlog.get_logger(__name__)


class TokenCache:
    """Short-lived memo of token digest -> principal, so hot read paths skip one query.

    Entries live a few seconds: long enough to matter under load, short enough that a revoked
    credential stops working quickly. A suspension must not wait for that: ``forget_operator``
    drops the operator's entries and its devices' at once (in every process: see
    ``follow_revocations``), and a lookup that was already under way when it happened is not
    cached (``generation``), so it cannot put back what the database said before the change.
    """

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        self.generation = 0  # bumped by every revocation

    def get(self, digest: str) -> Principal | None:
        hit = self._entries.get(digest)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, digest: str, principal: Principal, *, generation: int | None = None) -> None:
        """Remember a principal; not if a revocation happened since ``generation`` was read."""
        if generation is not None and generation != self.generation:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self._ttl, principal)

    def forget_operator(self, operator_id: uuid.UUID) -> None:
        """Drop the operator's own token and its devices' tokens."""
        self.generation += 1
        stale = [
            digest
            for digest, (_, p) in self._entries.items()
            if p.operator_id == operator_id or (p.role == Role.OPERATOR and p.id == operator_id)
        ]
        for digest in stale:
            del self._entries[digest]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()


async def revoke_operator(tokens: TokenCache, store: LiveStore, operator_id: uuid.UUID) -> None:
    """Once a suspension is committed: forget the operator's credentials here at once, and tell
    every other process (API workers, the receiver listener) through the live store."""
    tokens.forget_operator(operator_id)
    try:
        await store.publish(REVOCATIONS, {"operator_id": str(operator_id)})
    except LiveStoreUnavailable:  # the other processes' entries expire within their TTL
        log.warning("revocation_not_published", operator=str(operator_id))


async def follow_revocations(store: LiveStore, tokens: TokenCache, retry_s: float = 1.0) -> None:
    """Apply the revocations any process publishes to this process's cache, for ever. A message
    sent while unsubscribed (the live store away) is lost, so every (re)subscription starts
    from an empty cache."""
    while True:
        tokens.clear()
        try:
            async for message in store.subscribe(REVOCATIONS):
                try:
                    tokens.forget_operator(uuid.UUID(str(message["operator_id"])))
                except (KeyError, TypeError, ValueError):
                    log.warning("revocation_malformed", message=str(message)[:200])
        except LiveStoreUnavailable:
            pass
        await asyncio.sleep(retry_s)


def known_principal(token: str | None, *, admin_token: str | None, cache: TokenCache) -> Principal | None:
    """The caller if it can be told without the database (the admin, or a recently seen token)."""
    if not token:
        raise Unauthenticated("missing bearer token")
    if admin_token and same_secret(token, admin_token):
        return ADMIN
    return cache.get(hash_token(token))


async def authenticate(
    session: AsyncSession, token: str | None, *, admin_token: str | None, cache: TokenCache
) -> Principal:
    if (known := known_principal(token, admin_token=admin_token, cache=cache)) is not None:
        return known
    assert token is not None
    digest = hash_token(token)
    generation = cache.generation
    principal = await _lookup(session, role_of(token), digest)
    if principal is None:
        raise Unauthenticated("invalid bearer token")
    cache.put(digest, principal, generation=generation)
    return principal


async def principal_by_digest(
    session: AsyncSession, role: str, digest: str, *, admin_token: str | None, cache: TokenCache
) -> Principal:
    """The caller behind a token's digest (a page session keeps the digest, never the token):
    the same checks as ``authenticate``, so a suspension or a rotated admin token ends it."""
    if role == Role.ADMIN:
        if admin_token and hmac.compare_digest(digest, hash_token(admin_token)):
            return ADMIN
        raise Unauthenticated("this session has ended; sign in again", code="session_ended")
    if (cached := cache.get(digest)) is not None and cached.role == role:
        return cached
    generation = cache.generation
    principal = await _lookup(session, role, digest)
    if principal is None:
        raise Unauthenticated("this session has ended; sign in again", code="session_ended")
    cache.put(digest, principal, generation=generation)
    return principal


async def _lookup(session: AsyncSession, role: str | None, digest: str) -> Principal | None:
    if role == Role.OPERATOR:
        operator = await repo.operator_by_token(session, digest)
        if operator is None:
            return None
        _refuse_suspended(operator.status)
        return Principal(Role.OPERATOR, operator.id)
    if role == Role.DRIVER:
        driver = await repo.driver_by_token(session, digest)
        return Principal(Role.DRIVER, driver.id) if driver else None
    if role == Role.DEVICE:
        found = await repo.device_by_token(session, digest)
        if found is None:
            receiver = await repo.receiver_by_token(session, digest)
            if receiver is None:
                return None
            return Principal(
                Role.DEVICE,
                receiver.id,
                device_kind=DeviceKind.GNSS_RECEIVER,
                driver_id=receiver.driver_id,
                plate=receiver.plate,
            )
        device, operator_status = found
        _refuse_suspended(operator_status)
        return Principal(
            Role.DEVICE,
            device.id,
            lot_id=device.lot_id,
            operator_id=device.operator_id,
            device_kind=device.kind,
        )
    return None


def _refuse_suspended(operator_status: str) -> None:
    if operator_status == OperatorStatus.SUSPENDED:
        raise Unauthenticated(
            "this operator is suspended by the district; its credentials are refused until resumed",
            code="operator_suspended",
        )


async def driver_token_valid(session: AsyncSession, token: str) -> bool:
    """True for a live driver's app token (the caster's NEAREST mount takes it as a password)."""
    return (
        role_of(token) == Role.DRIVER and await repo.driver_by_token(session, hash_token(token)) is not None
    )


def require(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden(f"this action is for {' or '.join(roles)} credentials")


def operator_scope(principal: Principal) -> uuid.UUID | None:
    """Whose lots a listing covers: the operator's own, or every lot for an admin."""
    require(principal, Role.OPERATOR, Role.ADMIN)
    return principal.id if principal.role == Role.OPERATOR else None


def require_device(principal: Principal, *kinds: DeviceKind) -> uuid.UUID:
    """The lot a device is bound to; devices of another kind are refused."""
    require(principal, Role.DEVICE)
    if kinds and principal.device_kind not in kinds:
        raise Forbidden(f"this endpoint is for {' or '.join(kinds)} devices")
    if principal.lot_id is None:  # a vehicle's receiver belongs to a driver, not to a lot
        raise Forbidden("this device is not bound to a lot")
    return principal.lot_id
