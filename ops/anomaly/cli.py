"""`ops anomalies FILE.csv`: score every point of a series as the anomaly service would
live, each from the points before it only, and print `timestamp,value,score,anomaly`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ops.anomaly.detector import METHODS, Config


def register(groups: Any) -> None:
    defaults = Config()
    command = groups.add_parser(
        "anomalies",
        help="online anomaly scores of a timestamp,value CSV series",
        description=__doc__,
    )
    command.add_argument(
        "file", type=Path, metavar="FILE.csv", help="header timestamp,value at a regular interval; - for stdin"
    )
    command.add_argument("--method", choices=METHODS, default=defaults.method, help=f"({defaults.method})")
    command.add_argument(
        "--threshold",
        type=float,
        default=defaults.threshold,
        help=f"robust z-score an anomaly passes, 1 to 1000 ({defaults.threshold:g})",
    )
    command.add_argument(
        "--season",
        choices=("auto", "day", "week", "none"),
        default="auto",
        help="seasonal baseline (auto: a week when the interval allows)",
    )
    command.add_argument(
        "--seasons",
        type=int,
        default=defaults.seasons,
        help=f"past seasons the baseline is the median of, 2 to 8 ({defaults.seasons})",
    )
    command.add_argument("--warmup", type=int, help="points before the first alarm (two days' residual window, halved)")
    command.add_argument("--cooldown", type=int, help="points after an alarm event before the next (an hour)")
    command.add_argument(
        "--fixed-threshold",
        action="store_true",
        help="do not raise the threshold for a series whose ordinary scores run high",
    )
    command.set_defaults(run=_run)


def _run(arguments: argparse.Namespace) -> int:
    from ops.anomaly.detector import Detector
    from ops.series import SeriesError, read_series, write_csv

    options = {
        "method": arguments.method,
        "threshold": arguments.threshold,
        "season": arguments.season,
        "seasons": arguments.seasons,
        "adaptive": not arguments.fixed_threshold,
    }
    options.update(
        {name: getattr(arguments, name) for name in ("warmup", "cooldown") if getattr(arguments, name) is not None}
    )
    series = read_series(arguments.file)
    try:
        detector = Detector.for_interval(series.interval, **options)
    except ValueError as problem:
        raise SeriesError(f"{problem} (for a series at a {series.interval} interval)") from None
    rows = ((label, value, *detector.update(value)) for label, value in zip(series.labels, series.values, strict=True))
    write_csv(("timestamp", "value", "score", "anomaly"), ((t, v, s, int(a)) for t, v, s, a in rows), sys.stdout)
    return 0
