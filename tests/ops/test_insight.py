"""`ops insight serve`: the anomaly and forecast service, driven round by round against a
local stand-in Prometheus (answering, stopped, frozen, answering garbage), with small
stand-in models (the real ones are tested in their own modules): the signals reach
/metrics, a restart resumes from the saved state, an unusable state is set aside, and the
signals' queries are evaluated by promtool over series named as the app names them."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from components.api_metrics import LATENCY, REQUESTS
from ops.insight import service as service_module
from ops.insight.server import MetricsServer, run
from ops.insight.service import PEAK_WINDOW, Insight, Models
from ops.insight.signals import SIGNAL_NAMES, signals
from ops.insight.state import FILE_NAME, MAX_BYTES, StateStore
from ops.prometheus import Prometheus
from tests.ops.conftest import run as run_cli
from tests.ops.conftest import serving

NAMESPACE = "project-ai"
INTERVAL = 60
START = 1_800_000_000.0
VALUES = {"requests_per_second": 40.0, "latency_p99_seconds": 0.25, "error_ratio": 0.01, "cpu_saturation": 0.5}


# --- stand-in models: what the contract promises, small enough to check by hand ---


class Detector:
    """Scores a value by itself; an anomaly above 100. No score for the first value
    (warming up); a missing one (NaN) is counted apart, as the contract's detector keeps its phase."""

    def __init__(self, seen: int = 0, missed: int = 0, interval: timedelta | None = None) -> None:
        self.seen, self.missed, self.interval = seen, missed, interval

    @classmethod
    def for_interval(cls, interval: timedelta) -> Detector:
        return cls(interval=interval)

    def update(self, value: float) -> tuple[float, bool]:
        if math.isnan(value):
            self.missed += 1
            return math.nan, False
        if value == 13:
            raise ValueError("unlucky")
        self.seen += 1
        return (math.nan, False) if self.seen == 1 else (value, value > 100)

    def state(self) -> dict[str, Any]:
        return {"seen": self.seen, "missed": self.missed}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Detector:
        return cls(int(state["seen"]), int(state["missed"]))


class Forecaster:
    """Forecasts the last value plus one per step ahead, from its second value on."""

    def __init__(self, history: list[float] | None = None) -> None:
        self.history = history or []

    @classmethod
    def for_interval(cls, interval: timedelta) -> Forecaster:
        return cls()

    def update(self, value: float) -> None:
        self.history.append(value)

    def forecast(self, steps: int) -> list[float]:
        if len(self.history) < 2:
            raise ValueError(f"{len(self.history)} points of history; expected at least 2")
        return [self.history[-1] + step for step in range(1, steps + 1)]

    def state(self) -> dict[str, Any]:
        return {"history": self.history}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Forecaster:
        return cls(list(state["history"]))


MODELS = Models(Detector.for_interval, Forecaster.for_interval, Detector.from_state, Forecaster.from_state)


# --- a stand-in Prometheus ---


class StandIn(ThreadingHTTPServer):
    """Prometheus's query API: each signal's query answered with its value in `values`
    (None: no series), or `raw` bytes, or an error status, or nothing until released (frozen)."""

    daemon_threads = True

    def __init__(self, hang: threading.Event | None = None) -> None:
        super().__init__(("127.0.0.1", 0), StandInHandler)
        self.by_query = {signal.query: signal.name for signal in signals(NAMESPACE)}
        self.hang = hang
        self.reset()

    def reset(self) -> None:
        self.values: dict[str, float | str | None] = dict(VALUES)
        self.status, self.raw = 200, b""
        self.asked: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class StandInHandler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        asked = parse_qs(urlsplit(self.path).query)
        query = asked["query"][0]
        self.server.asked.append((query, asked["time"][0]))
        if self.server.hang is not None:
            self.server.hang.wait(10)
            return
        if self.server.raw:
            encoded = self.server.raw
        elif self.server.status != 200:
            encoded = json.dumps({"status": "error", "errorType": "execution", "error": "query timed out"}).encode()
        else:
            value = self.server.values[self.server.by_query[query]]
            result = [] if value is None else [{"metric": {}, "value": [START, str(value)]}]
            encoded = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)


@contextlib.contextmanager
def prometheus(hang: threading.Event | None = None) -> Iterator[StandIn]:
    with serving(StandIn(hang), hang) as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="module")
def answering() -> Iterator[StandIn]:
    with prometheus() as server:
        yield server


@pytest.fixture
def fake(answering: StandIn) -> StandIn:
    """The module's stand-in Prometheus, answering every signal's usual value."""
    answering.reset()
    return answering


def insight(url: str, folder: Path, lead_seconds: int = 2 * INTERVAL, timeout: float = 2.0, **kw: Any) -> Insight:
    return Insight(
        Prometheus(url, timeout_seconds=timeout),
        signals(NAMESPACE),
        StateStore(folder),
        INTERVAL,
        lead_seconds,
        kw.get("models", MODELS),
        START,
        **({"peak_window_seconds": kw["peak_window_seconds"]} if "peak_window_seconds" in kw else {}),
    )


def rounds(service: Insight, count: int, first: int = 0) -> list[bool]:
    return [service.round(START + (first + index) * INTERVAL) for index in range(count)]


def exported(service: Insight, text: str | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows (`text`, else what it would show), by name and labels."""
    text = text if text is not None else generate_latest(service.metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def gauge(samples: dict, name: str, signal: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted({"signal": signal, **labels}.items()))))


def errors(samples: dict, stage: str) -> float:
    return samples[("projectai_insight_errors_total", (("stage", stage),))]


def last_success(samples: dict) -> float:
    return samples[("projectai_insight_last_success_timestamp_seconds", ())]


# --- the signals reach /metrics ---


def test_the_peak_looks_as_far_ahead_as_its_window(fake: StandIn, tmp_path: Path) -> None:
    """KEDA's ScaledObject names the window predictive scaling's lead time sets (30 min here)."""
    service = insight(fake.url, tmp_path, peak_window_seconds=30 * INTERVAL)
    rounds(service, 4)
    samples = exported(service)
    for name, value in VALUES.items():
        assert gauge(samples, "projectai_forecast_peak", name, window="30m") == value + 30
        assert gauge(samples, "projectai_forecast_peak", name, window=PEAK_WINDOW) is None


def test_each_signal_is_scored_forecast_and_exported(
    fake: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = insight(fake.url, tmp_path)
    assert rounds(service, 1) == [True]
    first = exported(service)
    assert rounds(service, 3, first=1) == [True, True, True]
    samples = exported(service)
    # Round one: no score and no forecast yet (both models warming up).
    for name in VALUES:
        assert gauge(first, "projectai_anomaly_score", name) is None
        assert gauge(first, "projectai_forecast_peak", name, window=PEAK_WINDOW) is None
    for name, value in VALUES.items():
        assert gauge(samples, "projectai_signal", name) == value
        assert gauge(samples, "projectai_anomaly_score", name) == value
        assert gauge(samples, "projectai_anomalous", name) == 0
        # Made two rounds (the lead time) ago, for now: the value then, plus two steps.
        assert gauge(samples, "projectai_forecast", name) == value + 2
        assert gauge(samples, "projectai_forecast_peak", name, window=PEAK_WINDOW) == value + 15  # 15 one-minute steps
    assert last_success(samples) == START + 3 * INTERVAL
    # A forecaster still warming up is no error: said once per signal.
    assert capsys.readouterr().err.count("no forecast yet: 1 points of history; expected at least 2") == 4
    assert {stage: errors(samples, stage) for stage in service_module.STAGES} == dict.fromkeys(service_module.STAGES, 0)
    # Each round asks each signal once, at the round's time.
    assert len(fake.asked) == 4 * len(VALUES)
    assert {at for _, at in fake.asked[-4:]} == {f"{START + 3 * INTERVAL:.3f}"}


def test_the_forecast_shown_now_is_the_one_made_a_lead_time_ago(fake: StandIn, tmp_path: Path) -> None:
    service = insight(fake.url, tmp_path, lead_seconds=3 * INTERVAL)
    history = []
    for step in range(6):
        fake.values["requests_per_second"] = 10.0 * step
        service.round(START + step * INTERVAL)
        history.append(gauge(exported(service), "projectai_forecast", "requests_per_second"))
    # Made at step s (from the second on: the forecaster's warm-up) for step s + 3: 10 s + 3.
    assert history == [None, None, None, None, 13.0, 23.0]


def test_an_anomaly_is_exported_as_one(fake: StandIn, tmp_path: Path) -> None:
    service = insight(fake.url, tmp_path)
    rounds(service, 2)
    fake.values["latency_p99_seconds"] = 250.0
    rounds(service, 1, first=2)
    samples = exported(service)
    assert gauge(samples, "projectai_anomalous", "latency_p99_seconds") == 1
    assert gauge(samples, "projectai_anomalous", "requests_per_second") == 0


def test_no_data_is_not_learned_and_not_an_error(fake: StandIn, tmp_path: Path) -> None:
    service = insight(fake.url, tmp_path)
    rounds(service, 3)
    fake.values.update(error_ratio="NaN", latency_p99_seconds=None)  # no requests in the window
    assert rounds(service, 1, first=3) == [True]
    samples = exported(service)
    for name in ("error_ratio", "latency_p99_seconds"):
        for metric in ("projectai_signal", "projectai_anomaly_score", "projectai_anomalous", "projectai_forecast"):
            assert gauge(samples, metric, name) is None
        assert gauge(samples, "projectai_forecast_peak", name, window=PEAK_WINDOW) is None
        # Kept in phase: a missing point for the detector, its own forecast for the forecaster.
        learner = service.learners[name]
        assert (learner.detector.seen, learner.detector.missed) == (3, 1)
        assert learner.forecaster.history[-2:] == [VALUES[name], VALUES[name] + 1]
    assert gauge(samples, "projectai_anomaly_score", "requests_per_second") == 40.0
    assert errors(samples, "answer") == errors(samples, "query") == 0
    assert last_success(samples) == START + 3 * INTERVAL


def test_a_value_a_model_refuses_is_counted_and_the_other_signals_go_on(
    fake: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = insight(fake.url, tmp_path)
    rounds(service, 3)
    fake.values["cpu_saturation"] = 13.0
    assert rounds(service, 2, first=3) == [True, True]  # Prometheus answered: the round succeeded
    samples = exported(service)
    assert errors(samples, "model") == 2
    assert gauge(samples, "projectai_anomaly_score", "cpu_saturation") is None
    assert gauge(samples, "projectai_anomaly_score", "error_ratio") == 0.01
    assert last_success(samples) == START + 4 * INTERVAL
    # Logged once while it lasts, and once when it is over.
    assert capsys.readouterr().err.count("cpu_saturation: a model refused 13.0: ValueError: unlucky") == 1
    fake.values["cpu_saturation"] = 0.5
    rounds(service, 1, first=5)
    assert "cpu_saturation: read and learned again" in capsys.readouterr().err
    assert gauge(exported(service), "projectai_anomaly_score", "cpu_saturation") == 0.5


# --- Prometheus stopped, frozen, answering garbage ---


def test_prometheus_stopped_removes_the_signals_counts_the_error_and_keeps_serving(
    fake: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with prometheus() as stopping:
        service = insight(stopping.url, tmp_path)
        rounds(service, 3)
    assert rounds(service, 2, first=3) == [False, False]
    kept = service.learners["requests_per_second"]
    assert kept.detector.missed == 2 and kept.forecaster.history == [40.0, 40.0, 40.0, 41.0, 42.0]
    server = MetricsServer(("127.0.0.1", 0), service)
    with serving(server):
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            samples = exported(service, response.read().decode())
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(f"{server.url}/other", timeout=5)
        assert elsewhere.value.code == 404
    assert errors(samples, "query") == 2 * len(VALUES)
    # Not the last good values: no series at all, and the last success stays where it was.
    assert not [key for key in samples if key[0].startswith(("projectai_signal", "projectai_anomal", "projectai_fore"))]
    assert last_success(samples) == START + 2 * INTERVAL
    logged = capsys.readouterr().err
    # One line per signal when it starts failing, not one per round.
    assert logged.count("not read: Prometheus at") == len(VALUES) and "ConnectError" in logged

    # Back: every signal read again, learned from where it was.
    service.prometheus = Prometheus(fake.url)
    assert rounds(service, 1, first=5) == [True]
    samples = exported(service)
    assert gauge(samples, "projectai_anomaly_score", "requests_per_second") == 40.0
    assert service.learners["requests_per_second"].detector.seen == 4
    assert "requests_per_second: read and learned again" in capsys.readouterr().err


def test_prometheus_frozen_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    with prometheus(hang=threading.Event()) as frozen:
        service = insight(frozen.url, tmp_path, timeout=0.3)
        started = time.monotonic()
        assert rounds(service, 1) == [False]
        waited = time.monotonic() - started
    assert waited < 4 * 0.3 + 2  # four queries, each cut off at the timeout
    samples = exported(service)
    assert errors(samples, "query") == 4
    assert last_success(samples) == 0  # never succeeded: the staleness alert fires


@pytest.mark.parametrize(
    ("raw", "values", "reason"),
    [
        (b"<html>busy</html>", {}, "query"),  # not JSON: ops/prometheus.py refuses it
        (b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', {}, "query"),
        (b"[1, 2]", {}, "query"),  # JSON, not an answer object: ops/prometheus.py refuses it too
        (b'{"status": "success", "data": {"resultType": "vector", "result": [{"value": 3}]}}', {}, "answer"),
        (b"", {"requests_per_second": "twelve"}, "answer"),
        (b"", {"requests_per_second": "+Inf"}, "answer"),
    ],
)
def test_garbage_answers_are_counted_never_learned(
    fake: StandIn, tmp_path: Path, raw: bytes, values: dict[str, str], reason: str
) -> None:
    service = insight(fake.url, tmp_path)
    rounds(service, 2)
    fake.raw = raw
    fake.values.update(values)
    assert rounds(service, 1, first=2) == [False]
    samples = exported(service)
    failed = len(VALUES) if raw else 1
    assert errors(samples, reason) == failed
    assert service.learners["requests_per_second"].detector.seen == 2
    assert gauge(samples, "projectai_anomaly_score", "requests_per_second") is None


def test_two_series_where_one_aggregate_was_expected_is_an_answer_error(fake: StandIn, tmp_path: Path) -> None:
    body = {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}] * 2}}
    fake.raw = json.dumps(body).encode()
    service = insight(fake.url, tmp_path)
    rounds(service, 1)
    assert errors(exported(service), "answer") == 4


# --- the state: resumed, set aside when unusable, saved whole ---


def test_a_restart_resumes_from_the_saved_state(fake: StandIn, tmp_path: Path) -> None:
    service = insight(fake.url, tmp_path)
    rounds(service, 3)
    pending = service.learners["error_ratio"].pending
    again = insight(fake.url, tmp_path)
    assert again.learners["requests_per_second"].detector.seen == 3
    assert again.learners["error_ratio"].pending == pending
    assert last_success(exported(again)) == START + 2 * INTERVAL  # the old success, not a new one
    # The forecast made before the restart still lands on its interval.
    again.round(START + 3 * INTERVAL)
    assert gauge(exported(again), "projectai_forecast", "error_ratio") == 0.01 + 2
    assert list(tmp_path.iterdir()) == [tmp_path / FILE_NAME]  # no temporary file left behind


def test_a_restart_with_another_lead_time_drops_the_forecasts_made_for_the_old_one(
    fake: StandIn, tmp_path: Path
) -> None:
    rounds(insight(fake.url, tmp_path), 3)
    again = insight(fake.url, tmp_path, lead_seconds=5 * INTERVAL)
    assert again.learners["error_ratio"].pending == [] and again.learners["error_ratio"].detector.seen == 3


def _saved(folder: Path) -> dict[str, Any]:
    return json.loads((folder / FILE_NAME).read_text())


def _write_big(path: Path) -> None:
    with path.open("wb") as file:
        file.truncate(MAX_BYTES + 1)


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda path: path.write_text('{"format": 1, "interval_'), "is not JSON"),
        (lambda path: path.write_bytes(b"\xff\xfe\x00garbage"), "is not JSON"),
        (lambda path: path.write_text("[]"), "is not a state of format 1"),
        (lambda path: path.write_text('{"format": 99}'), "is not a state of format 1"),
        (
            lambda path: path.write_text(json.dumps({**_saved(path.parent), "interval_seconds": 30})),
            "was learned at an interval of 30 s, not 60 s",
        ),
        (lambda path: path.write_text(json.dumps({**_saved(path.parent), "signals": []})), "has no signals"),
        (
            lambda path: path.write_text(
                json.dumps({**_saved(path.parent), "signals": {"error_ratio": {"detector": {}, "forecaster": {}}}})
            ),
            "the saved models of 'error_ratio' do not load: KeyError",
        ),
        (_write_big, f"more than the {MAX_BYTES} a state can be"),
    ],
)
def test_an_unusable_state_is_set_aside_and_the_service_starts_afresh(
    fake: StandIn, tmp_path: Path, spoil: Any, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rounds(insight(fake.url, tmp_path), 2)
    spoil(tmp_path / FILE_NAME)
    spoiled = (tmp_path / FILE_NAME).read_bytes()
    service = insight(fake.url, tmp_path)
    assert all(learner.detector.seen == 0 for learner in service.learners.values())
    assert errors(exported(service), "state") == 1
    aside = tmp_path / f"{FILE_NAME}.unusable-{int(START)}"
    assert aside.read_bytes() == spoiled and not (tmp_path / FILE_NAME).exists()
    assert reason in capsys.readouterr().err
    assert rounds(service, 1) == [True]  # and it goes on
    assert _saved(tmp_path)["signals"]["requests_per_second"]["detector"] == {"seen": 1, "missed": 0}


def test_a_state_that_cannot_be_saved_is_counted_and_the_service_goes_on(
    fake: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    service = insight(fake.url, folder)
    folder.rmdir()  # the volume went away
    assert rounds(service, 2) == [True, True]
    samples = exported(service)
    assert errors(samples, "state") == 2 and gauge(samples, "projectai_anomaly_score", "error_ratio") == 0.01
    assert "the state was not saved: FileNotFoundError" in capsys.readouterr().err


def test_a_save_that_fails_halfway_leaves_the_previous_state_whole(
    fake: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = insight(fake.url, tmp_path)
    rounds(service, 2)
    before = (tmp_path / FILE_NAME).read_bytes()

    def crash(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ops.insight.state.os.replace", crash)
    rounds(service, 1, first=2)
    assert (tmp_path / FILE_NAME).read_bytes() == before
    assert list(tmp_path.iterdir()) == [tmp_path / FILE_NAME]


# --- the loop ---


class Time:
    """The loop's clock: moves only when the loop waits, or when a round takes time."""

    def __init__(self) -> None:
        self.now, self.waits = START, []

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_the_loop_runs_a_round_every_interval_and_never_bursts_after_a_slow_one(fake: StandIn, tmp_path: Path) -> None:
    clock = Time()
    service = insight(fake.url, tmp_path)
    slow = service.round

    def round_taking_time(now: float) -> bool:
        # The third round takes two and a half intervals (Prometheus slow).
        clock.now += 150 if now == START + 2 * INTERVAL else 1
        return slow(now)

    service.round = round_taking_time  # type: ignore[method-assign]
    done = run(service, threading.Event(), clock=lambda: clock.now, wait=clock.wait, rounds=5)
    assert done == 5
    assert clock.waits == [59, 59, 0, 59]


def test_the_loop_survives_a_round_that_fails_for_an_unknown_reason(
    fake: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Time()
    service = insight(fake.url, tmp_path)

    def broken(now: float) -> bool:
        raise RuntimeError("a bug")

    service.round = broken  # type: ignore[method-assign]
    assert run(service, threading.Event(), clock=lambda: clock.now, wait=clock.wait, rounds=3) == 3
    assert errors(exported(service), "round") == 3
    assert "a round failed: RuntimeError: a bug" in capsys.readouterr().err


def test_the_loop_stops_when_asked(fake: StandIn, tmp_path: Path) -> None:
    stop = threading.Event()
    service = insight(fake.url, tmp_path)
    assert run(service, stop, wait=lambda _: stop.set()) == 1


# --- the command line ---


def serve_argv(folder: Path, *extra: str) -> list[str]:
    return ["insight", "serve", "--prometheus", "http://127.0.0.1:1", "--state-dir", str(folder), *extra]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--namespace", 'x",y="z'], "is not a namespace name"),
        (["--interval-seconds", "5"], "5 is outside 10 to 3600"),
        (["--interval-seconds", "ten"], "'ten' is not a whole number"),
        (["--lead-seconds", "30"], "30 is outside 60 to 86400"),
        (["--timeout-seconds", "nan"], "nan s is outside 0.1 to 30 s"),
        (["--port", "70000"], "70000 is outside 0 to 65535"),
    ],
)
def test_bad_usage_says_what_was_expected(
    tmp_path: Path, extra: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, *serve_argv(tmp_path, *extra))
    assert code == 2 and problem in err


def test_refused_before_anything_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, *serve_argv(tmp_path / "missing"))
    assert code == 2 and "is not a directory; expected an existing, writable one" in err
    code, _, err = run_cli(capsys, *serve_argv(tmp_path, "--interval-seconds", "10", "--timeout-seconds", "3"))
    assert code == 2 and "a round asks 4 queries" in err
    (tmp_path / "file").write_text("")
    code, _, err = run_cli(capsys, *serve_argv(tmp_path / "file"))
    assert code == 2 and "is not a directory" in err


def test_the_command_builds_the_service_it_describes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.cli import parser
    from ops.insight import cli

    monkeypatch.setattr(Models, "default", classmethod(lambda cls: MODELS))
    arguments = parser().parse_args(serve_argv(tmp_path, "--port", "0", "--interval-seconds", "30"))
    service, server = cli.build(arguments, START)
    try:
        assert service.interval_seconds == 30 and service.lead_steps == 30  # 900 s ahead
        assert service.learners["error_ratio"].detector.interval == timedelta(seconds=30)
        assert [signal.name for signal in service.signals] == list(SIGNAL_NAMES)
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.server_close()
        service.prometheus.close()


# --- the queries, evaluated by promtool over the app's metric names ---


def test_the_queries_read_the_apps_series(tmp_path: Path) -> None:
    """Over ten minutes: 10 requests/s, 1/s failing; 99% of requests under 0.25 s; two API
    containers using 0.5 CPU each of a 1-CPU limit; probes and other namespaces ignored."""
    api = f'namespace="{NAMESPACE}",route="/v1/completions",method="POST"'
    probe = f'namespace="{NAMESPACE}",route="/readyz",method="GET"'
    series = {
        f'{REQUESTS}{{{api},status="200"}}': "0+540x10",
        f'{REQUESTS}{{{api},status="500"}}': "0+60x10",
        f'{REQUESTS}{{{probe},status="500"}}': "0+6000x10",
        f'{REQUESTS}{{namespace="other",route="/v1/completions",method="POST",status="500"}}': "0+600x10",
        **{
            f'{LATENCY}_bucket{{{api},le="{le}"}}': f"0+{count}x10"
            for le, count in (("0.1", 300), ("0.25", 594), ("0.5", 600), ("+Inf", 600))
        },
        **{
            f'container_cpu_usage_seconds_total{{namespace="{NAMESPACE}",pod="api-{pod}",container="api"}}': "0+30x10"
            for pod in "ab"
        },
        **{
            f'kube_pod_container_resource_limits{{namespace="{NAMESPACE}",pod="api-{pod}",container="api",'
            f'resource="cpu",unit="core"}}': "1x10"
            for pod in "ab"
        },
        f'container_cpu_usage_seconds_total{{namespace="{NAMESPACE}",pod="insight",container="insight"}}': "0+60x10",
    }
    expected = {"requests_per_second": 10, "latency_p99_seconds": 0.25, "error_ratio": 0.1, "cpu_saturation": 0.5}
    test = {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "promql_expr_test": [
            {
                "expr": signal.query,
                "eval_time": "10m",
                "exp_samples": [{"labels": "{}", "value": expected[signal.name]}],
            }
            for signal in signals(NAMESPACE)
        ],
    }
    (tmp_path / "empty.rules.yaml").write_text("groups: []\n")
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": ["empty.rules.yaml"], "tests": [test]}, sort_keys=False))
    result = subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_namespace_cannot_change_the_queries() -> None:
    with pytest.raises(ValueError, match="is not a namespace name"):
        signals('project-ai"} or vector(1) #')


def test_the_contracts_models_run_in_the_service_and_resume(fake: StandIn, tmp_path: Path) -> None:
    """The real detector and forecaster (ops/anomaly, ops/forecast): scored from the
    start, no forecast in their first day, every round saved and resumed."""
    real = Models.default()
    service = insight(fake.url, tmp_path, models=real)
    assert rounds(service, 5) == [True] * 5
    samples = exported(service)
    assert all(gauge(samples, "projectai_anomalous", name) == 0 for name in VALUES)
    assert gauge(samples, "projectai_forecast_peak", "error_ratio", window=PEAK_WINDOW) is None
    assert errors(samples, "model") == errors(samples, "state") == 0
    again = insight(fake.url, tmp_path, models=real)
    assert again.learners["error_ratio"].detector.count == 5
    assert len(again.learners["error_ratio"].forecaster) == 5
