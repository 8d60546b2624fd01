"""A small cache for the model list and API-key lookups: Redis when configured, else memory."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from redis.asyncio import Redis


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
    """JSON values under a prefix, so the cache shares a Redis with the rate limiter."""

    def __init__(self, redis: Redis, prefix: str = "cache:") -> None:
        self.redis = redis
        self.prefix = prefix

    async def get(self, key: str) -> Any | None:
        raw = await self.redis.get(self.prefix + key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl_seconds: int) -> None:
        await self.redis.set(self.prefix + key, json.dumps(value), ex=ttl_seconds)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()
