"""The token cache and revocations, without a database: what a suspension drops, the lookup that
raced it, and the revocations other processes publish through the live store."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from core.live import InProcessLiveStore
from parking.identity.access import (
    REVOCATIONS,
    Principal,
    TokenCache,
    follow_revocations,
    revoke_operator,
)
from parking.identity.schemas import DeviceKind, Role

OP, OTHER = uuid.uuid4(), uuid.uuid4()


def _fill(cache: TokenCache) -> TokenCache:
    cache.put("op", Principal(Role.OPERATOR, OP))
    cache.put("cam", Principal(Role.DEVICE, uuid.uuid4(), lot_id=uuid.uuid4(), operator_id=OP))
    cache.put("other-op", Principal(Role.OPERATOR, OTHER))
    cache.put("other-cam", Principal(Role.DEVICE, uuid.uuid4(), lot_id=uuid.uuid4(), operator_id=OTHER))
    cache.put("driver", Principal(Role.DRIVER, OP))  # a driver whose id happens to equal OP
    cache.put(
        "car",
        Principal(Role.DEVICE, uuid.uuid4(), device_kind=DeviceKind.GNSS_RECEIVER, driver_id=uuid.uuid4()),
    )
    return cache


def _kept(cache: TokenCache) -> set[str]:
    return {k for k in ("op", "cam", "other-op", "other-cam", "driver", "car") if cache.get(k) is not None}


def test_forgetting_an_operator_drops_its_token_and_its_devices_only() -> None:
    cache = _fill(TokenCache())
    cache.forget_operator(OP)
    assert _kept(cache) == {"other-op", "other-cam", "driver", "car"}


def test_a_lookup_that_raced_a_revocation_is_not_cached() -> None:
    cache = TokenCache()
    generation = cache.generation  # a lookup starts, reads the database...
    cache.forget_operator(OP)  # ...a suspension commits and is announced meanwhile
    cache.put("op", Principal(Role.OPERATOR, OP), generation=generation)
    assert cache.get("op") is None
    cache.put("op", Principal(Role.OPERATOR, OP), generation=cache.generation)  # a fresh lookup is
    assert cache.get("op") is not None


async def test_revocations_reach_every_process_following_the_store() -> None:
    store = InProcessLiveStore()  # one store shared, as Redis is by the workers
    here, there = _fill(TokenCache()), _fill(TokenCache())
    follower = asyncio.create_task(follow_revocations(store, there))
    await asyncio.sleep(0.01)
    assert _kept(there) == set()  # a (re)subscription starts from an empty cache: it may have missed some
    _fill(there)
    try:
        await revoke_operator(here, store, OP)
        assert _kept(here) == {"other-op", "other-cam", "driver", "car"}  # at once, here
        await asyncio.sleep(0.01)
        assert _kept(there) == {"other-op", "other-cam", "driver", "car"}  # through the store, there
        await store.publish(REVOCATIONS, {"operator_id": "not-a-uuid"})  # ignored; still following
        await revoke_operator(here, store, OTHER)
        await asyncio.sleep(0.01)
        assert _kept(there) == {"driver", "car"}
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
