"""Runbooks as typed, idempotent steps: dry-run by default, each outcome audited.

A step knows how to tell that its work is already done (`done`), what must hold before
it may act (`precondition`), how to act (`action`), and how long the system may take to
show the result (`settle_seconds`: `done` is polled until then). Running a runbook twice
is safe: a step whose work is done is skipped, so a runbook interrupted at night can
simply be run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ops.audit import AuditLog

T = TypeVar("T")

# What a precondition says about the state it checked (lag, health), for the audit line.
Facts = dict[str, Any]


class OpsError(Exception):
    """A problem the operator must see, said plainly (the CLI prints it, no traceback)."""


class PreconditionFailed(OpsError):
    """The system is not in a state where the step may act; nothing was changed."""


class StepFailed(OpsError):
    """A step's action failed, or its result did not show in time."""


class WaitTimedOut(OpsError):
    """A condition polled for did not hold within its bound."""


@dataclass(frozen=True)
class Clock:
    """Time for polling; tests pass one that advances without sleeping."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def wait_until(
    condition: Callable[[], T | None],
    timeout_seconds: float,
    what: str,
    interval_seconds: float = 5.0,
    clock: Clock = Clock(),
) -> T:
    """Poll `condition` until it returns something truthy, at most `timeout_seconds`."""
    deadline = clock.monotonic() + timeout_seconds
    while True:
        result = condition()
        if result:
            return result
        if clock.monotonic() >= deadline:
            raise WaitTimedOut(f"{what} did not happen within {timeout_seconds:g} s")
        clock.sleep(min(interval_seconds, max(deadline - clock.monotonic(), 0.0)))


@dataclass(frozen=True)
class Step:
    name: str
    summary: str
    done: Callable[[], bool]
    action: Callable[[], object]
    # Raises PreconditionFailed when the step must not act; `apply` is False in a dry
    # run, where a precondition reports instead of waiting for the state it needs.
    precondition: Callable[[bool], Facts] | None = None
    settle_seconds: float = 0.0
    interval_seconds: float = 5.0


@dataclass
class Runbook:
    name: str
    steps: Sequence[Step]
    clock: Clock = field(default_factory=Clock)

    def run(self, audit: AuditLog) -> list[dict[str, Any]]:
        """Each step in order; stops at the first that fails. Returns the audit lines."""
        apply = not audit.dry_run
        for step in self.steps:
            if step.done():
                audit.record(step.name, "already-done", summary=step.summary)
                continue
            try:
                facts = step.precondition(apply) if step.precondition else {}
            except OpsError as refused:  # refused, or the state could not be read: nothing changed
                audit.record(step.name, "refused", summary=step.summary, reason=str(refused))
                if isinstance(refused, PreconditionFailed):
                    raise
                raise PreconditionFailed(str(refused)) from refused
            if not apply:
                audit.record(step.name, "would-apply", summary=step.summary, **facts)
                continue
            audit.record(step.name, "applying", summary=step.summary, **facts)
            try:
                step.action()
                wait_until(
                    step.done,
                    step.settle_seconds,
                    f"{step.name}: {step.summary}",
                    step.interval_seconds,
                    self.clock,
                )
            except Exception as failed:  # a cloud API's refusal included: say it, stop here
                reason = str(failed) if isinstance(failed, OpsError) else f"{type(failed).__name__}: {failed}"
                audit.record(step.name, "failed", reason=reason)
                raise StepFailed(f"step {step.name!r} failed: {reason}") from failed
            audit.record(step.name, "applied", summary=step.summary)
        return audit.lines
