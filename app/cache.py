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
    """One process's cache. Bounded: past `max_entries` the expired entries go, then the
    oldest, so keys an attacker invents cannot grow it without limit."""

    def __init__(self, clock=time.monotonic, max_entries: int = 100_000) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}
        self._clock = clock
        self.max_entries = max_entries

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        self._entries.pop(key, None)  # re-inserted last: the dict's order is the age
        self._entries[key] = (self._clock() + ttl_seconds, value)
        if len(self._entries) > self.max_entries:
            now = self._clock()
            self._entries = {k: entry for k, entry in self._entries.items() if entry[0] >= now}
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._entries.clear()


class RedisCache:
    """JSON values under a prefix, so the cache shares a Redis with the rate limiter.

    A cache is an optimisation: when Redis fails (counted; the breaker logs the outage
    once), reads and writes go to a small cache of this process instead, so an outage
    of Redis does not turn every key check into a database query.
    """

    def __init__(self, redis: GuardedRedis, prefix: str = "cache:", fallback_max_entries: int = 10_000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.fallback = MemoryCache(max_entries=fallback_max_entries)

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self.redis.run(lambda redis: redis.get(self.prefix + key))
        except RedisUnavailable:
            CACHE_ERRORS.labels("get").inc()
            return await self.fallback.get(key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        try:
            await self.redis.run(lambda redis: redis.set(self.prefix + key, json.dumps(value), ex=ttl_seconds))
        except RedisUnavailable:
            CACHE_ERRORS.labels("set").inc()
            await self.fallback.set(key, value, ttl_seconds)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.run(lambda redis: redis.ping()))
        except RedisUnavailable:
            return False

    async def close(self) -> None:
        await self.redis.close()
