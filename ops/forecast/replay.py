"""The predictive-scaling replay: a real demand series through the forecaster and a scaling
simulator, against a reactive HPA-like autoscaler on the same series.

Time moves in the series' steps; demand is taken as constant within a step. At the end of
each step both autoscalers decide a replica count, bounded by the minimum and maximum:
  reactive    ceil(demand of the step just seen / capacity per replica), as the HPA does;
  predictive  ceil(max(forecast over the lead time, demand just seen) / capacity): the
              forecast scales ahead of load, the current load is its floor (what the KEDA
              ScaledObject does with its two triggers).
Removing a pod is immediate; a new pod serves from the first step that starts at least
`startup` after it was asked for (a pod half-ready in a step counts for nothing). The lead
time is that delay plus one step: what is asked for now must cover the step when it is ready.
The forecaster learns online, one step at a time, as the service does; the first
`warmup` days only teach it and are not scored.

Reported (one JSON line, predictive and reactive side by side):
  covered_share            steps in which ready capacity >= demand;
  rises_ready_share        of the steps where the replicas needed rise above the step
                           before's need (a load rise), the share that found them ready;
  over_provisioning_pct    replica-hours above need, as % of the replica-hours needed;
  shortfall_pct            replica-hours missing, as % of the replica-hours needed;
  replica_hours            the cost;
  accuracy                 the predictive scaling accuracy (the issue's KPI, target > 85%):
                           the share of steps whose ready replicas are enough for the demand
                           and at most 25% (and at least one replica) above what it needed;
                           "enough but not wasteful" -- covered alone is bought by overscaling.
and the forecast's own accuracy at the lead time (sMAPE %, share within 10%).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ops.forecast.model import Forecaster

NYC_TAXI = Path(__file__).resolve().parent.parent / "benchdata" / "nab" / "realKnownCause" / "nyc_taxi.csv"
# An accurate step has at most this much above need (and always one replica of slack).
ACCURATE_SLACK = 1.25


@dataclass(frozen=True)
class Scaling:
    capacity: float  # the load one ready replica serves
    startup: timedelta = timedelta(minutes=5)
    min_replicas: int = 1
    max_replicas: int = 100
    warmup: timedelta = timedelta(days=35)

    def __post_init__(self) -> None:
        if not math.isfinite(self.capacity) or self.capacity <= 0:
            raise ValueError(f"capacity per replica {self.capacity}; expected a positive number")
        if not timedelta(0) <= self.startup <= timedelta(hours=6):
            raise ValueError(f"startup {self.startup}; expected 0 to 6 hours")
        if not 0 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"replicas {self.min_replicas} to {self.max_replicas}; expected 0 <= minimum <= maximum")

    def replicas(self, load: float) -> int:
        return min(self.max_replicas, max(self.min_replicas, math.ceil(load / self.capacity)))


def replay(values: Sequence[float], interval: timedelta, scaling: Scaling) -> dict[str, Any]:
    """The report described in the module docstring, for `values` at `interval`."""
    forecaster = Forecaster.for_interval(interval)
    delay = math.ceil(scaling.startup / interval)
    lead = delay + 1  # a decision after step s is ready from step s + lead
    start = max(scaling.warmup // interval, forecaster.minimum_history + lead)
    if any(value < 0 for value in values):
        raise ValueError("a negative demand; expected a load (requests per second, say) of 0 or more")
    if len(values) <= start + lead:
        raise ValueError(
            f"{len(values)} points; expected more than {start + lead}: the warm-up "
            f"({scaling.warmup / timedelta(days=1):g} days, at least one) and steps to score"
        )
    # Indexed by the step each decision was made after (None before the first decision).
    predictive: list[int | None] = [None] * len(values)
    reactive: list[int | None] = [None] * len(values)
    # The forecast for each step, made when its pods had to be asked for.
    forecast_for: list[float | None] = [None] * (len(values) + lead)
    for step, value in enumerate(values):
        forecaster.update(value)
        if step < start - lead:
            continue
        ahead = forecaster.forecast(lead)
        forecast_for[step + lead] = ahead[-1]
        predictive[step] = scaling.replicas(max(*ahead, value))
        reactive[step] = scaling.replicas(value)
    scored = range(start, len(values))
    need = [math.ceil(values[t] / scaling.capacity) for t in scored]
    if not any(need):
        raise ValueError("no demand after the warm-up; expected some load to scale for")
    return {
        "steps": len(need),
        "interval_minutes": interval.total_seconds() / 60,
        "startup_minutes": scaling.startup.total_seconds() / 60,
        "lead_minutes": lead * interval.total_seconds() / 60,
        "capacity_per_replica": scaling.capacity,
        # Ready in step t: what every decision since the one after step t - lead kept (LIFO scale-down).
        "predictive": _outcome(need, [min(predictive[t - lead : t]) for t in scored], interval),
        "reactive": _outcome(need, [min(reactive[t - lead : t]) for t in scored], interval),
        "forecast": _forecast_accuracy([values[t] for t in scored], [forecast_for[t] for t in scored]),
    }


def _outcome(need: Sequence[int], ready: Sequence[int], interval: timedelta) -> dict[str, float]:
    hours = interval.total_seconds() / 3600
    needed = sum(need)
    rises = [t for t in range(1, len(need)) if need[t] > need[t - 1]]
    return {
        "covered_share": _share(ready[t] >= need[t] for t in range(len(need))),
        "rises": len(rises),
        "rises_ready_share": _share(ready[t] >= need[t] for t in rises),
        "over_provisioning_pct": round(100 * sum(max(0, r - n) for r, n in zip(ready, need, strict=True)) / needed, 2),
        "shortfall_pct": round(100 * sum(max(0, n - r) for r, n in zip(ready, need, strict=True)) / needed, 2),
        "replica_hours": round(sum(ready) * hours, 1),
        "accuracy": _share(_accurate(n, r) for n, r in zip(need, ready, strict=True)),
    }


def _accurate(need: int, ready: int) -> bool:
    return need <= ready <= max(need + 1, math.ceil(need * ACCURATE_SLACK))


def _forecast_accuracy(actual: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    pairs = list(zip(actual, predicted, strict=True))
    smape = [2 * abs(a - p) / (abs(a) + abs(p)) if a or p else 0.0 for a, p in pairs]
    return {
        "smape_pct": round(100 * sum(smape) / len(smape), 2),
        "within_10pct_share": _share(abs(p - a) <= 0.1 * abs(a) for a, p in pairs),
    }


def _share(flags: Any) -> float:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else math.nan


def default_capacity(values: Sequence[float], replicas_at_peak: int = 20) -> float:
    """A capacity per replica that makes the series' peak need `replicas_at_peak` replicas."""
    return max(values) / replicas_at_peak
