"""The canary's and the baseline's samples from Prometheus's HTTP API: one instant query
each for latency buckets, requests and errors, over the same window, so both arms are
measured over exactly the same time."""

from __future__ import annotations

import math
import re

from components.api_metrics import LATENCY, PROBE_ROUTES, REQUESTS
from ops.canary.judge import Arm
from ops.prometheus import NAMESPACE
from ops.prometheus import Prometheus as PrometheusApi
from ops.steps import OpsError

HASH_LABEL = "rollouts_pod_template_hash"
POD_HASH = re.compile(r"[a-z0-9]{1,20}")


def queries(namespace: str, pod_hash: str, window_seconds: int) -> dict[str, str]:
    if not NAMESPACE.fullmatch(namespace):
        raise ValueError(f"{namespace!r} is not a namespace name")
    if not POD_HASH.fullmatch(pod_hash):
        raise ValueError(f"{pod_hash!r} is not a pod-template hash")
    selector = f'namespace="{namespace}",{HASH_LABEL}="{pod_hash}",route!~"{PROBE_ROUTES}"'
    window = f"[{window_seconds}s]"
    return {
        "buckets": f"sum by (le) (increase({LATENCY}_bucket{{{selector}}}{window}))",
        "requests": f"sum(increase({REQUESTS}{{{selector}}}{window}))",
        "errors": f'sum(increase({REQUESTS}{{{selector},status=~"5.."}}{window}))',
    }


class Prometheus(PrometheusApi):
    """The canary's and the baseline's samples, over the shared client (ops/prometheus.py)."""

    def _scalar(self, query: str, at: float | None) -> int:
        result = self.vector(query, at)
        return _count(result[0]["value"][1]) if result else 0

    def arm(self, namespace: str, pod_hash: str, window_seconds: int, at: float | None = None) -> Arm:
        """One version's requests over the window ending `at` (Prometheus's now if None):
        give both arms the same `at`, so they cover the same time."""
        asked = queries(namespace, pod_hash, window_seconds)
        cumulative = sorted(
            (
                (_bound(series["metric"].get("le", "")), _count(series["value"][1]))
                for series in self.vector(asked["buckets"], at)
            ),
        )
        # Cumulative bucket counts into per-bucket counts; increase() extrapolates, so a
        # later bucket can come out a hair below an earlier one: never below zero.
        buckets, below = [], 0
        for _, count in cumulative:
            buckets.append(max(count - below, 0))
            below = max(below, count)
        bounds = tuple(bound for bound, _ in cumulative)
        return Arm(tuple(buckets), self._scalar(asked["requests"], at), self._scalar(asked["errors"], at), bounds)


def _bound(le: str) -> float:
    try:
        return math.inf if le == "+Inf" else float(le)
    except ValueError:
        raise OpsError(f"a latency bucket with le={le!r}") from None


def _count(value: str) -> int:
    number = float(value)
    return 0 if math.isnan(number) else round(number)
