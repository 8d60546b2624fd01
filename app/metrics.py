"""Prometheus metrics. Labelled by route template, never by raw path.

One uvicorn process per container in Kubernetes; with several workers, set
PROMETHEUS_MULTIPROC_DIR and every process writes its samples there, and /metrics
aggregates them (gauges say how to combine with `multiprocess_mode`).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("http_requests_total", "HTTP requests served", ["route", "method", "status"])
# The latency histogram's upper bounds (seconds); +Inf is added by the client.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
LATENCY = Histogram(
    "http_request_duration_seconds", "Time to serve a request", ["route", "method"], buckets=LATENCY_BUCKETS
)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being served", multiprocess_mode="livesum")
RATE_LIMIT_DECISIONS = Counter("rate_limit_decisions_total", "Rate limiter decisions", ["scope", "decision"])
RATE_LIMITER_ERRORS = Counter(
    "rate_limiter_errors_total", "Decisions made without the shared storage (per-process fallback)"
)
RATE_LIMITER_FALLBACK = Gauge(
    "rate_limiter_fallback",
    "1 while this process limits on its own because Redis is unavailable",
    multiprocess_mode="max",
)
REDIS_CALLS = Counter(
    "redis_calls_total", "Redis calls: ok, failed (reached Redis), skipped (breaker open)", ["outcome"]
)
CACHE_ERRORS = Counter("cache_errors_total", "Cache operations that failed (served without the cache)", ["operation"])
AUTH_FAILURES = Counter("auth_failures_total", "Requests refused for a missing or wrong API key", ["reason"])
BLOCKED_REQUESTS = Counter("blocked_requests_total", "Requests refused by validation or screening", ["reason"])
BREAKER_STATE = Gauge(
    "circuit_breaker_state", "Upstream breaker: 0 closed, 1 half-open, 2 open", ["upstream"], multiprocess_mode="max"
)
UPSTREAM_LATENCY = Histogram(
    "upstream_request_duration_seconds",
    "Time the inference upstream took",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DB_POOL = Gauge("db_pool_connections", "Database pool connections", ["state"], multiprocess_mode="livesum")
DB_UNAVAILABLE = Counter(
    "db_unavailable_total", "Database calls that failed (error) or missed their deadline (timeout)", ["reason"]
)
DB_READS = Counter("db_reads_total", "Lag-tolerant reads, by the server that answered (reader or writer)", ["server"])
DB_READ_FALLBACKS = Counter(
    "db_read_fallbacks_total",
    "Reads the writer answered in the reader's place: the reader failed (error), missed its deadline "
    "(timeout), was skipped while its breaker was open (skipped), or lacked the row (missing)",
    ["reason"],
)
DB_READER_BREAKER = Gauge(
    "db_reader_breaker_state",
    "The database reader's breaker: 0 closed (reads on the reader), 1 probing, 2 open (reads on the writer)",
    ["reader"],
    multiprocess_mode="max",
)
USAGE_SETTLEMENTS = Counter(
    "usage_settlements_total", "Usage reservations settled or released, now or after a retry", ["outcome"]
)
USAGE_SETTLEMENTS_PENDING = Gauge(
    "usage_settlements_pending", "Settlements waiting for the database to answer again", multiprocess_mode="livesum"
)
SECRET_RELOADS = Counter("secret_reloads_total", "Secrets taken from changed files without a restart", ["file"])
API_KEYS_REHASHED = Counter("api_keys_rehashed_total", "Keys that matched the previous pepper and were re-hashed")
TOKENS = Counter("completion_tokens_total", "Tokens served", ["model", "kind"])
FLAGS_SOURCE_READY = Gauge(
    "feature_flags_source_ready",
    "1 while the feature flag file is read and in use; 0 while it is missing or malformed (flags at their defaults)",
    multiprocess_mode="min",
)
FLAG_EVALUATIONS = Counter(
    "feature_flag_evaluations_total",
    "Feature flag evaluations per flag, result (on, off) and reason (static, targeting_match, disabled, or why the "
    "default applied: source_unavailable, flag_not_found, type_mismatch, ...)",
    ["flag", "result", "reason"],
)


def render() -> tuple[bytes, str]:
    """The exposition of this process, or of all worker processes in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
