"""Token buckets per API key and per client IP, atomic across replicas through Redis.

Each bucket holds up to `burst` tokens and refills at `per_second`; a request takes one.
In Redis the refill-and-take runs as one Lua script on the server's clock, so replicas
share buckets without races. Without Redis the same arithmetic runs in memory (one
process). If Redis fails (or its breaker is open), each replica limits on its own with
1/N of every limit, N being the replicas it usually runs with: an outage of the
limiter must neither become an outage of the API nor switch limiting off.

(The `limits` package has no token bucket, and pyrate-limiter's buckets do not report
the tokens left and time to refill that the RateLimit headers need.)
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Protocol

from app.guarded_redis import GuardedRedis, RedisUnavailable
from app.metrics import RATE_LIMIT_DECISIONS, RATE_LIMITER_ERRORS, RATE_LIMITER_FALLBACK
from app.settings import RouteLimit


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the bucket is full again, and (when refused) until one token is back.
    reset_seconds: int
    retry_after_seconds: int


def decide(tokens: float, allowed: bool, limit: RouteLimit) -> Decision:
    return Decision(
        allowed=allowed,
        limit=limit.burst,
        remaining=max(0, math.floor(tokens)),
        reset_seconds=math.ceil((limit.burst - tokens) / limit.per_second),
        retry_after_seconds=0 if allowed else max(1, math.ceil((1 - tokens) / limit.per_second)),
    )


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_seconds),
    }


def refusal_headers(decision: Decision) -> dict[str, str]:
    """The headers of a 429."""
    return {**rate_limit_headers(decision), "Retry-After": str(decision.retry_after_seconds)}


class Buckets(Protocol):
    async def take(self, key: str, limit: RouteLimit) -> tuple[bool, float]: ...


class MemoryBuckets:
    """Buckets of one process. A bucket that has refilled is the same as no bucket, so
    once there are `sweep_above` of them the full ones are dropped: memory stays bounded
    by the clients active within one refill time, whatever addresses clients send."""

    def __init__(self, clock=time.monotonic, sweep_above: int = 50_000) -> None:
        # key -> (tokens, stamp, when it is full again)
        self._buckets: dict[str, tuple[float, float, float]] = {}
        self._lock = asyncio.Lock()
        self._clock = clock
        self._sweep_above = sweep_above

    async def take(self, key: str, limit: RouteLimit) -> tuple[bool, float]:
        async with self._lock:
            now = self._clock()
            tokens, stamp, _ = self._buckets.get(key, (float(limit.burst), now, now))
            tokens = min(limit.burst, tokens + (now - stamp) * limit.per_second)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now, now + (limit.burst - tokens) / limit.per_second)
            if len(self._buckets) > self._sweep_above:
                self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
            return allowed, tokens

    def __len__(self) -> int:
        return len(self._buckets)


# KEYS[1] bucket; ARGV per_second, burst. Returns {allowed, tokens-left as text}.
TOKEN_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    def __init__(self, redis: GuardedRedis, prefix: str = "ratelimit:") -> None:
        self.prefix = prefix
        self.redis = redis
        self._script = redis.redis.register_script(TOKEN_BUCKET)

    async def take(self, key: str, limit: RouteLimit) -> tuple[bool, float]:
        allowed, tokens = await self.redis.run(
            lambda _: self._script(keys=[self.prefix + key], args=[limit.per_second, limit.burst])
        )
        return bool(int(allowed)), float(tokens)


def share(limit: RouteLimit, replicas: int) -> RouteLimit:
    """One replica's part of a limit that all replicas enforce together."""
    return RouteLimit(per_second=limit.per_second / replicas, burst=max(1, math.ceil(limit.burst / replicas)))


class RateLimiter:
    def __init__(self, buckets: Buckets, fallback_replicas: int = 1) -> None:
        self.buckets = buckets
        # Used only while `buckets` is unavailable.
        self.fallback = MemoryBuckets()
        self.fallback_replicas = fallback_replicas

    async def check(self, scope: str, subject: str, route: str, limit: RouteLimit) -> Decision:
        key = f"{scope}:{subject}:{route}"
        try:
            allowed, tokens = await self.buckets.take(key, limit)
            RATE_LIMITER_FALLBACK.set(0)
        except RedisUnavailable:
            RATE_LIMITER_ERRORS.inc()
            RATE_LIMITER_FALLBACK.set(1)
            limit = share(limit, self.fallback_replicas)
            allowed, tokens = await self.fallback.take(key, limit)
        RATE_LIMIT_DECISIONS.labels(scope, "allowed" if allowed else "limited").inc()
        return decide(tokens, allowed, limit)
