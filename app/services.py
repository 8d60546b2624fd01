"""What the app holds while it runs: engine, cache, limiter, upstream. Owned by the
lifespan: created at start, warmed, closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.breaker import CircuitBreaker
from app.cache import Cache, MemoryCache, RedisCache
from app.db.engine import create_engine, session_factory
from app.db.models import ApiKey
from app.logs import log
from app.metrics import DB_POOL
from app.ratelimit import MemoryBuckets, RateLimiter, RedisBuckets
from app.settings import Settings
from app.upstream import Upstream, UpstreamRejected, http_client

MODELS_KEY = "models"
POOL_REFRESH_SECONDS = 5.0


def key_cache_key(key_id: str) -> str:
    return f"key:{key_id}"


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker
    cache: Cache
    limiter: RateLimiter
    upstream: Upstream
    client: httpx.AsyncClient
    redis: Redis | None = None
    started: bool = False
    # Set when shutdown begins: /readyz answers 503 so traffic drains away.
    draining: bool = False
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        redis = Redis.from_url(settings.redis_url, socket_timeout=0.5) if settings.redis_url else None
        engine = create_engine(settings)
        client = http_client(settings)
        breaker = CircuitBreaker(
            "inference",
            settings.breaker_failure_threshold,
            settings.breaker_reset_seconds,
            healthy_errors=(UpstreamRejected,),
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            cache=RedisCache(redis) if redis else MemoryCache(),
            limiter=RateLimiter(RedisBuckets(redis) if redis else MemoryBuckets()),
            upstream=Upstream(settings, client, breaker),
            client=client,
            redis=redis,
        )

    async def start(self) -> None:
        """Warm the caches: the model list and every active key, so first requests are fast.
        Best effort: with the cache down the app starts cold and reads the database."""
        keys: list[ApiKey] = []
        try:
            cache_up = await self.cache.ping()
        except (RedisError, OSError) as error:
            log.warning("cache unavailable at start-up, starting cold", error=str(error))
            cache_up = False
        if cache_up:
            await self.cache.set(MODELS_KEY, self.settings.models, self.settings.cache_ttl_seconds)
            async with self.sessions() as session:
                keys = list((await session.execute(select(ApiKey).where(ApiKey.revoked_at.is_(None)))).scalars().all())
            for key in keys:
                await self.cache.set(key_cache_key(key.id), key.secret_hash, self.settings.cache_ttl_seconds)
        self._tasks.append(asyncio.create_task(self._refresh_pool_metrics()))
        self.started = True
        log.info("started", keys_cached=len(keys), models=len(self.settings.models))

    async def stop(self) -> None:
        self.draining = True
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.aclose()
        await self.cache.close()
        await self.engine.dispose()

    async def _refresh_pool_metrics(self) -> None:
        pool = self.engine.sync_engine.pool
        while True:
            for state, reading in (("checked_out", "checkedout"), ("idle", "checkedin")):
                value = getattr(pool, reading, None)
                if callable(value):
                    DB_POOL.labels(state).set(value())
            await asyncio.sleep(POOL_REFRESH_SECONDS)
