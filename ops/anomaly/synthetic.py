"""The platform's own incidents, synthesised: request rate, latency and error ratio of the
API at a 5-minute interval with daily and weekly seasonality, and labelled incidents
injected into them (spikes, level shifts, slow drifts, latency regressions, error bursts).
Seeded, so the benchmark and the tests see the same series every run."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

INTERVAL = timedelta(minutes=5)
DAY = 288  # points
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
# The tail after an incident that still counts as it: the recovery edge is part of it.
TAIL = 6


@dataclass(frozen=True)
class Labelled:
    name: str
    values: list[float]
    windows: list[tuple[int, int]]  # incidents as [first, last] point indices


def load(hour: float, weekday: int) -> float:
    """The API's traffic as a fraction of its weekday peak: quiet nights, busy afternoons, slower weekends."""
    daily = 0.575 - 0.425 * math.cos(2 * math.pi * (hour - 3) / 24)
    return daily * (0.6 if weekday >= 5 else 1.0)


def clean(metric: str, days: int, seed: int) -> list[float]:
    """A metric without incidents: 'requests' (req/s), 'latency' (p95 seconds) or 'errors' (ratio)."""
    rng = random.Random(seed)
    peak = rng.uniform(80, 400)
    values = []
    for index in range(days * DAY):
        moment = START + index * INTERVAL
        share = load(moment.hour + moment.minute / 60, moment.weekday())
        rate = peak * share
        if metric == "requests":
            # Counting noise of a 5-minute rate, and the burstiness of real clients.
            value = rate + rng.gauss(0, math.sqrt(rate * 300) / 300) + rate * rng.gauss(0, 0.03)
        elif metric == "latency":
            value = (0.12 + 0.05 * share) * math.exp(rng.gauss(0, 0.06))
        else:
            requests = rate * 300
            errors = max(0.0, rng.gauss(0.002 * requests, math.sqrt(0.002 * requests)))
            value = errors / requests
        values.append(max(0.0, value))
    return values


INCIDENTS = {
    "requests": ("spike", "drop", "surge"),
    "latency": ("spike", "regression", "drift"),
    "errors": ("burst", "spike", "regression"),
}


def incident(values: list[float], kind: str, start: int, rng: random.Random) -> int:
    """Inject one incident of `kind` at `start`; its last point."""
    if kind == "spike":
        length, shape = rng.randint(1, 2), lambda _: rng.uniform(2.0, 3.0)
    elif kind == "drop":  # a level shift down: a region or a client gone
        length, factor = rng.randint(24, 72), rng.uniform(0.4, 0.6)
        shape = lambda _: factor  # noqa: E731
    elif kind == "surge":  # a slow drift up: a new client ramping its traffic
        length = rng.randint(48, 96)
        shape = lambda step: 1 + 0.8 * min(1.0, step / (0.75 * length))  # noqa: E731
    elif kind == "regression":  # a bad release: a step that stays until the rollback
        length, factor = rng.randint(24, 60), rng.uniform(1.5, 2.0)
        shape = lambda _: factor  # noqa: E731
    elif kind == "drift":  # latency creeping up: a leak, a growing table
        length = rng.randint(60, 120)
        shape = lambda step: 1 + 0.8 * step / length  # noqa: E731
    else:  # an error burst: a dependency failing for a few minutes
        length, level = rng.randint(2, 6), rng.uniform(0.02, 0.08)
        shape = lambda _: level / 0.002  # noqa: E731
    for step in range(length):
        values[start + step] *= shape(step)
    return start + length - 1


def series(metric: str, days: int, seed: int, count: int) -> Labelled:
    """`count` incidents injected after the first week (the warm-up) of a clean metric."""
    values = clean(metric, days, seed)
    rng = random.Random(seed + 1)
    slots = sorted(rng.sample(range(7 * DAY // 150, (days * DAY - 150) // 150), count))
    windows = []
    for slot in slots:
        start = slot * 150 + rng.randint(0, 20)
        last = incident(values, rng.choice(INCIDENTS[metric]), start, rng)
        windows.append((start, min(len(values) - 1, last + TAIL)))
    return Labelled(f"{metric}-{seed}", values, windows)


def suite(days: int = 28, per_metric: int = 2, incidents: int = 5) -> list[Labelled]:
    return [
        series(metric, days, seed=11 * number + offset, count=incidents)
        for offset, metric in enumerate(INCIDENTS)
        for number in range(1, per_metric + 1)
    ]
