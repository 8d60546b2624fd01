"""The demand forecaster: a seasonal median profile times a clipped level factor.

The forecast for a moment is the median of the values at the same phase of the week in
the last `weeks` weeks (the same phase of the day in the last 7 days while less than a
week plus `level_days` of history is known), times a level factor: the median ratio of the
last `level_days` of actual values to what the profile said for them, clipped to
`level_clip`. A median over several weeks ignores one outlier day or a holiday in history;
the level factor follows growth and slumps, clipped so that one strange day moves the next
week by a bounded share. `python -m ops.forecast.bench` measures it against seasonal-naive
and the alternatives (Holt-Winters, SNARIMAX) on real demand series.

Online and O(1) per point: it keeps only the last `weeks` weeks of values, which is also its
whole persisted state. Pure Python, no dependencies.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from datetime import timedelta
from typing import Any

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# Finer than a minute, four weeks of history (the persisted state) would pass 100,000 points.
MIN_INTERVAL = timedelta(minutes=1)
STATE_VERSION = 1
MAX_WEEKS = 8


class Forecaster:
    def __init__(
        self,
        interval: timedelta,
        *,
        weeks: int = 4,
        level_days: float = 1.0,
        level_clip: tuple[float, float] = (0.8, 1.25),
    ) -> None:
        if not isinstance(interval, timedelta) or interval < MIN_INTERVAL or interval > DAY or DAY % interval:
            shown = f"{interval.total_seconds():g} s" if isinstance(interval, timedelta) else repr(interval)
            raise ValueError(f"interval {shown}; expected 60 s to 1 day, dividing a day (1, 5 or 30 min, 1 h...)")
        if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= MAX_WEEKS:
            raise ValueError(f"weeks {weeks!r}; expected a whole number from 1 to {MAX_WEEKS}")
        if not isinstance(level_days, int | float) or not 0 < level_days <= 7:
            raise ValueError(f"level_days {level_days!r}; expected more than 0 and at most 7")
        low, high = _clip(level_clip)
        self.interval = interval
        self.weeks = weeks
        self.level_days = float(level_days)
        self.level_clip = (low, high)
        self.day = DAY // interval
        self.week = WEEK // interval
        self.level_points = max(1, round(self.level_days * self.day))
        self._history: deque[float] = deque(maxlen=weeks * self.week)

    @classmethod
    def for_interval(cls, interval: timedelta, **options: Any) -> Forecaster:
        """A forecaster for a series with points every `interval` (options: weeks,
        level_days, level_clip); ValueError names what is out of range."""
        return cls(interval, **options)

    @property
    def minimum_history(self) -> int:
        """Points needed before `forecast`: one day (a daily profile; weekly after a week)."""
        return self.day

    @property
    def max_steps(self) -> int:
        """The longest forecast that is more than the profile repeated: the history's span."""
        return self.weeks * self.week

    def __len__(self) -> int:
        return len(self._history)

    def update(self, value: float) -> None:
        """The next point of the series (one interval after the one before)."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"value {value!r}; expected a finite number")
        self._history.append(float(value))

    def forecast(self, steps: int) -> list[float]:
        """The next `steps` points after the last one given to `update`."""
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= self.max_steps:
            raise ValueError(f"steps {steps!r}; expected a whole number from 1 to {self.max_steps}")
        if len(self._history) < self.minimum_history:
            raise ValueError(
                f"{len(self._history)} points of history; expected at least {self.minimum_history} (one day)"
            )
        history = list(self._history)
        period, depth = self._season(len(history))
        level = self._level(history, period, depth)
        profile = [self._profile(history, offset, period, depth) for offset in range(min(steps, period))]
        return [profile[step % period] * level for step in range(steps)]

    def _season(self, known: int) -> tuple[int, int]:
        """The period to profile over, and how many past periods the median takes."""
        if known >= self.week + self.level_points:
            return self.week, self.weeks
        return self.day, 7

    @staticmethod
    def _profile(history: list[float], offset: int, period: int, depth: int) -> float:
        """The median of the values one, two, ... `depth` periods before the point `offset`
        steps after the end (offset -1 is the last point known)."""
        end = len(history) + offset
        same_phase = [history[end - k * period] for k in range(1, depth + 1) if end - k * period >= 0]
        return statistics.median(same_phase) if same_phase else math.nan

    def _level(self, history: list[float], period: int, depth: int) -> float:
        ratios = []
        for back in range(1, min(self.level_points, len(history) - period) + 1):
            expected = self._profile(history, -back, period, depth)
            if expected > 0:  # a ratio to zero or a negative profile says nothing about scale
                ratios.append(history[-back] / expected)
        if not ratios:
            return 1.0
        low, high = self.level_clip
        return min(high, max(low, statistics.median(ratios)))

    def state(self) -> dict[str, Any]:
        """Everything the forecaster knows, as JSON-serialisable data (at most `max_steps` values)."""
        return {
            "version": STATE_VERSION,
            "interval_seconds": self.interval.total_seconds(),
            "weeks": self.weeks,
            "level_days": self.level_days,
            "level_clip": list(self.level_clip),
            "history": list(self._history),
        }

    @classmethod
    def from_state(cls, state: Any) -> Forecaster:
        """The forecaster `state()` described; ValueError says what is malformed."""
        if not isinstance(state, dict):
            raise ValueError(f"forecaster state is a {type(state).__name__}; expected an object")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"forecaster state version {state.get('version')!r}; expected {STATE_VERSION}")
        expected = {"version", "interval_seconds", "weeks", "level_days", "level_clip", "history"}
        if set(state) != expected:
            raise ValueError(f"forecaster state keys {sorted(state)}; expected {sorted(expected)}")
        seconds = state["interval_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= DAY.total_seconds():
            raise ValueError(f"forecaster state interval_seconds {seconds!r}; expected a number of seconds up to a day")
        history = state["history"]
        if not isinstance(history, list):
            raise ValueError("forecaster state history is not a list; expected a list of numbers")
        forecaster = cls(
            timedelta(seconds=seconds),
            weeks=state["weeks"],
            level_days=state["level_days"],
            level_clip=state["level_clip"],
        )
        if len(history) > forecaster.max_steps:
            raise ValueError(
                f"forecaster state history of {len(history)} values; expected at most {forecaster.max_steps}"
            )
        for value in history:
            forecaster.update(value)
        return forecaster


def _clip(level_clip: Any) -> tuple[float, float]:
    if (
        isinstance(level_clip, list | tuple)
        and len(level_clip) == 2
        and all(isinstance(bound, int | float) and not isinstance(bound, bool) for bound in level_clip)
        and 0 < level_clip[0] <= 1 <= level_clip[1] < math.inf
    ):
        return float(level_clip[0]), float(level_clip[1])
    raise ValueError(f"level_clip {level_clip!r}; expected [low, high] with 0 < low <= 1 <= high")
