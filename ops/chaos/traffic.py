"""The drill's load: bounded bursts and streams of real requests to the API, their
figures (success ratio, latency percentiles, statuses), and the ledger of the writes
they made.

A stream runs `concurrency` loops on a thread of its own (asyncio and httpx), each
sending the next request of its mix until it has sent `max_requests` between them, run
`max_seconds`, or is stopped; a request the client gives up on (`timeout_seconds`) is
a failure with status 0. Every request is a success only with a 200.

Writes are completions. Each asks for its sequence number as `max_tokens` and the
upstream stub writes exactly that many tokens, so its usage row carries the number
whether it was settled or is still reserved (app/db/usage.py): an acknowledged write
(a 200) is kept when the database has a row of the experiment's key with that number.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# What each kind of request is. `models` needs Redis (key cache, rate limits) and neither
# the database nor the upstream once the key is cached; `health` is the readiness the
# edge probes (the database); `complete` needs all three and writes; `livez` only the
# process.
REQUESTS = {
    "models": ("GET", "/v1/models"),
    "health": ("GET", "/v1/health"),
    "complete": ("POST", "/v1/completions"),
    "livez": ("GET", "/livez"),
}
DEFAULT_MIX = {"models": 3, "health": 1, "complete": 2}
MODEL = "stub-1"
MAX_WRITES = 4096  # the API's own bound on max_tokens, which carries the sequence number


class TrafficError(ValueError):
    """A stream asked for something it cannot do: an unknown kind, no requests."""


def check_mix(mix: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(mix) - set(REQUESTS))
    if unknown or not mix or any(not isinstance(n, int) or n < 0 for n in mix.values()) or not sum(mix.values()):
        raise TrafficError(f"a mix is {{kind: weight}} of {', '.join(REQUESTS)} with positive weights, got {mix}")
    return mix


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: int  # 0: no answer (a transport error, or the client's timeout)
    started: float  # time.monotonic()
    seconds: float
    seq: int | None = None  # a write's sequence number
    error: str | None = None  # why there was no answer: the client's exception

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def ended(self) -> float:
        return self.started + self.seconds


@dataclass
class Ledger:
    """One experiment's writes: its key, and which sequence numbers were acknowledged when."""

    key: str
    key_id: str
    acks: dict[int, float] = field(default_factory=dict)
    _next: Iterable[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_seq(self) -> int:
        with self._lock:
            seq = next(self._next)  # type: ignore[call-overload]
        if seq > MAX_WRITES:
            raise TrafficError(f"an experiment writes at most {MAX_WRITES} times (max_tokens carries the number)")
        return seq

    def ack(self, seq: int, at: float) -> None:
        with self._lock:
            self.acks[seq] = at


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The figures of some requests, in all and by kind."""

    def summary(group: Sequence[Outcome]) -> dict[str, Any]:
        seconds = [outcome.seconds for outcome in group]
        succeeded = sum(1 for outcome in group if outcome.ok)
        return {
            "requests": len(group),
            "succeeded": succeeded,
            "failed": len(group) - succeeded,
            "successRatio": round(succeeded / len(group), 4) if group else None,
            "p50Seconds": round(percentile(seconds, 0.5), 4),
            "p99Seconds": round(percentile(seconds, 0.99), 4),
            "maxSeconds": round(max(seconds, default=0.0), 4),
            "statuses": {str(status): n for status, n in sorted(Counter(o.status for o in group).items())},
            "errors": dict(sorted(Counter(o.error for o in group if o.error).items())),
        }

    kinds = sorted({outcome.kind for outcome in outcomes})
    return {**summary(outcomes), "byKind": {kind: summary([o for o in outcomes if o.kind == kind]) for kind in kinds}}


# Expectations, as experiments write them: {"all" or a kind: {"min_success_ratio": ...,
# "max_p99_seconds": ..., "max_seconds": ..., "statuses": [allowed...], "min_requests": ...}}.
EXPECTATIONS = ("min_success_ratio", "max_p99_seconds", "max_seconds", "statuses", "min_requests")


def check_expectations(expect: dict[str, dict[str, Any]]) -> None:
    for scope, bounds in expect.items():
        if scope != "all" and scope not in REQUESTS:
            raise TrafficError(f"expectations name 'all' or a kind of request, not {scope!r}")
        unknown = sorted(set(bounds) - set(EXPECTATIONS))
        if unknown:
            raise TrafficError(f"unknown expectation(s) {', '.join(unknown)}; expected {', '.join(EXPECTATIONS)}")


def problems(found: dict[str, Any], expect: dict[str, dict[str, Any]]) -> list[str]:
    """What in `found` (from `figures`) misses `expect`: one line each, naming the figure."""
    check_expectations(expect)
    missed = []
    for scope, bounds in expect.items():
        group = found if scope == "all" else found["byKind"].get(scope)
        label = "requests" if scope == "all" else f"{scope} requests"
        if group is None or group["requests"] < bounds.get("min_requests", 1):
            count = 0 if group is None else group["requests"]
            missed.append(f"{count} {label}, expected at least {bounds.get('min_requests', 1)}")
            continue
        ratio = bounds.get("min_success_ratio")
        if ratio is not None and group["successRatio"] < ratio:
            missed.append(
                f"{label}: success ratio {group['successRatio']:.4f} below {ratio:g} (statuses {group['statuses']})"
            )
        p99 = bounds.get("max_p99_seconds")
        if p99 is not None and group["p99Seconds"] > p99:
            missed.append(f"{label}: p99 {group['p99Seconds']:.3f} s above {p99:g} s")
        longest = bounds.get("max_seconds")
        if longest is not None and group["maxSeconds"] > longest:
            missed.append(f"{label}: the slowest took {group['maxSeconds']:.3f} s, above {longest:g} s")
        allowed = bounds.get("statuses")
        if allowed is not None:
            others = sorted(set(group["statuses"]) - {str(status) for status in allowed})
            if others:
                missed.append(f"{label}: statuses {', '.join(others)} outside {allowed} ({group['statuses']})")
    return missed


@dataclass
class Traffic:
    """A bounded stream of requests to `base_url`, on a thread of its own."""

    base_url: str
    ledger: Ledger
    mix: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))
    concurrency: int = 8
    max_requests: int = 2000
    max_seconds: float = 30.0
    timeout_seconds: float = 10.0
    outcomes: list[Outcome] = field(default_factory=list)
    error: BaseException | None = None
    _sent: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        check_mix(self.mix)
        if self.concurrency < 1 or self.max_requests < 1 or self.max_seconds <= 0:
            raise TrafficError("a stream needs at least one loop, one request and some time")
        # The kinds in a fixed interleaved order, so every stretch of the stream has the mix.
        self._schedule = itertools.cycle(_interleave(self.mix))

    # Reading, from any thread.

    @property
    def finished(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def answered_since(self, moment: float) -> int:
        return sum(1 for outcome in list(self.outcomes) if outcome.ended >= moment)

    # Running.

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._main, name="chaos-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self, seconds: float | None = None) -> list[Outcome]:
        """Stop sending; each loop ends its request in flight (bounded by the client's timeout)."""
        self._stopping.set()
        return self.wait(seconds)

    def wait(self, seconds: float | None = None) -> list[Outcome]:
        if self._thread is not None:
            self._thread.join(seconds if seconds is not None else self.max_seconds + self.timeout_seconds + 5)
            if self._thread.is_alive():
                raise TrafficError("the traffic did not stop within its bounds")
        if self.error is not None:
            raise TrafficError(f"the traffic failed: {type(self.error).__name__}: {self.error}") from self.error
        return list(self.outcomes)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:  # noqa: BLE001 - reported by wait(), on the drill's thread
            self.error = error

    async def _run(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        headers = {"Authorization": f"Bearer {self.ledger.key}"}
        deadline = time.monotonic() + self.max_seconds
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers, limits=limits, timeout=self.timeout_seconds
        ) as client:
            await asyncio.gather(*(self._loop(client, deadline) for _ in range(self.concurrency)))

    def _next(self) -> str | None:
        with self._lock:
            if self._sent >= self.max_requests:
                return None
            self._sent += 1
            return next(self._schedule)

    async def _loop(self, client: Any, deadline: float) -> None:
        while not self._stopping.is_set() and time.monotonic() < deadline:
            kind = self._next()
            if kind is None:
                return
            await self._request(client, kind)

    async def _request(self, client: Any, kind: str) -> None:
        import httpx

        method, path = REQUESTS[kind]
        seq = self.ledger.next_seq() if kind == "complete" else None
        body = {"model": MODEL, "prompt": f"chaos drill write {seq}", "max_tokens": seq} if seq else None
        started = time.monotonic()
        error = None
        try:
            response = await client.request(method, path, json=body)
            status = response.status_code
            if status != 200:
                error = who_answered(response.headers.get("content-type", ""), response.text)
        except httpx.HTTPError as failed:
            status, error = 0, f"no answer: {type(failed).__name__}"
        ended = time.monotonic()
        if seq is not None and status == 200:
            self.ledger.ack(seq, ended)
        self.outcomes.append(Outcome(kind, status, started, ended - started, seq, error))


def who_answered(content_type: str, body: str) -> str:
    """Who refused a request, and why, in a few words: the app's problem document says
    `detail`; anything else is the load balancer's page."""
    import json
    import re

    if content_type.startswith("application/problem+json"):
        with contextlib.suppress(ValueError, AttributeError):
            return f"app: {json.loads(body).get('detail', '')}"[:120]
    text = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    return f"load balancer: {text}"[:120]


def _interleave(mix: dict[str, int]) -> list[str]:
    """One round of the mix with each kind spread out: {a: 2, b: 1} -> [a, b, a]."""
    slots = sorted(((index + 0.5) / weight, kind) for kind, weight in mix.items() for index in range(weight) if weight)
    return [kind for _, kind in slots]


def burst(
    base_url: str, ledger: Ledger, requests: int, concurrency: int, mix: dict[str, int] | None = None
) -> list[Outcome]:
    """`requests` requests, `concurrency` at a time; returns when all are answered."""
    stream = Traffic(base_url, ledger, dict(mix or DEFAULT_MIX), concurrency, requests, max_seconds=60.0)
    return stream.start().wait()
