"""A circuit breaker around a dependency (the upstream, Redis, the database reader): fail
fast while it is down, probe to recover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import IntEnum

from prometheus_client import Gauge

from app.logs import log
from app.metrics import BREAKER_STATE


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class BreakerOpen(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"upstream circuit open, retry in {retry_after:.0f} s")
        self.retry_after = retry_after


class CircuitBreaker:
    """Opens after `failure_threshold` failures in a row; after `reset_seconds` lets one
    probe through (half-open); closes when it succeeds, opens again when it fails."""

    def __init__(
        self,
        name: str,
        failure_threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        healthy_errors: tuple[type[Exception], ...] = (),
        gauge: Gauge = BREAKER_STATE,
    ) -> None:
        self.name = name
        # Where the state is published, labelled by `name` (the upstream's gauge pages).
        self.gauge = gauge
        # Errors that prove the other side is up (it answered, and refused): no failure.
        self.healthy_errors = healthy_errors
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.state = State.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._probe = asyncio.Lock()
        gauge.labels(name).set(State.CLOSED)

    def _move(self, state: State) -> None:
        if state != self.state:
            log.warning("circuit breaker transition", upstream=self.name, old=self.state.name, new=state.name)
            self.state = state
            self.gauge.labels(self.name).set(state)

    def refuse_if_open(self) -> None:
        """Raises BreakerOpen while open and not yet due a probe, changing nothing: a
        caller can refuse before it does work the call would waste."""
        if self.state == State.OPEN:
            waited = self.clock() - self.opened_at
            if waited < self.reset_seconds:
                raise BreakerOpen(self.reset_seconds - waited)

    def before_call(self) -> None:
        """Raises BreakerOpen while open; turns half-open once the reset time has passed."""
        self.refuse_if_open()
        if self.state == State.OPEN:
            self._move(State.HALF_OPEN)
        if self.state == State.HALF_OPEN and self._probe.locked():
            raise BreakerOpen(1.0)  # one probe at a time

    async def call(self, operation: Callable[[], object]) -> object:
        self.before_call()
        if self.state == State.HALF_OPEN:
            async with self._probe:
                return await self._measured(operation)
        return await self._measured(operation)

    async def _measured(self, operation: Callable) -> object:
        try:
            result = await operation()
        except self.healthy_errors:
            self.record_success()
            raise
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result

    def record_success(self) -> None:
        self.failures = 0
        self._move(State.CLOSED)

    def record_failure(self) -> None:
        self.failures += 1
        if self.state == State.HALF_OPEN or self.failures >= self.failure_threshold:
            self.opened_at = self.clock()
            self._move(State.OPEN)
