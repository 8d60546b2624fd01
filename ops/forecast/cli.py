"""`ops forecast FILE --horizon N` and `ops forecast-replay [FILE]`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from ops import arguments as argtypes
from ops.forecast.model import MIN_INTERVAL, Forecaster
from ops.forecast.replay import NYC_TAXI

# The longest history (and so horizon) any supported interval has: four weeks of minutes.
MAX_HORIZON = Forecaster.for_interval(MIN_INTERVAL).max_steps


def register(groups: Any) -> None:
    forecast = groups.add_parser(
        "forecast",
        help="forecast the next N points of a series (CSV timestamp,forecast on stdout)",
        description="Forecasts the N points after the last one of FILE, at its interval, with daily and weekly "
        "seasonality (a median profile over the last 4 weeks, robust to outliers and holidays). "
        "See also `ops forecast-replay`: the predictive-scaling replay.",
    )
    forecast.add_argument("file", type=Path, metavar="FILE", help="CSV with the header timestamp,value; - for stdin")
    forecast.add_argument(
        "--horizon",
        type=argtypes.count(1, MAX_HORIZON),
        required=True,
        metavar="N",
        help="how many points to forecast: 1 to 4 weeks of points at the series' interval",
    )
    forecast.set_defaults(run=_forecast)

    replay = groups.add_parser(
        "forecast-replay",
        help="replay a demand series through the forecaster and a scaling simulator (one JSON line)",
        description="Predictive scaling (ceil(max(forecast over the lead time, current load) / capacity)) "
        "against a reactive HPA-like autoscaler on the same demand: capacity ready before load rises, "
        "over-provisioning, and the predictive scaling accuracy (see ops/forecast/replay.py).",
    )
    replay.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=NYC_TAXI,
        metavar="FILE",
        help="CSV with the header timestamp,value (the vendored NAB nyc_taxi series in a source checkout)",
    )
    replay.add_argument(
        "--capacity",
        type=argtypes.number(0, above=True),
        metavar="LOAD",
        help="the load one replica serves (the peak / 20)",
    )
    replay.add_argument(
        "--startup-seconds",
        type=argtypes.seconds(0, 6 * 3600),
        default=300,
        metavar="S",
        help="how long a new replica takes to be ready (300)",
    )
    replay.add_argument("--min-replicas", type=argtypes.count(0, 10_000), default=1, metavar="N", help="(1)")
    replay.add_argument(
        "--max-replicas", type=argtypes.count(1, 10_000), default=100, metavar="N", help="the cost cap (100)"
    )
    replay.add_argument(
        "--warmup-days",
        type=argtypes.count(1, 365),
        default=35,
        metavar="DAYS",
        help="days that only teach the forecaster (35)",
    )
    replay.set_defaults(run=_replay)


def _forecast(arguments: argparse.Namespace) -> int:
    from ops.series import SeriesError, format_time, read_series, write_csv

    series = read_series(arguments.file)
    forecaster = _forecaster(arguments.file, series)
    if len(series) < forecaster.minimum_history:
        raise SeriesError(
            f"{arguments.file}: {len(series)} points; expected at least {forecaster.minimum_history} "
            f"(one day at {_minutes(series)} min a point) to learn the daily pattern from"
        )
    if arguments.horizon > forecaster.max_steps:
        raise SeriesError(
            f"--horizon {arguments.horizon}; expected 1 to {forecaster.max_steps} "
            f"(4 weeks at {_minutes(series)} min a point): further ahead it would only repeat its weekly profile"
        )
    for value in series.values:
        forecaster.update(value)
    predicted = forecaster.forecast(arguments.horizon)
    rows = ((format_time(series, series.time(len(series) + step)), value) for step, value in enumerate(predicted))
    write_csv(("timestamp", "forecast"), rows, sys.stdout)
    return 0


def _minutes(series: Any) -> str:
    return f"{series.interval.total_seconds() / 60:g}"


def _forecaster(path: Path, series: Any) -> Forecaster:
    from ops.series import SeriesError

    try:
        return Forecaster.for_interval(series.interval)
    except ValueError as unsupported:
        raise SeriesError(f"{path}: {unsupported}") from None


def _replay(arguments: argparse.Namespace) -> int:
    from ops.forecast.replay import Scaling, default_capacity, replay
    from ops.series import SeriesError, read_series

    series = read_series(arguments.file)
    _forecaster(arguments.file, series)
    if arguments.capacity is None and max(series.values) <= 0:
        raise SeriesError(f"{arguments.file}: no positive demand to size replicas from; expected --capacity")
    try:
        scaling = Scaling(
            capacity=arguments.capacity or default_capacity(series.values),
            startup=timedelta(seconds=arguments.startup_seconds),
            min_replicas=arguments.min_replicas,
            max_replicas=arguments.max_replicas,
            warmup=timedelta(days=arguments.warmup_days),
        )
        report = replay(series.values, series.interval, scaling)
    except ValueError as problem:
        raise SeriesError(f"{arguments.file}: {problem}") from None
    print(json.dumps(report, sort_keys=True))
    return 0
