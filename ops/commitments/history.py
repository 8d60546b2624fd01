"""Hourly usage histories: a `timestamp,value` CSV (ops/series.py) averaged into whole
hours, or Prometheus's range query at a one-hour step (node counts by instance type).
At least 14 days, without a gap: a commitment runs for a year or three, and a hole in
the history would read as an hour of no usage, which it was not."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ops.prometheus import Prometheus
from ops.series import SeriesError, read_series
from ops.steps import OpsError

HOUR = timedelta(hours=1)
MIN_DAYS = 14
MIN_HOURS = MIN_DAYS * 24
# Three years of hours: the longest term; more history than that says nothing more.
MAX_HOURS = 3 * 366 * 24
# OpenCost's per-node price gauge: one series per node with its instance type, present in
# every cluster with OpenCost (cost.opencost.enabled).
DEFAULT_QUERY = "count by (instance_type) (node_total_hourly_cost)"
DEFAULT_TYPE_LABEL = "instance_type"


@dataclass(frozen=True)
class History:
    # Total on-demand USD per hour, and (where known) the same per instance type.
    hourly: tuple[float, ...]
    by_type: Mapping[str, tuple[float, ...]]
    source: str
    # USD/h of one node, where the history counts nodes of one type.
    unit_price: float | None = None


def from_csv(path: Path, price: float | None) -> History:
    """USD/h, or node counts of one type at `price` USD/h each; averaged into whole hours."""
    series = read_series(path)
    origin = "stdin" if str(path) == "-" else str(path)
    if series.interval > HOUR or HOUR % series.interval:
        raise SeriesError(f"{origin}: points every {series.interval}; expected an interval that divides an hour")
    per_hour = HOUR // series.interval
    whole = len(series) // per_hour
    hours = [sum(series.values[i * per_hour : (i + 1) * per_hour]) / per_hour for i in range(whole)]
    if any(value < 0 for value in series.values):
        line = next(i for i, value in enumerate(series.values) if value < 0) + 2
        raise SeriesError(f"{origin}:{line}: a negative value; expected usage (USD/h or a node count) of 0 or more")
    _enough(len(hours), origin)
    if len(hours) > MAX_HOURS:
        hours = hours[-MAX_HOURS:]
    scaled = tuple(h * price for h in hours) if price is not None else tuple(hours)
    return History(scaled, {}, origin, price)


def _enough(hours: int, origin: str) -> None:
    if hours < MIN_HOURS:
        raise SeriesError(
            f"{origin}: {hours} hours ({hours / 24:.1f} days) of usage; expected at least {MIN_DAYS} days "
            f"({MIN_HOURS} hours), better 30 to 90, before committing for a year"
        )


def from_prometheus(
    prometheus: Prometheus,
    query: str,
    type_label: str,
    days: int,
    price_of: Callable[[str], float],
    now: float | None = None,
) -> History:
    """Node counts by instance type at each whole hour of the last `days` days, priced."""
    end = math.floor((time.time() if now is None else now) / 3600) * 3600
    start = end - (days * 24 - 1) * 3600
    series = prometheus.matrix(query, start, end, 3600)
    if not series:
        raise OpsError(
            f"Prometheus returned nothing for {query} over {days} days; it needs OpenCost's node_total_hourly_cost "
            "(cost.opencost.enabled) or a --query that counts nodes by instance type"
        )
    stamps = [start + i * 3600 for i in range(days * 24)]
    counts: dict[str, list[float]] = {}
    seen: set[float] = set()
    for item in series:
        metric = item.get("metric") if isinstance(item.get("metric"), dict) else {}
        kind = metric.get(type_label)
        if not kind:
            raise OpsError(f"a series of {query} has no {type_label!r} label; expected node counts by instance type")
        column = counts.setdefault(kind, [0.0] * len(stamps))
        for moment, value in _points(item):
            index = round((moment - start) / 3600)
            if not 0 <= index < len(stamps):
                continue
            if not math.isfinite(value) or value < 0:
                raise OpsError(f"{kind} at {_iso(moment)}: {value}; expected a node count")
            column[index] += value
            seen.add(index)
    missing = [i for i in range(len(stamps)) if i not in seen]
    if missing:
        first = stamps[missing[0]]
        raise SeriesError(
            f"Prometheus has no nodes at {len(missing)} of the {len(stamps)} hours (the first {_iso(first)}); "
            "expected a history without gaps: a shorter --days, or a CSV of the bill's hours"
        )
    _enough(len(stamps), "Prometheus")
    by_type = {kind: tuple(n * price_of(kind) for n in column) for kind, column in sorted(counts.items())}
    total = tuple(sum(values) for values in zip(*by_type.values(), strict=True))
    return History(total, by_type, f"{prometheus.shown} ({query})")


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _points(item: dict[str, Any]) -> list[tuple[float, float]]:
    values = item.get("values")
    if not isinstance(values, list):
        raise OpsError("Prometheus answered a matrix series without values")
    points = []
    for pair in values:
        if not isinstance(pair, list) or len(pair) != 2:
            raise OpsError("Prometheus answered a point that is not [time, value]")
        try:
            points.append((float(pair[0]), float(pair[1])))
        except (TypeError, ValueError):
            raise OpsError(f"Prometheus answered a point that is not a number: {pair!r}") from None
    return points
