from __future__ import annotations

import io

import pytest

from ops.audit import AuditLog
from ops.steps import Clock


class FakeClock:
    """Time that moves only when the code under test sleeps: polling is exercised to its
    deadline without waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def clock(self) -> Clock:
        return Clock(self.monotonic, self.sleep)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def audit(dry_run: bool) -> AuditLog:
    return AuditLog("test", dry_run=dry_run, stream=io.StringIO(), clock=lambda: "t")
