"""Redis stopped, frozen (SIGSTOP) and restarted under the API: requests keep being
served, at most one Redis timeout per breaker window reaches them, rate limits hold
(per replica) instead of switching off, readiness does not follow Redis, and the outage
is logged once, not per request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from app.breaker import State
from app.metrics import RATE_LIMITER_FALLBACK, REDIS_CALLS
from tests.app.conftest import healed, running, settings_for
from tests.servers import Server

pytestmark = pytest.mark.anyio

BOUND_SECONDS = 30


@pytest.fixture
def server(own_redis: tuple[Server, str]) -> Iterator[Server]:
    yield from healed(own_redis[0])


def calls(outcome: str) -> float:
    return REDIS_CALLS.labels(outcome)._value.get()


def app_on(tmp_path: Path, own_redis: tuple[Server, str], **overrides: object):
    settings = {"redis_url": own_redis[1], "redis_timeout_seconds": 0.2, "redis_breaker_reset_seconds": 60, **overrides}
    return running(settings_for(tmp_path, **settings))


@pytest.mark.parametrize("fault", ["stop", "freeze"])
async def test_a_failed_redis_costs_one_timeout_per_window_and_is_logged_once(
    tmp_path: Path, own_redis: tuple[Server, str], server: Server, fault: str
) -> None:
    async with app_on(tmp_path, own_redis) as api:
        failed, skipped = calls("failed"), calls("skipped")
        getattr(server, fault)()
        with capture_logs() as logs:
            responses = [await asyncio.wait_for(api.client.get("/v1/models"), BOUND_SECONDS) for _ in range(20)] + [
                await asyncio.wait_for(api.complete(), BOUND_SECONDS) for _ in range(5)
            ]
        assert {response.status_code for response in responses} == {200}
        # One call reached the failed Redis; every later one was kept away by the breaker.
        assert calls("failed") - failed == 1
        assert calls("skipped") - skipped >= 25 * 3  # the cache and two buckets per request
        assert api.services.redis is not None and api.services.redis.breaker.state == State.OPEN
        warnings = [line for line in logs if line["log_level"] in ("warning", "error")]
        assert [line["event"] for line in warnings] == ["circuit breaker transition"]
        assert RATE_LIMITER_FALLBACK._value.get() == 1


async def test_readiness_does_not_follow_redis(tmp_path: Path, own_redis: tuple[Server, str], server: Server) -> None:
    async with app_on(tmp_path, own_redis) as api:
        server.freeze()
        for _ in range(3):
            ready = await asyncio.wait_for(api.client.get("/readyz"), BOUND_SECONDS)
            assert ready.status_code == 200, ready.json()


async def test_limits_hold_through_a_redis_outage(
    tmp_path: Path, own_redis: tuple[Server, str], server: Server
) -> None:
    # Five per key, then nothing for minutes: the fallback must enforce the same five.
    async with app_on(tmp_path, own_redis, rate_limits="GET /v1/models=0.001/5") as api:
        server.stop()
        statuses = [(await api.client.get("/v1/models")).status_code for _ in range(12)]
        assert statuses == [200] * 5 + [429] * 7


async def test_redis_back_closes_the_breaker_and_shared_limits_resume(
    tmp_path: Path, own_redis: tuple[Server, str], server: Server
) -> None:
    async with app_on(tmp_path, own_redis, redis_breaker_reset_seconds=0.2) as api:
        assert api.services.redis is not None
        breaker = api.services.redis.breaker
        server.stop()
        assert (await api.client.get("/v1/models")).status_code == 200
        assert breaker.state == State.OPEN
        server.start()
        await Redis.from_url(own_redis[1]).flushdb()
        for _ in range(200):  # bounded: the breaker probes once its window has passed
            assert (await api.client.get("/v1/models")).status_code == 200
            if breaker.state == State.CLOSED:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the breaker never closed after Redis came back")
        assert (await api.client.get("/v1/models")).status_code == 200
        assert RATE_LIMITER_FALLBACK._value.get() == 0
        assert await Redis.from_url(own_redis[1]).keys("ratelimit:*")  # decided in Redis again


async def test_with_redis_down_a_key_is_read_from_the_database_once_not_per_request(
    tmp_path: Path, own_redis: tuple[Server, str], server: Server
) -> None:
    async with app_on(tmp_path, own_redis) as api:
        server.stop()
        database = api.services.database
        real_run, reads = database.run, []

        async def counting(operation, what: str = "query"):
            reads.append(what)
            return await real_run(operation, what)

        database.run = counting  # type: ignore[method-assign]
        for _ in range(10):
            assert (await api.client.get("/v1/models")).status_code == 200
        assert reads.count("key lookup") == 1
