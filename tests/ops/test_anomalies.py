"""The online anomaly detector, `ops anomalies` and its benchmark: decisions that only
depend on the past, a state that resumes exactly, incidents found and clean series quiet."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from ops.anomaly import bench, synthetic
from ops.anomaly.detector import Config, Detector, SortedWindow
from tests.ops.conftest import run

FIVE_MINUTES = synthetic.INTERVAL


def flags(values, **options):
    detector = Detector.for_interval(FIVE_MINUTES, **options)
    return [detector.update(value) for value in values]


def labels(count):
    return [(synthetic.START + i * FIVE_MINUTES).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(count)]


def write(path, values):
    path.write_text(
        "timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(labels(len(values)), values, strict=True))
    )
    return path


@pytest.mark.parametrize("metric", sorted(synthetic.INCIDENTS))
def test_every_injected_incident_is_found_and_few_alarms_fall_outside(metric):
    series = synthetic.series(metric, days=21, seed=5, count=3)
    found = [anomaly for _, anomaly in flags(series.values)]
    inside = {i for start, end in series.windows for i in range(start, end + 1)}
    assert all(any(found[start : end + 1]) for start, end in series.windows)
    assert sum(1 for i, anomaly in enumerate(found) if anomaly and i not in inside) <= 2


def test_a_clean_seasonal_series_raises_no_alarm():
    # Latency follows the load's daily and weekly pattern: none of it is an incident.
    for seed in (1, 2):
        assert not any(anomaly for _, anomaly in flags(synthetic.clean("latency", 21, seed)))


def test_clean_traffic_with_weekends_stays_under_one_false_alarm_a_week():
    for metric in ("requests", "errors"):
        assert sum(anomaly for _, anomaly in flags(synthetic.clean(metric, 28, 7))) <= 4


def test_a_decision_never_changes_when_later_points_are_appended():
    values = synthetic.series("requests", days=10, seed=3, count=2).values
    whole = flags(values)
    for cut in (1, 500, 1700, 2300):
        assert flags(values[:cut]) == whole[:cut]


def test_a_resumed_detector_gives_exactly_the_uninterrupted_outputs():
    values = synthetic.series("latency", days=10, seed=4, count=2).values
    values[1000] = math.nan  # a failed scrape on the way
    whole = flags(values)
    detector = Detector.for_interval(FIVE_MINUTES)
    first = [detector.update(value) for value in values[:1500]]
    resumed = Detector.from_state(json.loads(json.dumps(detector.state(), allow_nan=False)))
    rest = [resumed.update(value) for value in values[1500:]]
    assert _same(first + rest, whole)


def _same(a, b):
    return all((x == y) or (math.isnan(x[0]) and math.isnan(y[0]) and x[1] == y[1]) for x, y in zip(a, b, strict=True))


def test_the_state_stops_growing_once_its_memory_is_full():
    values = synthetic.clean("requests", 35, 2)
    detector = Detector.for_interval(FIVE_MINUTES)
    sizes = []
    for week in range(5):
        for value in values[week * 7 * synthetic.DAY : (week + 1) * 7 * synthetic.DAY]:
            detector.update(value)
        sizes.append(len(json.dumps(detector.state())))
    # Four weeks fill the seasonal memory (a week at 5 minutes: 2016 phases x 4 seasons).
    assert sizes[3] < 300_000 and abs(sizes[4] - sizes[3]) < 0.02 * sizes[3]
    assert all(len(past) == 4 for past in detector.phases)


def test_a_one_second_series_shares_seasonal_slots_to_stay_small():
    detector = Detector.for_interval(__import__("datetime").timedelta(seconds=1))
    assert detector.config.phase_points == 300 and len(detector.phases) == 2016
    for value in range(5000):
        detector.update(float(value % 7))
    assert Detector.from_state(detector.state()).state() == detector.state()


def test_a_missing_point_scores_nan_keeps_the_phase_and_never_alarms():
    detector = Detector.for_interval(FIVE_MINUTES)
    for value in synthetic.clean("requests", 2, 1):
        detector.update(value)
    score, anomaly = detector.update(math.nan)
    assert math.isnan(score) and not anomaly and detector.count == 2 * synthetic.DAY + 1
    assert detector.update(math.inf)[1] is False


def test_a_lone_spike_after_warmup_is_one_alarm_with_a_cooldown_after_it():
    values = synthetic.clean("latency", 3, 9)
    values[700] *= 5
    values[706] *= 5  # inside the hour's cooldown: the same incident, no new alarm
    found = [i for i, (_, anomaly) in enumerate(flags(values)) if anomaly]
    assert found == [700]
    assert [i for i, (_, anomaly) in enumerate(flags(values, cooldown=0)) if anomaly] == [700, 706]


def test_no_alarm_during_the_warmup():
    values = synthetic.clean("latency", 2, 9)
    values[100] *= 10
    assert not any(anomaly for _, anomaly in flags(values, warmup=200))
    assert flags(values, warmup=50)[100][1]


def test_the_sorted_window_matches_a_direct_median_and_mad():
    import random
    import statistics

    rng = random.Random(0)
    for _ in range(500):
        values = [rng.choice([rng.random(), 0.0, 1.0, round(rng.random(), 1)]) for _ in range(rng.randint(1, 40))]
        window = SortedWindow(30, values)
        kept = values[-30:]
        center = statistics.median(kept)
        mad = statistics.median(abs(v - center) for v in kept)
        expected = 1.4826 * mad if mad else 1.2533 * sum(abs(v - center) for v in kept) / len(kept)
        assert window.median() == center and window.scale(center) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"treshold": 5}, "unknown option 'treshold'"),
        ({"method": "magic"}, "method 'magic'; expected one of ensemble, seasonal, spike"),
        ({"threshold": math.nan}, "threshold nan"),
        ({"threshold": 0.5}, "expected a number from 1 to 1000"),
        ({"seasons": 9}, "seasons 9"),
        ({"warmup": True}, "warmup True"),
        ({"season": "month"}, "season 'month'"),
    ],
)
def test_options_out_of_range_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Detector.for_interval(FIVE_MINUTES, **options)


def test_a_season_shorter_than_four_points_or_a_bad_interval_is_refused():
    from datetime import timedelta

    with pytest.raises(ValueError, match="season 'day' at a 1 day, 0:00:00 interval is 1 points"):
        Detector.for_interval(timedelta(days=1), season="day")
    assert Detector.for_interval(timedelta(days=2)).config.season_points == 0  # auto: no season at all
    for interval in (timedelta(0), timedelta(seconds=-5), 300):
        with pytest.raises(ValueError, match="expected a positive timedelta"):
            Detector.for_interval(interval)


def _state():
    detector = Detector.for_interval(FIVE_MINUTES)
    for value in synthetic.clean("requests", 3, 1):
        detector.update(value)
    return json.loads(json.dumps(detector.state()))


def _broken(change):
    state = _state()
    change(state)
    return state


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([], "not an anomaly detector's state"),
        ({"kind": "other"}, "not an anomaly detector's state"),
        (_broken(lambda s: s.update(version=2)), "version 2; expected 1"),
        (_broken(lambda s: s.pop("histogram")), "keys"),
        (_broken(lambda s: s.update(extra=1)), "keys"),
        (_broken(lambda s: s["config"].pop("window")), "config"),
        (_broken(lambda s: s["config"].update(threshold=-1)), "threshold -1"),
        (_broken(lambda s: s["config"].update(season_points=3)), "at least 4 points per season"),
        (_broken(lambda s: s.update(count=-1)), "count -1"),
        (_broken(lambda s: s.update(count="12")), "count '12'"),
        (_broken(lambda s: s["phases"].pop()), "phases; expected a list of 2016"),
        (_broken(lambda s: s["phases"][0].extend([1, 2, 3, 4, 5])), r"phases\[0\]; expected a list of at most 4"),
        (_broken(lambda s: s["seasonal_residuals"].__setitem__(0, float("nan"))), "holds nan"),
        (_broken(lambda s: s["spike_residuals"].extend([0.0] * 2000)), "at most 576"),
        (_broken(lambda s: s["recent"].__setitem__(0, "7")), "holds '7'"),
        (_broken(lambda s: s["histogram"].pop()), "histogram; expected 160 counts"),
        (_broken(lambda s: s["histogram"].__setitem__(0, -1)), "histogram; expected 160 counts"),
        (_broken(lambda s: s.update(weight=0)), "weight 0"),
        (_broken(lambda s: s.update(last_alarm=10**6)), "last_alarm 1000000"),
        (_broken(lambda s: s.update(slot=[0.0])), r"expected \[sum, count\]"),
    ],
)
def test_a_malformed_or_foreign_state_is_refused_with_what_is_wrong(state, message):
    with pytest.raises(ValueError, match=message):
        Detector.from_state(state)


def test_the_state_round_trips_unchanged():
    state = _state()
    assert Detector.from_state(state).state() == state
    assert Detector.from_state(Config().__class__ and Detector(Config()).state()).config == Config()


def test_the_cli_prints_every_point_with_its_score_and_flags_the_incident(tmp_path, capsys):
    values = synthetic.clean("latency", 3, 9)
    values[700] *= 5
    path = write(tmp_path / "latency.csv", values)
    code, out, err = run(capsys, "anomalies", str(path))
    assert code == 0 and err == ""
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["timestamp", "value", "score", "anomaly"]
    assert [row["timestamp"] for row in rows] == labels(len(values))
    assert [i for i, row in enumerate(rows) if row["anomaly"] == "1"] == [700]
    assert {row["anomaly"] for row in rows} == {"0", "1"} and float(rows[700]["score"]) > 6
    expected = flags(values)
    assert [round(float(row["score"]), 3) for row in rows] == [round(score, 3) for score, _ in expected]


def test_the_cli_options_reach_the_detector(tmp_path, capsys):
    values = synthetic.clean("latency", 2, 9)
    values[100] *= 10
    path = write(tmp_path / "s.csv", values)
    _, out, _ = run(capsys, "anomalies", str(path), "--warmup", "50", "--method", "spike", "--fixed-threshold")
    assert out.splitlines()[101].endswith(",1")
    _, out, _ = run(capsys, "anomalies", str(path), "--threshold", "1000")
    assert not any(line.endswith(",1") for line in out.splitlines())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--threshold", "nan"], "ops: refused: threshold nan; expected a number from 1 to 1000"),
        (["--threshold", "0"], "threshold 0.0"),
        (["--seasons", "1"], "seasons 1; expected a whole number from 2 to 8"),
        (["--cooldown", "-1"], "cooldown -1"),
        (["--method", "best"], "invalid choice: 'best'"),
        (["--warmup", "ten"], "invalid int value: 'ten'"),
    ],
)
def test_the_cli_refuses_bad_options_with_exit_2(tmp_path, capsys, arguments, message):
    path = write(tmp_path / "s.csv", [1.0, 2.0, 3.0])
    code, out, err = run(capsys, "anomalies", str(path), *arguments)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_the_cli_refuses_a_bad_file_with_exit_2(tmp_path, capsys):
    path = tmp_path / "gap.csv"
    path.write_text("timestamp,value\n2026-01-01T00:00:00Z,1\n2026-01-01T00:05:00Z,2\n2026-01-01T00:15:00Z,3\n")
    code, out, err = run(capsys, "anomalies", str(path))
    assert code == 2 and out == "" and "gap.csv:4: 10min after the point before" in err


def test_the_benchmark_quick_run_prints_its_figures_and_its_choice(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["candidate", "data"]
    rows = [line.split() for line in out[1:-1]]
    assert {(row[0], row[1]) for row in rows} == {(c.name, d) for c in bench.CANDIDATES for d in ("NAB", "synthetic")}
    for row in rows:
        precision, recall, f1, accuracy = map(float, row[2:6])
        assert 0 <= precision <= 1 and 0 <= recall <= 1 and 0 <= accuracy <= 1
        assert f1 == pytest.approx(2 * precision * recall / (precision + recall) if precision + recall else 0, abs=2e-3)
    assert out[-1].startswith("chosen: ") and out[-1].split()[1] in {c.name for c in bench.CANDIDATES}


def test_the_benchmark_counts_windows_alarm_events_and_probation():
    series = bench.Labelled("s", FIVE_MINUTES, [0.0] * 100, [(40, 49), (80, 89)])
    flags_ = [False] * 100
    flags_[5] = True  # in the probation (first 15 points): not counted
    flags_[45] = flags_[47] = True  # one alarm event, inside the first window
    flags_[60] = True  # a false alarm
    tally = bench.score(series, flags_)
    assert (tally.windows, tally.found, tally.alarm_events, tally.true_alarm_events) == (2, 1, 2, 1)
    assert (tally.precision, tally.recall, tally.f1) == (0.5, 0.5, 0.5)
    assert tally.points == 85 and tally.correct_points == 85 - 18 - 1
