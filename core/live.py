"""The live store: small, hot, rebuildable state (availability snapshots) and pub/sub fan-out.

Redis in production so every worker sees the same numbers and SSE listeners on any worker get
every change; an in-process store for the embedded single-process default. The database stays the
source of truth: everything here can be rebuilt from it, which is what makes losing Redis a
degradation rather than an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError


class LiveStoreUnavailable(Exception):
    """The live store cannot be reached; callers fall back to the database."""


class LiveStore(Protocol):
    name: str

    async def set_json(self, key: str, value: Any) -> None: ...
    async def get_json_many(self, keys: Sequence[str]) -> list[Any | None]: ...
    async def incr(self, key: str, amount: int = 1) -> int: ...
    async def publish(self, channel: str, value: Any) -> None: ...
    def subscribe(self, channel: str) -> AsyncIterator[Any]: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class InProcessLiveStore:
    """Dict + asyncio queues: correct for one process, which is what the embedded default runs."""

    name = "in-process"

    def __init__(self) -> None:
        self._data: dict[str, bytes | str] = {}
        self._subscribers: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)

    async def set_json(self, key: str, value: Any) -> None:
        self._data[key] = orjson.dumps(value)

    async def get_json_many(self, keys: Sequence[str]) -> list[Any | None]:
        return [orjson.loads(raw) if (raw := self._data.get(k)) is not None else None for k in keys]

    async def incr(self, key: str, amount: int = 1) -> int:
        value = int(self._data.get(key, "0")) + amount
        self._data[key] = str(value)
        return value

    async def publish(self, channel: str, value: Any) -> None:
        message = orjson.dumps(value)
        for queue in list(self._subscribers.get(channel, ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)

    async def subscribe(self, channel: str) -> AsyncIterator[Any]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)
        self._subscribers[channel].add(queue)
        try:
            while True:
                yield orjson.loads(await queue.get())
        finally:
            self._subscribers[channel].discard(queue)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


class RedisLiveStore:
    """Redis-backed store. Every failure surfaces as ``LiveStoreUnavailable``."""

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "beidou:") -> None:
        # No client-side retries: a failed call should fall back to the database at once rather
        # than hold the request while redis-py backs off.
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 0),
        )
        self._prefix = prefix

    async def set_json(self, key: str, value: Any) -> None:
        try:
            await self._redis.set(self._prefix + key, orjson.dumps(value))
        except (RedisError, OSError) as exc:
            raise LiveStoreUnavailable(str(exc)) from exc

    async def get_json_many(self, keys: Sequence[str]) -> list[Any | None]:
        if not keys:
            return []
        try:
            raw = await self._redis.mget([self._prefix + k for k in keys])
        except (RedisError, OSError) as exc:
            raise LiveStoreUnavailable(str(exc)) from exc
        return [orjson.loads(r) if r is not None else None for r in raw]

    async def incr(self, key: str, amount: int = 1) -> int:
        try:
            return int(await self._redis.incrby(self._prefix + key, amount))
        except (RedisError, OSError) as exc:
            raise LiveStoreUnavailable(str(exc)) from exc

    async def publish(self, channel: str, value: Any) -> None:
        try:
            await self._redis.publish(self._prefix + channel, orjson.dumps(value))
        except (RedisError, OSError) as exc:
            raise LiveStoreUnavailable(str(exc)) from exc

    async def subscribe(self, channel: str) -> AsyncIterator[Any]:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._prefix + channel)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message.get("type") == "message":
                    yield orjson.loads(message["data"])
        except (RedisError, OSError) as exc:
            raise LiveStoreUnavailable(str(exc)) from exc
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def make_live_store(redis_url: str | None) -> LiveStore:
    return RedisLiveStore(redis_url) if redis_url else InProcessLiveStore()
