"""With Redis: two app instances share their rate limits and caches."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.app.conftest import running, settings_for

pytestmark = pytest.mark.anyio


async def test_two_instances_share_one_bucket(tmp_path: Path, redis_url: str) -> None:
    await Redis.from_url(redis_url).flushdb()
    settings = settings_for(tmp_path, redis_url=redis_url, rate_limits="GET /v1/models=0.1/4")
    async with running(settings) as first, running(settings, migrate=False) as second:
        # Both use the first instance's key: same database.
        statuses = []
        for api in (first, second, first, second, first, second):
            response = await api.client.get("/v1/models", headers=first.auth())
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 200, 429, 429]


async def test_concurrent_requests_never_overspend_the_bucket(tmp_path: Path, redis_url: str) -> None:
    import asyncio

    await Redis.from_url(redis_url).flushdb()
    settings = settings_for(tmp_path, redis_url=redis_url, rate_limits="GET /v1/models=0.01/10")
    async with running(settings) as first, running(settings, migrate=False) as second:
        calls = [api.client.get("/v1/models", headers=first.auth()) for api in (first, second) for _ in range(15)]
        statuses = [response.status_code for response in await asyncio.gather(*calls)]
    assert statuses.count(200) == 10 and statuses.count(429) == 20


async def test_models_and_keys_are_cached_in_redis(tmp_path: Path, redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    async with running(settings_for(tmp_path, redis_url=redis_url)) as api:
        assert await redis.get("cache:models") == b'["echo-1"]'
        key_id = api.key.split("_")[1]
        assert await redis.exists(f"cache:key:{key_id}")  # warmed at start-up


async def test_the_app_starts_and_serves_with_redis_down(tmp_path: Path) -> None:
    from app.metrics import CACHE_ERRORS
    from tests.servers import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    before = CACHE_ERRORS.labels("get")._value.get()
    async with running(settings_for(tmp_path, redis_url=dead)) as api:
        assert (await api.client.get("/v1/models")).status_code == 200  # cache misses, limits per replica
        assert (await api.complete()).status_code == 200
        assert (await api.client.get("/readyz")).status_code == 200  # the pod can serve: it stays in rotation
    assert CACHE_ERRORS.labels("get")._value.get() > before
