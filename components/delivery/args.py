"""How a release reaches users: all at once (rolling), by traffic share (canary), or by
switching between two full sets of pods (blue-green)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Strategy = Literal["rolling", "canary", "blueGreen"]


@dataclass(frozen=True)
class AnalysisArgs:
    prometheus_address: str
    min_success_rate: float
    max_p99_latency_seconds: float
    interval_seconds: int
    count: int
    failure_limit: int
    inconclusive_limit: int


@dataclass(frozen=True)
class CanaryArgs:
    weights: tuple[int, ...]
    pause_seconds: int


@dataclass(frozen=True)
class BlueGreenArgs:
    auto_promotion: bool
    scale_down_delay_seconds: int
    # Secret holding an API key (key `api-key`) for the smoke test's real request.
    smoke_test_secret_name: str
    smoke_test_image: str = "curlimages/curl:8.11.1"


@dataclass(frozen=True)
class DeliveryArgs:
    strategy: Strategy
    analysis: AnalysisArgs
    canary: CanaryArgs
    blue_green: BlueGreenArgs
    rollback_window_revisions: int
    migration_deadline_seconds: int
