"""Redis behind a circuit breaker, so a dead or frozen Redis costs requests almost nothing.

Every call has a short timeout and no retries. One failure opens the breaker: for
`reset_seconds` every call fails at once, without touching the network, and the caller
falls back (a cache miss, a per-process rate limit). Then one call probes; it closes the
breaker or opens it for another window. So at most one timeout per window reaches a
request, and the breaker logs each change of state once, not each failed call.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.breaker import BreakerOpen, CircuitBreaker, State
from app.metrics import REDIS_CALLS

T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis failed, or its breaker is open: go on without it."""


def connect(url: str, timeout_seconds: float) -> Redis:
    # No retries: one timeout is all a request may spend on Redis, the breaker does the rest.
    return Redis.from_url(
        url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds, retry=Retry(NoBackoff(), 0)
    )


class GuardedRedis:
    def __init__(self, redis: Redis, reset_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self.breaker = CircuitBreaker("redis", failure_threshold=1, reset_seconds=reset_seconds, clock=clock)

    @property
    def available(self) -> bool:
        """False while the breaker keeps requests away from Redis."""
        return self.breaker.state != State.OPEN

    async def run(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        try:
            result = await self.breaker.call(lambda: operation(self.redis))
        except BreakerOpen as error:
            REDIS_CALLS.labels("skipped").inc()
            raise RedisUnavailable("redis circuit open") from error
        except Exception as error:
            REDIS_CALLS.labels("failed").inc()
            raise RedisUnavailable(f"redis failed: {type(error).__name__}") from error
        REDIS_CALLS.labels("ok").inc()
        return result  # type: ignore[return-value]

    async def close(self) -> None:
        await self.redis.aclose()
