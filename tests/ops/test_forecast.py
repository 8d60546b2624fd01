"""`ops forecast`, the forecaster's model and state, the predictive-scaling replay, the benchmark."""

from __future__ import annotations

import io
import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ops.cli import main
from ops.forecast import bench
from ops.forecast.model import Forecaster
from ops.forecast.replay import Scaling, replay

HALF_HOUR = timedelta(minutes=30)
DAY, WEEK = 48, 336


def demand(step: int) -> float:
    """A load with a daily cycle (low at night) and quieter weekends, at 30-minute steps."""
    hour = (step % DAY) / 2
    weekend = (step // DAY) % 7 >= 5
    return (100 + 80 * math.sin(2 * math.pi * (hour - 9) / 24)) * (0.6 if weekend else 1.0) + 30


def noisy(weeks: float, seed: int = 7, sigma: float = 6.0) -> list[float]:
    rng = random.Random(seed)
    return [demand(step) + rng.gauss(0, sigma) for step in range(int(weeks * WEEK))]


def write(path: Path, values: list[float], start: str = "2026-03-02T00:00:00Z", interval: timedelta = HALF_HOUR):
    first = datetime.fromisoformat(start)
    lines = ["timestamp,value"]
    for step, value in enumerate(values):
        label = (first + step * interval).isoformat()
        lines.append(f"{label[:-6] + 'Z' if start.endswith('Z') else label},{value!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse refusing an argument
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def forecaster_fed(values: list[float], **options: object) -> Forecaster:
    forecaster = Forecaster.for_interval(HALF_HOUR, **options)
    for value in values:
        forecaster.update(value)
    return forecaster


def mape(actual: list[float], predicted: list[float]) -> float:
    return sum(abs(p - a) / a for a, p in zip(actual, predicted, strict=True)) / len(actual)


# --- the CLI ---------------------------------------------------------------------------------


def test_forecast_prints_the_next_points_at_the_interval_in_the_input_zone_style(tmp_path, capsys):
    values = noisy(5)
    code, out, err = run(capsys, "forecast", str(write(tmp_path / "load.csv", values)), "--horizon", "48")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "timestamp,forecast"
    assert len(lines) == 49
    # 5 weeks after Monday 2026-03-02 00:00Z, every 30 minutes, zone written as Z.
    assert lines[1].startswith("2026-04-06T00:00:00Z,") and lines[48].startswith("2026-04-06T23:30:00Z,")
    predicted = [float(line.split(",")[1]) for line in lines[1:]]
    truth = [demand(len(values) + step) for step in range(48)]
    assert mape(truth, predicted) < 0.05


@pytest.mark.parametrize(
    ("start", "first_out"),
    [("2026-03-02T00:00:00", "2026-03-04T00:00:00,"), ("2026-03-02T00:00:00+02:00", "2026-03-04T00:00:00+02:00,")],
)
def test_forecast_keeps_naive_and_offset_timestamps_as_they_were(tmp_path, capsys, start, first_out):
    code, out, _ = run(capsys, "forecast", str(write(tmp_path / "load.csv", noisy(2 / 7), start)), "--horizon", "1")
    assert code == 0
    assert out.splitlines()[1].startswith(first_out)


def test_forecast_reads_stdin(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(write(tmp_path / "load.csv", noisy(1)).read_text()))
    code, out, _ = run(capsys, "forecast", "-", "--horizon", "3")
    assert code == 0 and len(out.splitlines()) == 4


@pytest.mark.parametrize(
    ("horizon", "code", "message"),
    [
        ("1", 0, None),
        ("1344", 0, None),  # four weeks of 30-minute points: the history's span
        ("1345", 2, "--horizon 1345; expected 1 to 1344 (4 weeks at 30 min a point)"),
        ("40321", 2, "40321 is outside 1 to 40320"),
        ("0", 2, "0 is outside 1 to 40320"),
        ("-3", 2, "-3 is outside 1 to 40320"),
        ("2.5", 2, "'2.5' is not a whole number"),
        ("many", 2, "'many' is not a whole number"),
    ],
)
def test_horizon_is_refused_outside_its_range_with_the_reason(tmp_path, capsys, horizon, code, message):
    path = write(tmp_path / "load.csv", noisy(1))
    status, out, err = run(capsys, "forecast", str(path), "--horizon", horizon)
    assert status == code
    if code == 0:
        assert len(out.splitlines()) == int(horizon) + 1
    else:
        assert out == "" and message in err and "Traceback" not in err


def test_history_shorter_than_a_day_is_refused_and_a_day_is_enough(tmp_path, capsys):
    code, out, err = run(capsys, "forecast", str(write(tmp_path / "short.csv", noisy(1)[:47])), "--horizon", "4")
    assert (code, out) == (2, "")
    assert "47 points; expected at least 48 (one day at 30 min a point)" in err
    code, out, _ = run(capsys, "forecast", str(write(tmp_path / "day.csv", noisy(1)[:48])), "--horizon", "4")
    assert code == 0 and len(out.splitlines()) == 5


@pytest.mark.parametrize("interval", [timedelta(minutes=7), timedelta(seconds=30), timedelta(days=2)])
def test_an_interval_without_a_daily_phase_is_refused(tmp_path, capsys, interval):
    path = write(tmp_path / "odd.csv", noisy(1)[:200], interval=interval)
    code, out, err = run(capsys, "forecast", str(path), "--horizon", "4")
    assert (code, out) == (2, "")
    assert "expected 60 s to 1 day, dividing a day" in err


def test_a_malformed_file_is_refused_by_the_series_reader(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,value\n2026-03-02T00:00:00Z,1\n2026-03-02T00:30:00Z,lots\n")
    code, out, err = run(capsys, "forecast", str(path), "--horizon", "4")
    assert (code, out) == (2, "")
    assert "value 'lots'; expected a number" in err


def test_help_names_the_replay(capsys):
    code, out, _ = run(capsys, "forecast", "--help")
    assert code == 0 and "ops forecast-replay" in out


# --- the model -------------------------------------------------------------------------------


def test_daily_and_weekly_seasonality_beat_seasonal_naive():
    synthetic = bench.Demand("synthetic", noisy(8))
    results = bench.evaluate(synthetic, {**bench.BASELINES, "forecaster": bench.CANDIDATES["forecaster"]})
    ours = results["forecaster"]["all"]["mase"]
    assert ours < 0.9 * results["seasonal-naive-week"]["all"]["mase"]
    # The daily naive forecast misses the weekend: far worse.
    assert ours < 0.5 * results["seasonal-naive-day"]["all"]["mase"]


def test_weekly_profile_tells_weekdays_from_weekends():
    forecaster = forecaster_fed(noisy(5))  # ends on a Sunday night
    predicted = forecaster.forecast(WEEK)
    truth = [demand(5 * WEEK + step) for step in range(WEEK)]
    assert mape(truth, predicted) < 0.07  # the noise is 6 on night loads of 40 to 50


@pytest.mark.parametrize(
    ("disturbed_day", "factor"),
    [(31, 5.0), (31, 0.3), (30, 0.0), (33, 0.3)],  # a spike day, a holiday, an outage, a holiday on Friday
)
def test_an_outlier_day_or_holiday_in_history_does_not_wreck_the_next_week(disturbed_day, factor):
    clean = noisy(5)
    disturbed = list(clean)
    for step in range(disturbed_day * DAY, (disturbed_day + 1) * DAY):
        disturbed[step] *= factor
    truth = [demand(5 * WEEK + step) for step in range(WEEK)]
    robust = forecaster_fed(disturbed).forecast(WEEK)
    assert mape(truth, robust) < 0.06
    # Seasonal-naive copies the disturbed day into next week.
    naive = disturbed[-WEEK:]
    assert mape(truth, naive) > 2 * mape(truth, robust)


@pytest.mark.parametrize("factor", [0.0, 0.3, 10.0, 1e9])
def test_a_strange_last_day_moves_the_forecast_by_no_more_than_the_level_clip(factor):
    clean = noisy(5)
    strange = clean[:-DAY] + [value * factor for value in clean[-DAY:]]
    reference = forecaster_fed(clean).forecast(WEEK)
    moved = forecaster_fed(strange).forecast(WEEK)
    ratios = [m / r for m, r in zip(moved, reference, strict=True)]
    assert min(ratios) >= 0.8 / 1.25 - 1e-9 and max(ratios) <= 1.25 / 0.8 + 1e-9


def test_a_level_change_is_followed_within_the_clip():
    values = noisy(5)
    grown = values[: -2 * DAY] + [value * 1.15 for value in values[-2 * DAY :]]
    predicted = forecaster_fed(grown).forecast(DAY)
    truth = [1.15 * demand(5 * WEEK + step) for step in range(DAY)]
    assert mape(truth, predicted) < 0.05


def test_the_forecaster_keeps_only_its_weeks_of_history_and_works_on_zeros():
    forecaster = forecaster_fed([0.0] * (9 * WEEK))
    assert len(forecaster) == 4 * WEEK == len(forecaster.state()["history"])
    assert forecaster.forecast(5) == [0.0] * 5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.update(math.nan), "expected a finite number"),
        (lambda f: f.update(math.inf), "expected a finite number"),
        (lambda f: f.update("12"), "expected a finite number"),
        (lambda f: f.update(True), "expected a finite number"),
        (lambda f: f.forecast(0), "expected a whole number from 1 to 1344"),
        (lambda f: f.forecast(1345), "expected a whole number from 1 to 1344"),
        (lambda f: f.forecast(2.0), "expected a whole number from 1 to 1344"),
    ],
)
def test_bad_calls_raise_value_error_saying_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call(forecaster_fed(noisy(1)))


def test_forecast_before_a_day_of_history_says_how_much_is_needed():
    with pytest.raises(ValueError, match="47 points of history; expected at least 48"):
        forecaster_fed(noisy(1)[:47]).forecast(1)


@pytest.mark.parametrize(
    ("interval", "options"),
    [
        (timedelta(0), {}),
        (timedelta(minutes=-30), {}),
        (timedelta(minutes=7), {}),
        (timedelta(days=2), {}),
        ("30m", {}),
        (HALF_HOUR, {"weeks": 0}),
        (HALF_HOUR, {"weeks": 9}),
        (HALF_HOUR, {"weeks": True}),
        (HALF_HOUR, {"level_days": 0}),
        (HALF_HOUR, {"level_days": math.nan}),
        (HALF_HOUR, {"level_clip": (1.2, 1.5)}),
        (HALF_HOUR, {"level_clip": (0.5,)}),
        (HALF_HOUR, {"level_clip": (0.5, math.inf)}),
    ],
)
def test_for_interval_refuses_what_it_cannot_model(interval, options):
    with pytest.raises(ValueError, match="expected"):
        Forecaster.for_interval(interval, **options)


# --- state -----------------------------------------------------------------------------------


def test_state_round_trips_through_json_to_an_identical_forecaster():
    original = forecaster_fed(noisy(6), weeks=3, level_days=0.5, level_clip=(0.9, 1.1))
    text = json.dumps(original.state())
    restored = Forecaster.from_state(json.loads(text))
    assert restored.state() == original.state()
    assert restored.forecast(WEEK) == original.forecast(WEEK)
    for value in (5.0, 500.0, 50.0):
        original.update(value)
        restored.update(value)
    assert restored.forecast(DAY) == original.forecast(DAY)
    assert len(text) < 3 * WEEK * 25  # bounded: three weeks of numbers


def _state(**changes: object) -> dict:
    state = forecaster_fed(noisy(1)).state()
    state.update(changes)
    return state


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([], "forecaster state is a list; expected an object"),
        (None, "forecaster state is a NoneType; expected an object"),
        (_state(version=2), "version 2; expected 1"),
        ({k: v for k, v in _state().items() if k != "history"}, "keys"),
        (_state(extra=1), "keys"),
        (_state(interval_seconds="1800"), "interval_seconds '1800'; expected a number of seconds"),
        (_state(interval_seconds=math.nan), "expected a number of seconds"),
        (_state(interval_seconds=1e300), "expected a number of seconds up to a day"),
        (_state(interval_seconds=-1800), "expected a number of seconds up to a day"),
        (_state(interval_seconds=420), "interval 420 s"),
        (_state(weeks="4"), "weeks '4'"),
        (_state(level_clip=[1.5, 2]), "level_clip"),
        (_state(history="1,2,3"), "history is not a list"),
        (_state(history=[1.0, "2"]), "value '2'; expected a finite number"),
        (_state(history=[1.0, None]), "value None; expected a finite number"),
        (_state(history=[0.0] * (4 * WEEK + 1)), "history of 1345 values; expected at most 1344"),
    ],
)
def test_malformed_state_is_refused_with_a_clear_value_error(state, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        Forecaster.from_state(state)


# --- the replay ------------------------------------------------------------------------------


def ramps(weeks: int) -> list[float]:
    """Quiet nights, then load climbing steeply from 06:00 to 09:00 every weekday."""
    values = []
    for step in range(weeks * WEEK):
        hour, weekday = (step % DAY) / 2, (step // DAY) % 7 < 5
        peak = 1000.0 if weekday else 400.0
        if hour < 6:
            level = 50.0
        elif hour < 9:
            level = 50.0 + (peak - 50.0) * (hour - 6) / 3
        elif hour < 20:
            level = peak
        else:
            level = 50.0
        values.append(level)
    return values


def test_replay_has_replicas_ready_before_the_load_rises_and_reports_the_cost():
    scaling = Scaling(capacity=100.0, startup=timedelta(minutes=20), min_replicas=1, max_replicas=20)
    report = replay(ramps(7), HALF_HOUR, scaling)
    predictive, reactive = report["predictive"], report["reactive"]
    assert report["lead_minutes"] == 60.0 and report["steps"] == 2 * WEEK
    assert predictive["rises"] == reactive["rises"] > 0
    assert predictive["rises_ready_share"] == 1.0
    assert reactive["rises_ready_share"] == 0.0  # it only reacts to load already there
    assert predictive["covered_share"] == 1.0 > reactive["covered_share"]
    assert predictive["accuracy"] > 0.85
    # Being ready early costs replica-hours above need; the reactive one pays in shortfall.
    assert 0 < predictive["over_provisioning_pct"] < 25
    assert predictive["shortfall_pct"] == 0 < reactive["shortfall_pct"]
    assert report["forecast"]["within_10pct_share"] > 0.95


def test_replay_respects_the_replica_bounds():
    report = replay(ramps(7), HALF_HOUR, Scaling(capacity=100.0, min_replicas=3, max_replicas=5))
    # Capped at 5 of the 10 needed: the cost cap wins and the report shows the shortfall.
    assert report["predictive"]["covered_share"] < 1.0
    assert report["predictive"]["shortfall_pct"] > 0


def test_forecast_replay_prints_one_json_line(tmp_path, capsys):
    path = write(tmp_path / "ramps.csv", ramps(7))
    code, out, err = run(capsys, "forecast-replay", str(path), "--capacity", "100", "--startup-seconds", "600")
    assert (code, err) == (0, "")
    assert len(out.splitlines()) == 1
    report = json.loads(out)
    assert report["startup_minutes"] == 10.0
    assert report["predictive"]["rises_ready_share"] == 1.0


@pytest.mark.parametrize(
    ("values", "argv", "message"),
    [
        (ramps(7), ["--min-replicas", "9", "--max-replicas", "4"], "replicas 9 to 4; expected 0 <= minimum <= maximum"),
        (ramps(7), ["--capacity", "0"], "argument --capacity: 0 is not a positive number"),
        (ramps(7), ["--capacity", "nan"], "argument --capacity: nan is not a positive number"),
        (ramps(7), ["--capacity", "lots"], "argument --capacity: 'lots' is not a number"),
        (ramps(7), ["--startup-seconds", "-1"], "outside 0 to 21600 s"),
        (ramps(1), [], "expected more than"),
        ([0.0] * 6 * WEEK, [], "no positive demand to size replicas from; expected --capacity"),
        ([0.0] * 6 * WEEK, ["--capacity", "5"], "no demand after the warm-up"),
        ([-1.0, *ramps(6)[1:]], ["--capacity", "5"], "a negative demand"),
    ],
)
def test_forecast_replay_refuses_bad_input_clearly(tmp_path, capsys, values, argv, message):
    path = write(tmp_path / "load.csv", values)
    code, out, err = run(capsys, "forecast-replay", str(path), *argv)
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_forecast_replay_on_the_vendored_taxi_series_beats_reactive(capsys):
    code, out, _ = run(capsys, "forecast-replay")
    assert code == 0
    report = json.loads(out)
    assert report["predictive"]["covered_share"] > report["reactive"]["covered_share"]
    assert report["predictive"]["rises_ready_share"] > 0.5


# --- the benchmark ---------------------------------------------------------------------------


def test_bench_quick_prints_ratios_against_seasonal_naive(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "nyc_taxi: 10,320 points, 5 disturbed windows" in out
    ratios = json.loads(out.splitlines()[-1])["mase_ratio_vs_seasonal_naive_week"]["nyc_taxi"]
    assert set(ratios) == {"all", "normal", "after", "disturbed"}
    assert ratios["all"] < 1.0  # better than seasonal-naive on real demand
    assert ratios["after"] < ratios["all"]  # the robustness shows most after a disturbance
