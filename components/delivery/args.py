"""How a release reaches users: all at once (rolling), by traffic share (canary), or by
switching between two full sets of pods (blue-green)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Strategy = Literal["rolling", "canary", "blueGreen"]


@dataclass(frozen=True)
class AnalysisArgs:
    prometheus_address: str
    min_success_rate: float = 0.99
    max_p99_latency_seconds: float = 1.0
    interval_seconds: int = 60
    count: int = 5
    failure_limit: int = 1
    inconclusive_limit: int = 2


@dataclass(frozen=True)
class CanaryArgs:
    weights: tuple[int, ...] = (10, 50)
    pause_seconds: int = 60


@dataclass(frozen=True)
class BlueGreenArgs:
    auto_promotion: bool = False
    scale_down_delay_seconds: int = 600
    # Secret holding an API key (key `api-key`) for the smoke test's real request.
    smoke_test_secret_name: str = "project-ai-api-smoke-test"
    smoke_test_image: str = "curlimages/curl:8.11.1"


@dataclass(frozen=True)
class DeliveryArgs:
    analysis: AnalysisArgs
    strategy: Strategy = "rolling"
    canary: CanaryArgs = CanaryArgs()
    blue_green: BlueGreenArgs = BlueGreenArgs()
    rollback_window_revisions: int = 3
    migration_deadline_seconds: int = 900
