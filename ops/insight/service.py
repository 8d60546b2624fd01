"""One round of the service: read each signal, learn it, export what was learned.

Per signal, an online Detector (ops/anomaly/detector.py) scores each new value from the
values before it, and a Forecaster (ops/forecast/model.py) forecasts the next ones. The
metrics (the contract between the issue's helpers):

- `projectai_signal{signal}`: the value read this round, as the models saw it;
- `projectai_anomaly_score{signal}`, `projectai_anomalous{signal}` (0 or 1);
- `projectai_forecast{signal}`: the value forecast for this interval one lead time ago,
  to plot against the actual value;
- `projectai_forecast_peak{signal,window="15m"}`: the highest value forecast over the
  next 15 minutes (what predictive scaling reads);
- `projectai_insight_last_success_timestamp_seconds`: the last round Prometheus answered
  every query (saved with the state: a restart does not make an old success look new);
- `projectai_insight_errors_total{stage}`: `query` (Prometheus unreachable, slower than
  the timeout, refusing), `answer` (an answer that is not one number), `model` (a model
  refused a value), `state` (the state could not be saved, or was unusable at start),
  `round` (a round failed for a reason none of these names: a bug, logged).

A signal that could not be read in a round has its series removed, not left at the last
good value: Prometheus marks them stale at its next scrape, so no alert or autoscaler acts
on a number nobody measured, and the staleness alert (last success) says why. A signal
with no data (no requests: no latency, no error ratio) is not learned either: there is
nothing to learn, and its series are removed the same way.

A round without a value (Prometheus failing, no data) still counts for the models, whose
seasons are counted in rounds: the detector takes it as a missing point, the forecaster
its own forecast for it (`Insight._missed`), so a night without requests or an outage of
Prometheus does not shift the daily and weekly phases. A forecaster that cannot forecast
yet (its first day) leaves the forecast series out; the anomaly scores go on.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from ops.insight import DEFAULT_PEAK_WINDOW_SECONDS
from ops.insight.signals import AnswerError, Signal, read
from ops.insight.state import StateError, StateStore
from ops.prometheus import Prometheus
from ops.steps import OpsError


def window_label(seconds: int) -> str:
    """The `window` label of a peak over `seconds` ("15m"), as the ScaledObject's query names it."""
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


PEAK_WINDOW = window_label(DEFAULT_PEAK_WINDOW_SECONDS)
STAGES = ("query", "answer", "model", "state", "round")
# What a model raises when it refuses a value (their contract: ValueError, with a message).
MODEL_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError)


class Detector(Protocol):
    def update(self, value: float) -> tuple[float, bool]: ...
    def state(self) -> dict[str, Any]: ...


class Forecaster(Protocol):
    def update(self, value: float) -> None: ...
    def forecast(self, steps: int) -> list[float]: ...
    def state(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Models:
    """How to make a signal's models, fresh for an interval or from their saved state."""

    new_detector: Callable[[timedelta], Detector]
    new_forecaster: Callable[[timedelta], Forecaster]
    detector_from_state: Callable[[dict[str, Any]], Detector]
    forecaster_from_state: Callable[[dict[str, Any]], Forecaster]

    @classmethod
    def default(cls) -> Models:
        from ops.anomaly.detector import Detector
        from ops.forecast.model import Forecaster

        return cls(Detector.for_interval, Forecaster.for_interval, Detector.from_state, Forecaster.from_state)


class Metrics:
    """The exported series, in a registry of their own (not the process-wide one)."""

    def __init__(self, window: str = PEAK_WINDOW) -> None:
        self.window = window
        self.registry = CollectorRegistry()
        self.value = Gauge("projectai_signal", "The signal's value read this round", ["signal"], registry=self.registry)
        self.score = Gauge(
            "projectai_anomaly_score", "How unusual the signal's last value is", ["signal"], registry=self.registry
        )
        self.anomalous = Gauge(
            "projectai_anomalous", "1 while the signal's last value is an anomaly", ["signal"], registry=self.registry
        )
        self.forecast = Gauge(
            "projectai_forecast",
            "The value forecast for this interval, one lead time ago",
            ["signal"],
            registry=self.registry,
        )
        self.peak = Gauge(
            "projectai_forecast_peak",
            "The highest value forecast over the window ahead",
            ["signal", "window"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "projectai_insight_last_success_timestamp_seconds",
            "When Prometheus last answered every query of a round",
            registry=self.registry,
        )
        self.errors = Counter(
            "projectai_insight_errors", "Failures, by the stage that failed", ["stage"], registry=self.registry
        )
        for stage in STAGES:
            self.errors.labels(stage)  # every stage's counter exists from the start, at 0

    def forget(self, signal: str, *gauges: Gauge) -> None:
        """Removes the signal's series from `gauges`, or from all of them when none is named."""
        for gauge in gauges or (self.value, self.score, self.anomalous, self.forecast, self.peak):
            labels = (signal, self.window) if gauge is self.peak else (signal,)
            with contextlib.suppress(KeyError):  # not exported yet
                gauge.remove(*labels)


@dataclass
class Learner:
    """One signal's models and the forecasts waiting for their interval to come."""

    detector: Detector
    forecaster: Forecaster
    # [target time, value]: forecasts made one lead time before their target.
    pending: list[list[float]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return {"detector": self.detector.state(), "forecaster": self.forecaster.state(), "pending": self.pending}


def _log(message: str) -> None:
    print(f"ops insight: {message}", file=sys.stderr, flush=True)


class Insight:
    def __init__(
        self,
        prometheus: Prometheus,
        signals: tuple[Signal, ...],
        store: StateStore,
        interval_seconds: int,
        lead_seconds: int,
        models: Models,
        now: float,
        peak_window_seconds: int = DEFAULT_PEAK_WINDOW_SECONDS,
    ) -> None:
        self.prometheus, self.signals, self.store, self.models = prometheus, signals, store, models
        self.interval_seconds = interval_seconds
        self.interval = timedelta(seconds=interval_seconds)
        self.lead_steps = max(1, math.ceil(lead_seconds / interval_seconds))
        self.peak_steps = max(1, math.ceil(peak_window_seconds / interval_seconds))
        self.metrics = Metrics(window_label(peak_window_seconds))
        self.failing: dict[str, str] = {}
        # Signals whose forecaster has said it cannot forecast yet (logged once).
        self.warming: set[str] = set()
        self.last_success: float | None = None
        self.learners = self._resume(now)

    # --- state ---

    def _fresh(self) -> Learner:
        return Learner(self.models.new_detector(self.interval), self.models.new_forecaster(self.interval))

    def _resume(self, now: float) -> dict[str, Learner]:
        try:
            saved = self.store.load(self.interval_seconds)
            learners = {} if saved is None else self._restore(saved)
        except StateError as unusable:
            self.metrics.errors.labels("state").inc()
            aside = self.store.set_aside(now)
            where = f"moved to {aside}" if aside else "could not be moved; it will be overwritten"
            _log(f"starting afresh: {unusable} ({where})")
            saved, learners = None, {}
        if saved is not None and isinstance(saved.get("last_success"), (int, float)):
            self._succeeded(saved["last_success"])
        return {signal.name: learners.get(signal.name) or self._fresh() for signal in self.signals}

    def _restore(self, saved: dict[str, Any]) -> dict[str, Learner]:
        learners = {}
        same_lead = saved.get("lead_steps") == self.lead_steps
        for name, learned in saved["signals"].items():
            try:
                learners[name] = Learner(
                    self.models.detector_from_state(learned["detector"]),
                    self.models.forecaster_from_state(learned["forecaster"]),
                    # Forecasts made for another lead time are not this one's.
                    [[float(t), float(v)] for t, v in learned.get("pending", [])] if same_lead else [],
                )
            except (KeyError, TypeError, ValueError) as error:
                raise StateError(f"the saved models of {name!r} do not load: {type(error).__name__}: {error}") from None
        return learners

    def state(self) -> dict[str, Any]:
        return {
            "interval_seconds": self.interval_seconds,
            "lead_steps": self.lead_steps,
            "last_success": self.last_success,
            "signals": {name: learner.state() for name, learner in self.learners.items()},
        }

    def save(self) -> bool:
        try:
            self.store.save(self.state())
        except (OSError, TypeError, ValueError) as error:
            self.metrics.errors.labels("state").inc()
            _log(f"the state was not saved: {type(error).__name__}: {error}")
            return False
        return True

    # --- a round ---

    def round(self, now: float) -> bool:
        """Reads, learns and exports every signal at `now`, then saves the state. True
        when Prometheus answered every query."""
        answered = [self._signal(signal, now) for signal in self.signals]  # every signal, even after a failure
        if all(answered):
            self._succeeded(now)
        self.save()
        return all(answered)

    def _succeeded(self, when: float) -> None:
        self.last_success = when
        self.metrics.last_success.set(when)

    def _signal(self, signal: Signal, now: float) -> bool:
        """Reads and learns one signal; False when Prometheus did not answer it."""
        name, learner = signal.name, self.learners[signal.name]
        try:
            value = read(self.prometheus, signal, now)
        except OpsError as error:
            return self._failed(name, "query", f"not read: {error}")
        except AnswerError as error:
            return self._failed(name, "answer", f"not read: Prometheus answered {error}")
        except (AttributeError, KeyError, TypeError) as error:  # JSON of another shape than an API answer
            return self._failed(name, "answer", f"not read: Prometheus answered something else: {type(error).__name__}")
        try:
            if value is None:
                self.metrics.forget(name)
                self._missed(learner)
            else:
                self._learn(name, learner, value, now)
        except MODEL_ERRORS as error:
            self._failed(name, "model", f"a model refused {value!r}: {type(error).__name__}: {error}")
            return True  # Prometheus did answer
        if self.failing.pop(name, None) is not None:
            _log(f"{name}: read and learned again")
        return True

    def _failed(self, name: str, stage: str, reason: str) -> bool:
        self.metrics.errors.labels(stage).inc()
        self.metrics.forget(name)
        if stage != "model":
            try:
                self._missed(self.learners[name])
            except MODEL_ERRORS:
                self.metrics.errors.labels("model").inc()
        if self.failing.get(name) != reason:  # a log line per new failure, not per round
            _log(f"{name}: {reason}")
            self.failing[name] = reason
        return False

    @staticmethod
    def _missed(learner: Learner) -> None:
        """A round without a value keeps the models in phase with the clock (their seasons
        are counted in rounds): the detector takes a missing point (NaN, never an anomaly);
        the forecaster, which takes no gaps, its own forecast for the round, once it makes
        any. Nothing of this is exported."""
        learner.detector.update(math.nan)
        try:
            expected = learner.forecaster.forecast(1)[0]
        except ValueError:
            return  # not forecasting yet: no phase to keep
        learner.forecaster.update(expected)

    def _learn(self, name: str, learner: Learner, value: float, now: float) -> None:
        metrics = self.metrics
        metrics.value.labels(name).set(value)
        score, anomalous = learner.detector.update(value)
        if math.isfinite(score):
            metrics.score.labels(name).set(score)
            metrics.anomalous.labels(name).set(1 if anomalous else 0)
        else:  # still warming up: no score yet
            metrics.forget(name, metrics.score, metrics.anomalous)
        # The forecast made for this interval one lead time ago, if one was.
        half = self.interval_seconds / 2
        due = [v for t, v in learner.pending if abs(t - now) <= half]
        if due:
            metrics.forecast.labels(name).set(due[-1])
        else:
            metrics.forget(name, metrics.forecast)
        learner.pending = [[t, v] for t, v in learner.pending if t > now + half]
        learner.forecaster.update(value)
        try:
            ahead = [float(v) for v in learner.forecaster.forecast(max(self.lead_steps, self.peak_steps))]
        except ValueError as not_yet:  # the forecaster's history is still too short (its first day)
            metrics.forget(name, metrics.peak)
            if name not in self.warming:
                _log(f"{name}: no forecast yet: {not_yet}")
                self.warming.add(name)
            return
        self.warming.discard(name)
        lead_value = ahead[self.lead_steps - 1]
        if math.isfinite(lead_value):
            learner.pending.append([now + self.lead_steps * self.interval_seconds, lead_value])
        peak = ahead[: self.peak_steps]
        if peak and all(math.isfinite(v) for v in peak):
            metrics.peak.labels(name, metrics.window).set(max(peak))
        else:
            metrics.forget(name, metrics.peak)
