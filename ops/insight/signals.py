"""The four signals the service learns, as PromQL over the API's own metric names
(components/api_metrics.py), and how one instant answer becomes one number.

An answer with no series, or NaN (no requests in the window: no latency, no error ratio),
is no data: there is nothing to learn from it, and it is not Prometheus failing. Anything
else that is not one finite number is an answer the service cannot read (AnswerError).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components.api_metrics import LATENCY, PROBE_ROUTES, REQUESTS
from ops.prometheus import NAMESPACE, Prometheus

# The rate window the API's rules and dashboards use: the service learns the series they show.
WINDOW = "5m"
# The API's container in its pods (components/workload/pod.py).
API_CONTAINER = "api"


class AnswerError(ValueError):
    """Prometheus answered, but not one number the service can learn from."""


@dataclass(frozen=True)
class Signal:
    name: str
    query: str


def signals(namespace: str) -> tuple[Signal, ...]:
    if not NAMESPACE.fullmatch(namespace):
        raise ValueError(f"{namespace!r} is not a namespace name")
    api = f'namespace="{namespace}",route!~"{PROBE_ROUTES}"'
    pods = f'namespace="{namespace}",container="{API_CONTAINER}"'
    total = f"sum(rate({REQUESTS}{{{api}}}[{WINDOW}]))"
    # `or vector(0)`: with no 5xx series at all the ratio is 0, not "no data".
    errors = f'(sum(rate({REQUESTS}{{{api},status=~"5.."}}[{WINDOW}])) or vector(0))'
    return (
        Signal("requests_per_second", total),
        Signal(
            "latency_p99_seconds",
            f"histogram_quantile(0.99, sum by (le) (rate({LATENCY}_bucket{{{api}}}[{WINDOW}])))",
        ),
        Signal("error_ratio", f"{errors} / {total}"),
        # CPU used over the CPU the API's containers may use (their limits, kube-state-metrics).
        Signal(
            "cpu_saturation",
            f"sum(rate(container_cpu_usage_seconds_total{{{pods}}}[{WINDOW}])) / "
            f'sum(kube_pod_container_resource_limits{{{pods},resource="cpu"}})',
        ),
    )


SIGNAL_NAMES = tuple(signal.name for signal in signals("x"))


def value(series: list[dict[str, Any]]) -> float | None:
    """The one number of an aggregated query's answer; None when there is no data."""
    if not series:
        return None
    if len(series) != 1:
        raise AnswerError(f"{len(series)} series where one aggregate was expected")
    sample = series[0].get("value") if isinstance(series[0], dict) else None
    if not isinstance(sample, list) or len(sample) != 2 or not isinstance(sample[1], str):
        raise AnswerError(f'a sample that is not [time, "number"]: {str(sample)[:80]!r}')
    try:
        number = float(sample[1])
    except ValueError:
        raise AnswerError(f"a sample value that is not a number: {sample[1][:80]!r}") from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise AnswerError(f"an infinite sample value ({sample[1]})")
    return number


def read(prometheus: Prometheus, signal: Signal, at: float) -> float | None:
    """The signal at `at`: OpsError when Prometheus cannot answer, AnswerError when its
    answer is unreadable, None for no data."""
    return value(prometheus.vector(signal.query, at))
