"""How a release reaches users: all at once (rolling), by traffic share (canary), or by
switching between two full sets of pods (blue-green)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
class JudgeArgs:
    """The statistical canary judge (components/delivery/judge.py): the ops image serving
    `ops canary serve`, which the `statistical-judge` AnalysisTemplate asks."""

    # The ops image, pinned by digest.
    image: str
    # Where the Rollouts controller (its only caller) and Prometheus (its only upstream) run.
    rollouts_namespace: str
    prometheus_namespace: str
    prometheus_port: int = 9090
    prometheus_labels: dict[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    rollouts_labels: dict[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "argo-rollouts"})
    port: int = 8080
    # The ops image's user (ops/Dockerfile).
    run_as_user: int = 10001
    replicas: int = 1
    timeout_seconds: int = 30


@dataclass(frozen=True)
class CanaryArgs:
    weights: tuple[int, ...]
    pause_seconds: int
    # With Istio routing: a share (percent) of safe requests mirrored to the canary in
    # these steps (1 for the first weight); None, no mirroring.
    mirror_percent: int | None = None
    mirror_steps: tuple[int, ...] = ()
    # The statistical judge as one more analysis of every step; None, thresholds alone.
    judge: JudgeArgs | None = None


@dataclass(frozen=True)
class BlueGreenArgs:
    auto_promotion: bool
    scale_down_delay_seconds: int
    # Secret holding an API key (key `api-key`) for the smoke test's real request.
    smoke_test_secret_name: str
    # The ops image (`ops smoke`), by digest: the blue-green strategy needs it.
    smoke_test_image: str | None = None


@dataclass(frozen=True)
class DeliveryArgs:
    strategy: Strategy
    analysis: AnalysisArgs
    canary: CanaryArgs
    blue_green: BlueGreenArgs
    rollback_window_revisions: int
    migration_deadline_seconds: int
