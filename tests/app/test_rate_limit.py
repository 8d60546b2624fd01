"""Token buckets per key and per IP; 429 with Retry-After and RateLimit headers; a
per-replica fallback when Redis is down."""

from __future__ import annotations

import pytest

from app.metrics import RATE_LIMIT_DECISIONS, RATE_LIMITER_ERRORS
from app.ratelimit import MemoryBuckets, decide
from app.settings import RouteLimit, Settings
from tests.servers import free_port

pytestmark = pytest.mark.anyio


def decisions(scope: str, decision: str) -> float:
    return RATE_LIMIT_DECISIONS.labels(scope, decision)._value.get()


async def test_a_key_gets_its_burst_then_429s(start) -> None:
    async with start(rate_limits="GET /v1/models=0.5/3") as api:
        limited_before = decisions("key", "limited")
        first = await api.client.get("/v1/models")
        assert first.headers["ratelimit-limit"] == "3" and first.headers["ratelimit-remaining"] == "2"
        for _ in range(2):
            assert (await api.client.get("/v1/models")).status_code == 200
        refused = await api.client.get("/v1/models")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "2"  # one token at 0.5/s
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["content-type"] == "application/problem+json"
        assert decisions("key", "limited") == limited_before + 1


async def test_limits_are_per_route(start) -> None:
    async with start(rate_limits="GET /v1/models=0.1/1") as api:
        assert (await api.client.get("/v1/models")).status_code == 200
        assert (await api.client.get("/v1/models")).status_code == 429
        assert (await api.client.get("/v1/usage")).status_code == 200


async def test_one_address_is_limited_across_keys_and_routes(start) -> None:
    async with start(rate_limit_per_ip="0.1/2") as api:
        assert (await api.client.get("/v1/models")).status_code == 200
        assert (await api.client.get("/v1/usage")).status_code == 200
        refused = await api.client.get("/v2/models")
        assert refused.status_code == 429 and "for this ip" in refused.json()["detail"]


def test_forwarded_for_counts_only_from_trusted_proxies() -> None:
    from app.client_address import client_address

    def address(peer: str, forwarded: str = "203.0.113.7, 10.0.0.1") -> str:
        return client_address(peer, forwarded, proxies)

    # The ingress controller's pods: a range, as a pod network is.
    proxies = Settings(trusted_proxies="10.0.0.0/24, fd00::/64").trusted_proxies
    assert Settings(trusted_proxies="100.64.0.0/14,127.0.0.1").trusted_proxies  # shared space, loopback
    assert address("10.0.0.9") == "203.0.113.7"
    assert address("fd00::17", "203.0.113.7") == "203.0.113.7"
    assert address("198.51.100.1") == "198.51.100.1"  # not a proxy: its header is ignored
    assert address("10.0.1.9") == "10.0.1.9"  # just outside the range
    # A client that writes its own X-Forwarded-For only adds entries on the left.
    assert address("10.0.0.9", "6.6.6.6, 203.0.113.7, 10.0.0.1") == "203.0.113.7"
    # A forged hop that is no address is the client, never a proxy to skip over.
    assert address("10.0.0.9", "203.0.113.7, not-an-ip") == "not-an-ip"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.1/8", "network"),
        ("ten.zero", "network"),
        ("10.0.0.0/33", "network"),
        # Trusting the internet would let every client choose its own bucket.
        ("0.0.0.0/0", "must be internal ranges"),
        ("10.0.0.0/8, 8.8.8.0/24", "got 8.8.8.0/24"),
        ("::/0", "must be internal ranges"),
        ("100.0.0.0/8", "must be internal ranges"),
    ],
)
def test_trusted_proxies_must_be_networks(value: str, message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        Settings(trusted_proxies=value)


async def test_an_unreachable_redis_falls_back_to_a_per_replica_share(start) -> None:
    from app.guarded_redis import GuardedRedis, connect
    from app.metrics import RATE_LIMITER_FALLBACK
    from app.ratelimit import RedisBuckets

    dead = f"redis://127.0.0.1:{free_port()}/0"
    errors_before = RATE_LIMITER_ERRORS._value.get()
    # Ten per key on this route across four replicas: each replica allows ceil(10/4) = 3.
    async with start(rate_limits="GET /v1/models=0.001/10", rate_limit_fallback_replicas=4) as api:
        api.services.limiter.buckets = RedisBuckets(GuardedRedis(connect(dead, 0.2), reset_seconds=60))
        responses = [await api.client.get("/v1/models") for _ in range(5)]
        assert [response.status_code for response in responses] == [200, 200, 200, 429, 429]
        assert responses[0].headers["ratelimit-limit"] == "3"
        assert RATE_LIMITER_FALLBACK._value.get() == 1
    assert RATE_LIMITER_ERRORS._value.get() >= errors_before + 5


def test_a_share_never_rounds_a_limit_down_to_nothing() -> None:
    from app.ratelimit import share

    assert share(RouteLimit(per_second=5, burst=10), 3) == RouteLimit(per_second=5 / 3, burst=4)
    assert share(RouteLimit(per_second=1, burst=1), 50).burst == 1


async def test_memory_buckets_refill_at_the_configured_rate() -> None:
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    limit = RouteLimit(per_second=2, burst=2)
    assert [(await buckets.take("k", limit))[0] for _ in range(3)] == [True, True, False]
    now[0] = 0.5  # one token back
    assert (await buckets.take("k", limit))[0] is True
    assert (await buckets.take("k", limit))[0] is False


def test_decision_arithmetic() -> None:
    limit = RouteLimit(per_second=0.5, burst=10)
    assert decide(0.5, False, limit).retry_after_seconds == 1
    assert decide(0.0, False, limit).retry_after_seconds == 2
    assert decide(9.0, True, limit).reset_seconds == 2
    assert decide(3.7, True, limit).remaining == 3


def test_route_limits_parse_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("APP_RATE_LIMITS", "POST /v1/completions=2/4; GET /v1/models=50/100")
    settings = Settings(environment="test")
    assert settings.limit_for("POST /v1/completions") == RouteLimit(per_second=2, burst=4)
    assert settings.limit_for("GET /v1/usage") == settings.rate_limit_default


async def test_the_memory_cache_stays_bounded_whatever_keys_it_is_given() -> None:
    from app.cache import MemoryCache

    now = [0.0]
    cache = MemoryCache(clock=lambda: now[0], max_entries=100)
    for index in range(1000):
        await cache.set(f"invented-{index}", "", 30)
    assert len(cache) == 100
    assert await cache.get("invented-999") == "" and await cache.get("invented-0") is None  # the oldest went


async def test_an_address_over_its_limit_costs_no_body_read_and_no_key_check(start) -> None:
    async with start(rate_limit_per_ip="0.001/1") as api:
        assert (await api.client.get("/v1/models")).status_code == 200
        # Over the body limit and without a key: the address limit answers first.
        huge = b" " * 500_000
        refused = await api.client.post(
            "/v1/completions", content=huge, headers={"content-type": "application/json", "authorization": ""}
        )
        assert refused.status_code == 429 and refused.headers["retry-after"]
        assert refused.headers["ratelimit-remaining"] == "0"
        assert (await api.client.get("/livez")).status_code == 200  # probes are never limited
