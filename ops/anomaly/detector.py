"""An online anomaly detector for one metric: each point is scored from the points before
it only, then learned. `ops anomalies` runs it over a file, the anomaly service over live
Prometheus data, resuming from the state it persisted.

The score is a robust z-score (how many robust standard deviations a point is away from
what was expected) of the larger of two residuals:
- seasonal: the point against the median of the same phase of the last `seasons` weeks
  (or days), for incidents whose level is normal for some other time but not for this one;
- spike: the point against the median of the last hour, for sudden jumps and drops.
Each residual is scaled by the median absolute deviation of its own recent residuals, so
a noisy series needs a bigger excursion than a quiet one. A point is an anomaly when its
score passes the threshold; with `adaptive`, a series whose ordinary scores run high
(heavy tails) raises its own threshold to `margin` times the 99th percentile of its past
scores. No alarm during the warm-up, and a quiet `cooldown` after each alarm event.

Pure Python on purpose: the ops image and its one-file binary stay small.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

KIND = "ops.anomaly.Detector"
VERSION = 1
METHODS = ("ensemble", "seasonal", "spike")
SEASONS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
# Seasonal memory is one slot per phase; beyond this many phases, neighbouring points
# share a slot (a day of 1 s points), which keeps the state small.
MAX_PHASES = 2016
# The residuals a scale is estimated from: enough for a stable MAD, small enough to adapt.
MIN_SCORED = 20
# The adaptive threshold's histogram: log-spaced bins of the score, 16 per doubling.
BINS_PER_DOUBLING = 16
BINS = 160
QUANTILE = 0.99
# Normal-consistency factors: MAD and mean absolute deviation to a standard deviation.
MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533
# A residual scale never below this fraction of the expected level (flat, quantised series).
RELATIVE_FLOOR = 0.01


@dataclass(frozen=True)
class Config:
    method: str = "ensemble"
    threshold: float = 6.0
    season_points: int = 0  # points in one season; 0 = no seasonal baseline
    phase_points: int = 1  # points that share one seasonal slot
    seasons: int = 4
    window: int = 576  # residuals each scale is estimated from
    spike_window: int = 12  # points the spike baseline is the median of
    warmup: int = 288
    cooldown: int = 12  # points after an alarm event before the next may start
    adaptive: bool = True
    margin: float = 1.5
    horizon: int = 8064  # points the adaptive threshold remembers (it decays with this time constant)

    def check(self) -> Config:
        """This configuration, or a ValueError naming the first option out of range."""
        _choice("method", self.method, METHODS)
        _in_range("threshold", self.threshold, 1.0, 1000.0)
        _whole("season_points", self.season_points, 0, 1_000_000)
        _whole("phase_points", self.phase_points, 1, 1_000_000)
        if self.season_points and self.season_points < 4:
            raise ValueError(f"season of {self.season_points} points; expected at least 4 points per season")
        if self.season_points and _phases(self.season_points, self.phase_points) > MAX_PHASES:
            raise ValueError(f"more than {MAX_PHASES} seasonal slots; expected a larger phase_points")
        _whole("seasons", self.seasons, 2, 8)
        _whole("window", self.window, MIN_SCORED, 5000)
        _whole("spike_window", self.spike_window, 3, 500)
        _whole("warmup", self.warmup, 0, 10_000_000)
        _whole("cooldown", self.cooldown, 0, 1_000_000)
        if not isinstance(self.adaptive, bool):
            raise ValueError(f"adaptive {self.adaptive!r}; expected true or false")
        _in_range("margin", self.margin, 1.0, 10.0)
        _whole("horizon", self.horizon, 100, 10_000_000)
        return self


OPTIONS = ("method", "threshold", "season", "seasons", "warmup", "cooldown", "adaptive", "margin")


def config_for_interval(interval: timedelta, **options: Any) -> Config:
    """The configuration for a series at `interval`: windows in time (an hour, two days)
    turned into points. `options` override: method, threshold, season ('auto', 'day',
    'week', 'none'), seasons, warmup and cooldown (points), adaptive, margin."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r}; expected one of {', '.join(OPTIONS)}")
    if not isinstance(interval, timedelta) or interval <= timedelta(0):
        raise ValueError(f"interval {interval!r}; expected a positive timedelta")
    season = options.pop("season", "auto")
    season_points = _season_points(interval, season)
    phase_points = max(1, math.ceil(season_points / MAX_PHASES))
    hour = _points(timedelta(hours=1), interval)
    window = min(5000, max(100, _points(timedelta(days=2), interval)))
    defaults = {
        "season_points": season_points,
        "phase_points": phase_points,
        "window": window,
        "spike_window": min(500, max(5, hour)),
        # Long enough for the residual scales to settle; a seasonal baseline takes over
        # once it has seen the phase in three seasons (the spike baseline covers till then).
        "warmup": max(3 * MIN_SCORED, window // 2),
        "cooldown": hour,
        "horizon": min(10_000_000, max(1000, _points(timedelta(weeks=4), interval))),
    }
    return Config(**{**defaults, **options}).check()


def _season_points(interval: timedelta, season: Any) -> int:
    if season == "none":
        return 0
    if season == "auto":
        # A week holds both seasonalities (a weekday against a weekend's day: a daily
        # baseline calls every Saturday an incident); too coarse an interval has none.
        return _season_points(interval, "week" if SEASONS["week"] >= 4 * interval else "none")
    _choice("season", season, ("auto", *SEASONS, "none"))
    points = _points(SEASONS[season], interval)
    if points < 4:
        raise ValueError(f"season {season!r} at a {interval} interval is {points} points; expected at least 4")
    return points


def _points(duration: timedelta, interval: timedelta) -> int:
    # An interval that does not divide the season drifts a fraction of a point per season: harmless.
    return max(1, round(duration / interval))


def _phases(season_points: int, phase_points: int) -> int:
    return math.ceil(season_points / phase_points)


class SortedWindow:
    """The last `size` values, kept sorted too: median and MAD without sorting per point."""

    def __init__(self, size: int, values: Iterable[float] = ()) -> None:
        self.recent: deque[float] = deque(maxlen=size)
        self.ordered: list[float] = []
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return len(self.recent)

    def add(self, value: float) -> None:
        if len(self.recent) == self.recent.maxlen:
            del self.ordered[bisect.bisect_left(self.ordered, self.recent[0])]
        self.recent.append(value)
        bisect.insort(self.ordered, value)

    def median(self) -> float:
        return _median(self.ordered)

    def scale(self, center: float) -> float:
        """A robust standard deviation around `center` (the median): MAD, or the mean
        absolute deviation where more than half the values are equal (sparse series)."""
        values = self.ordered
        n = len(values)
        split = bisect.bisect_left(values, center)
        # Distances below and above the center, both ascending, read off the sorted values.
        below = _Distances(values, center, split, -1)
        above = _Distances(values, center, split, 1)
        mad = (_kth(below, above, (n - 1) // 2) + _kth(below, above, n // 2)) / 2
        if mad > 0:
            return MAD_TO_SIGMA * mad
        return MEAN_AD_TO_SIGMA * (center * (2 * split - n) - sum(values[:split]) + sum(values[split:])) / n


class _Distances:
    """|value - center| of the sorted values on one side of the center, nearest first."""

    def __init__(self, values: list[float], center: float, split: int, side: int) -> None:
        self.values, self.center, self.split, self.side = values, center, split, side
        self.length = split if side < 0 else len(values) - split

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> float:
        if self.side < 0:
            return self.center - self.values[self.split - 1 - index]
        return self.values[self.split + index] - self.center


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def _kth(a: _Distances, b: _Distances, k: int) -> float:
    """The k-th smallest (from 0) of two ascending sequences together, in O(log n)."""
    low, high = max(0, k + 1 - len(b)), min(k + 1, len(a))
    while True:
        taken = (low + high) // 2  # from a; k + 1 - taken from b
        rest = k + 1 - taken
        if taken < len(a) and rest > 0 and b[rest - 1] > a[taken]:
            low = taken + 1
        elif taken > 0 and rest < len(b) and a[taken - 1] > b[rest]:
            high = taken - 1
        else:
            return max(a[taken - 1] if taken else -math.inf, b[rest - 1] if rest else -math.inf)


class Residuals:
    """One baseline's residuals and the robust z-score of a new one against them."""

    def __init__(self, size: int, values: Iterable[float] = ()) -> None:
        self.window = SortedWindow(size, values)

    def score(self, residual: float, level: float) -> tuple[float, float, float]:
        """(z, center, scale); z is 0 until the window has enough residuals."""
        if len(self.window) < MIN_SCORED:
            return 0.0, 0.0, 0.0
        center = self.window.median()
        scale = max(self.window.scale(center), RELATIVE_FLOOR * abs(level), 1e-12)
        return abs(residual - center) / scale, center, scale

    def learn(self, residual: float, center: float, scale: float, limit: float | None) -> None:
        # An anomaly enters clipped at the threshold: one incident must not widen the scale
        # that the next one is measured against.
        if limit is not None and scale > 0:
            residual = min(max(residual, center - limit * scale), center + limit * scale)
        self.window.add(residual)


class Detector:
    """Score and flag one series point by point; `state()` and `from_state` persist it."""

    def __init__(self, config: Config) -> None:
        self.config = config.check()
        self.count = 0  # points seen, missing ones included: the phase of the next point
        self.phases: list[deque[float]] = [
            deque(maxlen=config.seasons) for _ in range(_phases(config.season_points, config.phase_points))
        ]
        self.slot_sum = 0.0  # the current seasonal slot's values so far (phase_points > 1)
        self.slot_count = 0
        self.recent = SortedWindow(config.spike_window)
        self.seasonal = Residuals(config.window)
        self.spike = Residuals(config.window)
        self.histogram = [0.0] * BINS
        self.weight = 1.0  # the next score's weight in the histogram: older scores decay
        self.last_alarm = -1  # index of the last anomalous point (-1: none yet)

    @classmethod
    def for_interval(cls, interval: timedelta, **options: Any) -> Detector:
        return cls(config_for_interval(interval, **options))

    def update(self, value: float) -> tuple[float, bool]:
        """This point's score and whether it is an anomaly, judged before it is learned.
        A missing point (NaN) scores NaN, is never an anomaly, and keeps the phase."""
        index = self.count
        self.count += 1
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            self._close_slot(index)
            return math.nan, False
        value = float(value)
        config = self.config
        seasonal_base = self._seasonal_baseline(index)
        spike_base = self.recent.median() if len(self.recent) >= 3 else None
        if spike_base is None:
            spike_base = seasonal_base if seasonal_base is not None else value
        if seasonal_base is None:
            seasonal_base = spike_base  # until the phase was seen in enough seasons
        seasonal = self.seasonal.score(value - seasonal_base, seasonal_base)
        spike = self.spike.score(value - spike_base, spike_base)
        score = {"seasonal": seasonal[0], "spike": spike[0], "ensemble": max(seasonal[0], spike[0])}[config.method]
        threshold = self.threshold()
        anomaly = score > threshold and index >= config.warmup and self._may_alarm(index)
        if anomaly:
            self.last_alarm = index
        limit = threshold if score > threshold else None
        self.seasonal.learn(value - seasonal_base, seasonal[1], seasonal[2], limit)
        self.spike.learn(value - spike_base, spike[1], spike[2], limit)
        self.recent.add(value)
        self._learn_phase(index, value)
        self._learn_score(min(score, 2 * threshold))
        return score, anomaly

    def threshold(self) -> float:
        """The score a point must pass to be an anomaly now."""
        if not self.config.adaptive:
            return self.config.threshold
        return max(self.config.threshold, self.config.margin * self._quantile(QUANTILE))

    def _may_alarm(self, index: int) -> bool:
        # An alarm event goes on while its points are anomalous; a new one waits out the cooldown.
        return self.last_alarm < 0 or index - self.last_alarm == 1 or index - self.last_alarm > self.config.cooldown

    def _seasonal_baseline(self, index: int) -> float | None:
        if not self.phases:
            return None
        past = self.phases[self._phase(index)]
        if len(past) < min(3, self.config.seasons):
            return None
        return _median(sorted(past))

    def _phase(self, index: int) -> int:
        return (index % self.config.season_points) // self.config.phase_points

    def _learn_phase(self, index: int, value: float) -> None:
        if self.phases:
            self.slot_sum += value
            self.slot_count += 1
            self._close_slot(index)

    def _close_slot(self, index: int) -> None:
        """At a slot's last point, its mean joins that phase's memory."""
        if not self.phases or (self.config.phase_points > 1 and self._phase(index + 1) == self._phase(index)):
            return
        if self.slot_count:
            self.phases[self._phase(index)].append(self.slot_sum / self.slot_count)
        self.slot_sum, self.slot_count = 0.0, 0

    def _learn_score(self, score: float) -> None:
        self.histogram[_bin(score)] += self.weight
        self.weight /= 1 - 1 / self.config.horizon
        if self.weight > 1e6:  # rescale before the weights overflow; ratios are unchanged
            self.histogram = [count / self.weight for count in self.histogram]
            self.weight = 1.0

    def _quantile(self, fraction: float) -> float:
        total = sum(self.histogram)
        if total <= 0:
            return 0.0
        running = 0.0
        for index, count in enumerate(self.histogram):
            running += count
            if running >= fraction * total:
                return 2 ** ((index + 1) / BINS_PER_DOUBLING) - 1  # the bin's upper edge
        return math.inf

    def state(self) -> dict[str, Any]:
        """Everything needed to resume, as JSON-ready data; its size is bounded by the config."""
        return {
            "kind": KIND,
            "version": VERSION,
            "config": asdict(self.config),
            "count": self.count,
            "phases": [list(past) for past in self.phases],
            "slot": [self.slot_sum, self.slot_count],
            "recent": list(self.recent.recent),
            "seasonal_residuals": list(self.seasonal.window.recent),
            "spike_residuals": list(self.spike.window.recent),
            "histogram": list(self.histogram),
            "weight": self.weight,
            "last_alarm": self.last_alarm,
        }

    @classmethod
    def from_state(cls, state: Any) -> Detector:
        """The detector `state()` described, or a ValueError saying what is wrong with it."""
        if not isinstance(state, dict) or state.get("kind") != KIND:
            raise ValueError(f"not an anomaly detector's state; expected a mapping with kind {KIND!r}")
        if state.get("version") != VERSION:
            raise ValueError(f"detector state version {state.get('version')!r}; expected {VERSION}")
        expected = set(Detector(Config()).state())
        if set(state) != expected:
            raise ValueError(f"detector state with keys {sorted(state)}; expected {sorted(expected)}")
        config = state["config"]
        names = {field.name for field in fields(Config)}
        if not isinstance(config, dict) or set(config) != names:
            raise ValueError(f"detector state's config; expected a mapping of {', '.join(sorted(names))}")
        detector = cls(Config(**config))
        config = detector.config
        detector.count = _whole("count", state["count"], 0, 2**62)
        phases = state["phases"]
        if not isinstance(phases, list) or len(phases) != len(detector.phases):
            raise ValueError(f"detector state's phases; expected a list of {len(detector.phases)} lists")
        for index, past in enumerate(phases):
            detector.phases[index].extend(_numbers(f"phases[{index}]", past, config.seasons))
        slot = state["slot"]
        if not isinstance(slot, list) or len(slot) != 2:
            raise ValueError("detector state's slot; expected [sum, count]")
        detector.slot_sum = _numbers("slot", slot[:1], 1)[0]
        detector.slot_count = _whole("slot count", slot[1], 0, config.phase_points)
        for value in _numbers("recent", state["recent"], config.spike_window):
            detector.recent.add(value)
        for name in ("seasonal", "spike"):
            residuals = _numbers(f"{name}_residuals", state[f"{name}_residuals"], config.window)
            setattr(detector, name, Residuals(config.window, residuals))
        histogram = _numbers("histogram", state["histogram"], BINS)
        if len(histogram) != BINS or min(histogram) < 0:
            raise ValueError(f"detector state's histogram; expected {BINS} counts of at least 0")
        detector.histogram = histogram
        detector.weight = _in_range("weight", state["weight"], 1.0, 1e6 / (1 - 1 / config.horizon))
        detector.last_alarm = _whole("last_alarm", state["last_alarm"], -1, detector.count - 1)
        return detector


def _bin(score: float) -> int:
    return min(BINS - 1, int(BINS_PER_DOUBLING * math.log2(1 + score)))


def _numbers(name: str, values: Any, most: int | None = None) -> list[float]:
    if not isinstance(values, list) or (most is not None and len(values) > most):
        bound = f" of at most {most}" if most is not None else ""
        raise ValueError(f"detector state's {name}; expected a list{bound} numbers")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"detector state's {name} holds {value!r}; expected finite numbers")
    return [float(value) for value in values]


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} {value!r}; expected a whole number from {low} to {high}")
    return value


def _in_range(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} {value!r}; expected a number from {low:g} to {high:g}")
    return float(value)


def _choice(name: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} {value!r}; expected one of {', '.join(choices)}")
    return value
