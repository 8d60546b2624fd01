"""`python -m ops.anomaly.bench [--quick]`: the anomaly detector's candidates scored on
NAB's labelled series (ops/benchdata/nab) and on the platform's synthetic incidents.

Per candidate and data set it prints alarm precision, window recall, event-level F1 and
point accuracy, then the chosen candidate (best mean event F1). Definitions:
- alarms closer than an hour are one alarm event; an event is a true alarm if it touches
  a labelled window, and a window is found if an alarm falls inside it;
- as NAB does, the first 15% of each series is probation: its alarms are not counted;
- point accuracy is the share of scored points whose 0/1 matches the label (the labels
  are rare, so "never alarm" already scores high: read it next to recall).
NAB files have gaps and a few repeated timestamps; they go onto their interval's grid and
gaps are fed as missing points (NaN), as the service sees failed scrapes.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from ops.anomaly import synthetic
from ops.anomaly.detector import Detector

NAB = Path(__file__).resolve().parent.parent / "benchdata" / "nab"
PROBATION = 0.15


@dataclass(frozen=True)
class Labelled:
    name: str
    interval: timedelta
    values: list[float]  # NaN where a point is missing
    windows: list[tuple[int, int]]


class Flagger(Protocol):
    def update(self, value: float) -> tuple[float, bool]: ...


@dataclass(frozen=True)
class Candidate:
    name: str
    make: Callable[[timedelta], Flagger]


def detector(**options: Any) -> Callable[[timedelta], Flagger]:
    return lambda interval: Detector.for_interval(interval, **options)


CANDIDATES = (
    Candidate("seasonal-day", detector(method="seasonal", season="day", adaptive=False, cooldown=0)),
    Candidate("seasonal-week", detector(method="seasonal", adaptive=False, cooldown=0)),
    Candidate("spike", detector(method="spike", adaptive=False, cooldown=0)),
    Candidate("spike+adaptive", detector(method="spike", cooldown=0)),
    Candidate("ensemble", detector(adaptive=False, cooldown=0)),
    Candidate("ensemble+adaptive", detector(cooldown=0)),
    Candidate("ensemble+adaptive+cooldown", detector()),  # the detector's defaults
)


class HalfSpaceTrees:
    """river's online isolation forest on min-max scaled values (a benchmark-only dependency)."""

    WARMUP = 250  # its window: scores before the first full window mean nothing

    def __init__(self, interval: timedelta) -> None:
        from river import anomaly, compose, preprocessing

        self.model = compose.Pipeline(
            preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(n_trees=25, height=10, window_size=self.WARMUP, seed=1)
        )
        self.seen = 0

    def update(self, value: float) -> tuple[float, bool]:
        if math.isnan(value):
            return math.nan, False
        features = {"value": value}
        score = self.model.score_one(features)
        self.model.learn_one(features)
        self.seen += 1
        return score, self.seen > self.WARMUP and score > 0.9


def nab_series(names: Sequence[str] | None = None) -> list[Labelled]:
    windows = json.loads((NAB / "combined_windows.json").read_text())
    return [_nab_file(name, windows[name]) for name in sorted(windows) if names is None or name in names]


def _nab_file(name: str, windows: list[list[str]]) -> Labelled:
    with (NAB / name).open(newline="") as stream:
        rows = [(datetime.fromisoformat(row["timestamp"]), float(row["value"])) for row in csv.DictReader(stream)]
    steps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(rows)]
    interval = max(set(steps), key=steps.count)
    start = rows[0][0]
    values = [math.nan] * (round((rows[-1][0] - start) / interval) + 1)
    for moment, value in rows:
        index = round((moment - start) / interval)
        if index >= 0 and math.isnan(values[index]):  # a repeated timestamp keeps its first value
            values[index] = value
    spans = [
        (
            max(0, math.ceil((datetime.fromisoformat(first) - start) / interval)),
            (datetime.fromisoformat(last) - start) // interval,
        )
        for first, last in windows
    ]
    return Labelled(name, interval, values, spans)


def synthetic_series(quick: bool) -> list[Labelled]:
    made = synthetic.suite(days=10, per_metric=1, incidents=2) if quick else synthetic.suite()
    return [Labelled(s.name, synthetic.INTERVAL, s.values, s.windows) for s in made]


@dataclass
class Tally:
    windows: int = 0
    found: int = 0
    alarm_events: int = 0
    true_alarm_events: int = 0
    points: int = 0
    correct_points: int = 0
    seconds: float = 0.0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def precision(self) -> float:
        return self.true_alarm_events / self.alarm_events if self.alarm_events else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.windows if self.windows else 0.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct_points / self.points if self.points else 0.0


def score(series: Labelled, flags: Sequence[bool]) -> Tally:
    """How well `flags` (one per point) find the series' windows."""
    first = int(PROBATION * len(flags))
    label = [False] * len(flags)
    for start, end in series.windows:
        label[start : end + 1] = [True] * (end + 1 - start)
    merge = max(3, round(timedelta(hours=1) / series.interval))
    events: list[list[int]] = []
    for index in range(first, len(flags)):
        if flags[index]:
            if events and index - events[-1][1] <= merge:
                events[-1][1] = index
            else:
                events.append([index, index])
    scored = range(first, len(flags))
    return Tally(
        windows=len(series.windows),
        found=sum(any(flags[max(start, first) : end + 1]) for start, end in series.windows),
        alarm_events=len(events),
        true_alarm_events=sum(any(label[start : end + 1]) for start, end in events),
        points=len(scored),
        correct_points=sum(flags[index] == label[index] for index in scored),
    )


def run(candidate: Candidate, series: Labelled) -> Tally:
    started = time.perf_counter()
    flagger = candidate.make(series.interval)
    flags = [flagger.update(value)[1] for value in series.values]
    tally = score(series, flags)
    tally.seconds = time.perf_counter() - started
    return tally


def evaluate(
    candidates: Sequence[Candidate], datasets: dict[str, list[Labelled]], out: Callable[[str], None] = print
) -> str:
    """Print every candidate's figures per data set; the name of the best (mean event F1)."""
    out(
        f"{'candidate':28} {'data set':10} {'precision':>9} {'recall':>6} {'event F1':>8} {'point acc':>9} "
        f"{'alarms':>6} {'windows':>7} {'us/point':>8}"
    )
    best, best_f1 = "", -1.0
    for candidate in candidates:
        f1s = []
        for dataset, all_series in datasets.items():
            total = Tally()
            for series in all_series:
                total.add(run(candidate, series))
            f1s.append(total.f1)
            per_point = 1e6 * total.seconds / sum(len(s.values) for s in all_series)
            out(
                f"{candidate.name:28} {dataset:10} {total.precision:9.3f} {total.recall:6.3f} {total.f1:8.3f} "
                f"{total.accuracy:9.4f} {total.alarm_events:6d} {total.found:3d}/{total.windows:<3d} {per_point:8.1f}"
            )
        if sum(f1s) / len(f1s) > best_f1:
            best, best_f1 = candidate.name, sum(f1s) / len(f1s)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(prog="python -m ops.anomaly.bench", description=__doc__.split("\n\n")[0])
    arguments.add_argument("--quick", action="store_true", help="one NAB series and a short synthetic set (for tests)")
    arguments.add_argument(
        "--river", action="store_true", help="also river's HalfSpaceTrees (slow; needs river, a development dependency)"
    )
    options = arguments.parse_args(argv)
    quick = options.quick
    candidates = CANDIDATES
    if options.river:
        candidates += (Candidate("river-halfspacetrees", HalfSpaceTrees),)
    nab = nab_series(["realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"] if quick else None)
    datasets = {"NAB": nab, "synthetic": synthetic_series(quick)}
    best = evaluate(candidates, datasets)
    default = Detector.for_interval(synthetic.INTERVAL).config
    print(
        f"chosen: {best} (highest mean event F1); the detector's default: method={default.method}, "
        f"adaptive={default.adaptive}, cooldown={default.cooldown} points, threshold={default.threshold:g}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
