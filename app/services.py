"""What the app holds while it runs: database, cache, limiter, upstream, readiness.
Owned by the lifespan: created at start, warmed, closed at shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.breaker import CircuitBreaker
from app.cache import Cache, MemoryCache, RedisCache
from app.db.database import Database, DatabaseUnavailable
from app.db.models import ApiKey
from app.db.routing import open_database
from app.db.settlements import Settlements
from app.flags import FeatureFlags
from app.guarded_redis import GuardedRedis, connect
from app.logs import log
from app.metrics import DB_POOL
from app.ratelimit import MemoryBuckets, RateLimiter, RedisBuckets
from app.readiness import Readiness
from app.secret_files import Credentials, SecretFiles
from app.settings import Settings
from app.upstream import Upstream, UpstreamRejected, http_client

MODELS_KEY = "models"
POOL_REFRESH_SECONDS = 5.0
# A database that froze must not hold shutdown past the grace period.
DISPOSE_TIMEOUT_SECONDS = 3.0


def key_cache_key(key_id: str) -> str:
    return f"key:{key_id}"


@dataclass
class Services:
    settings: Settings
    database: Database
    cache: Cache
    limiter: RateLimiter
    upstream: Upstream
    client: httpx.AsyncClient
    settlements: Settlements
    readiness: Readiness
    credentials: Credentials
    flags: FeatureFlags
    redis: GuardedRedis | None = None
    started: bool = False
    # Set when shutdown begins: /readyz answers 503 so traffic drains away.
    draining: bool = False
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        redis = None
        if settings.redis_url:
            client = connect(settings.redis_url, settings.redis_timeout_seconds)
            redis = GuardedRedis(client, settings.redis_breaker_reset_seconds)
        database = open_database(settings)
        upstream_client = http_client(settings)
        credentials = Credentials.from_settings(settings)
        breaker = CircuitBreaker(
            "inference",
            settings.breaker_failure_threshold,
            settings.breaker_reset_seconds,
            healthy_errors=(UpstreamRejected,),
        )
        return cls(
            settings=settings,
            database=database,
            cache=RedisCache(redis) if redis else MemoryCache(),
            limiter=RateLimiter(
                RedisBuckets(redis) if redis else MemoryBuckets(), settings.rate_limit_fallback_replicas
            ),
            upstream=Upstream(settings, upstream_client, breaker, credentials),
            client=upstream_client,
            settlements=Settlements(database),
            readiness=Readiness(database, settings.readiness_cache_seconds),
            credentials=credentials,
            flags=FeatureFlags(settings.flags_file, settings.flags_poll_seconds),
            redis=redis,
        )

    @property
    def engine(self) -> AsyncEngine:
        """The writer's engine."""
        return self.database.engine

    async def start(self) -> None:
        """Warm the caches: the model list and every active key, so first requests are fast.
        Best effort: with the cache or the database down the app starts cold."""
        keys: list[ApiKey] = []
        if await self.cache.ping():
            await self.cache.set(MODELS_KEY, self.settings.models, self.settings.cache_ttl_seconds)
            try:
                # From the reader: a key it lacks yet is looked up on its first use.
                keys = await self.database.read(_active_keys, "key warm-up")
            except DatabaseUnavailable as error:
                log.warning("database unavailable at start-up, starting cold", error=str(error))
            for key in keys:
                await self.cache.set(key_cache_key(key.id), key.secret_hash, self.settings.cache_ttl_seconds)
        else:
            log.warning("cache unavailable at start-up, starting cold")
        self._tasks.append(asyncio.create_task(self._refresh_pool_metrics()))
        self._tasks.append(asyncio.create_task(self.settlements.keep_retrying()))
        if self.flags.gated:
            # Reading the file blocks (briefly): off the event loop.
            await asyncio.to_thread(self.flags.start)
            self._tasks.append(asyncio.create_task(self.flags.keep_watching()))
        if self.settings.secrets_dir is not None:
            watcher = SecretFiles(self.settings.secrets_dir, self.credentials)
            self._tasks.append(asyncio.create_task(watcher.keep_watching()))
        self.started = True
        log.info("started", keys_cached=len(keys), models=len(self.settings.models))

    async def stop(self) -> None:
        self.draining = True
        for task in self._tasks:
            task.cancel()
        # A task that died of an error must not stop the rest of the shutdown.
        for outcome in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.error("a background task had failed", error=type(outcome).__name__)
        if left := await self.settlements.retry_pending():
            log.warning("usage settlements left at their reservations", count=left)
        self.flags.stop()
        await self.client.aclose()
        await self.cache.close()
        await self.database.dispose(DISPOSE_TIMEOUT_SECONDS)

    async def _refresh_pool_metrics(self) -> None:
        pool = self.engine.sync_engine.pool
        while True:
            for state, reading in (("checked_out", "checkedout"), ("idle", "checkedin")):
                value = getattr(pool, reading, None)
                if callable(value):
                    DB_POOL.labels(state).set(value())
            await asyncio.sleep(POOL_REFRESH_SECONDS)


async def _active_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).where(ApiKey.revoked_at.is_(None)))).scalars().all())
