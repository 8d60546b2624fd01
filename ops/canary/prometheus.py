"""The canary's and the baseline's samples from Prometheus's HTTP API: one instant query
each for latency buckets, requests and errors, over the same window, so both arms are
measured over exactly the same time."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from components.api_metrics import LATENCY, PROBE_ROUTES, REQUESTS
from ops.canary.judge import Arm
from ops.steps import OpsError

HASH_LABEL = "rollouts_pod_template_hash"
POD_HASH = re.compile(r"[a-z0-9]{1,20}")
NAMESPACE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


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


class Prometheus:
    def __init__(self, address: str, timeout_seconds: float = 10.0, transport: Any = None) -> None:
        import httpx

        self.address = address.rstrip("/")
        # What messages show: never a user:password in the address.
        parts = urlsplit(self.address)
        self.shown = urlunsplit(parts._replace(netloc=parts.hostname or "")) if parts.password else self.address
        self.client = httpx.Client(timeout=timeout_seconds, transport=transport)

    def close(self) -> None:
        self.client.close()

    def _vector(self, query: str, at: float | None) -> list[dict[str, Any]]:
        import httpx

        params = {"query": query, **({"time": f"{at:.3f}"} if at is not None else {})}
        try:
            response = self.client.get(f"{self.address}/api/v1/query", params=params)
        except httpx.HTTPError as error:
            raise OpsError(f"Prometheus at {self.shown} did not answer: {type(error).__name__}") from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            raise OpsError(f"Prometheus refused the query ({response.status_code}): {body.get('error', 'no JSON')}")
        data = body.get("data", {})
        if data.get("resultType") != "vector":
            raise OpsError(f"Prometheus answered a {data.get('resultType')!r}, not a vector")
        return data.get("result", [])

    def _scalar(self, query: str, at: float | None) -> int:
        result = self._vector(query, at)
        return _count(result[0]["value"][1]) if result else 0

    def arm(self, namespace: str, pod_hash: str, window_seconds: int, at: float | None = None) -> Arm:
        """One version's requests over the window ending `at` (Prometheus's now if None):
        give both arms the same `at`, so they cover the same time."""
        asked = queries(namespace, pod_hash, window_seconds)
        cumulative = sorted(
            (
                (_bound(series["metric"].get("le", "")), _count(series["value"][1]))
                for series in self._vector(asked["buckets"], at)
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
