"""A small cache for the model list and API-key lookups: Redis when configured, else memory."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from app.guarded_redis import GuardedRedis, RedisUnavailable
from app.metrics import CACHE_ERRORS


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, ttl_seconds: int) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryCache:
    def __init__(self, clock=time.monotonic) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}
        self._clock = clock

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        self._entries[key] = (self._clock() + ttl_seconds, value)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """JSON values under a prefix, so the cache shares a Redis with the rate limiter.

    A cache is an optimisation: when Redis fails, a read is a miss and a write is
    skipped (counted; the breaker logs the outage once), and the request goes on to the
    database.
    """

    def __init__(self, redis: GuardedRedis, prefix: str = "cache:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self.redis.run(lambda redis: redis.get(self.prefix + key))
        except RedisUnavailable:
            CACHE_ERRORS.labels("get").inc()
            return None
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        try:
            await self.redis.run(lambda redis: redis.set(self.prefix + key, json.dumps(value), ex=ttl_seconds))
        except RedisUnavailable:
            CACHE_ERRORS.labels("set").inc()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.run(lambda redis: redis.ping()))
        except RedisUnavailable:
            return False

    async def close(self) -> None:
        await self.redis.close()
