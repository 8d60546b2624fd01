"""The looking-ahead rules (components/monitoring/prediction_rules.py), checked by promtool:
valid, every alert fires on a series that should set it off and stays silent on one
that must not (a flapping anomaly, a budget spent slowly, memory and disks growing
slowly, a service that keeps succeeding), and every metric they read exists."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.prediction_rules import PredictionArgs, groups
from ops.insight.service import Metrics
from ops.insight.signals import SIGNAL_NAMES
from tests.conftest import local_rule_args
from tests.monitoring.test_metric_names import STANDARD, exported, metric_names
from tests.monitoring.test_rules import Case, gauge

ARGS = PredictionArgs(local_rule_args(), interval_seconds=60)
NS = 'namespace="project-ai"'
API = f'{NS},route="/v1/completions",method="POST"'
MI = 1024 * 1024
# Series of the kubelet and kube-state-metrics these rules read beyond the API's.
KUBELET_AND_LIMITS = {"kubelet_volume_stats_available_bytes", "kubelet_volume_stats_used_bytes"}
KUBELET_AND_LIMITS |= {"kube_pod_container_resource_limits"}


def late_failures(per_minute: float, bad: str) -> dict[str, str]:
    """Nine hours of 1000 requests a minute: clean for three hours, then `per_minute` of
    them bad (`bad`: 5xx, or slower than the latency threshold)."""
    clean, after = "0x179", f"0+{per_minute}x360"
    if bad == "errors":
        return {
            f'http_requests_total{{{API},status="200"}}': "0+1000x540",
            f'http_requests_total{{{API},status="500"}}': f"{clean} {after}",
        }
    fast = f"0+1000x179 180000+{1000 - per_minute}x360"
    bucket = f"http_request_duration_seconds_bucket{{{API},le="
    return {
        f'{bucket}"{ARGS.rules.latency_threshold_seconds}"}}': fast,
        f'{bucket}"+Inf"}}': "0+1000x540",
        f"http_request_duration_seconds_count{{{API}}}": "0+1000x540",
        f'http_requests_total{{{API},status="200"}}': "0+1000x540",
    }


def memory(growth_mi_per_minute: int) -> dict[str, str]:
    pod = f'{NS},pod="project-ai-api-7d9f",container="api"'
    return {
        f'container_memory_working_set_bytes{{{pod},id="/kubepods/x",image="api"}}': f"{200 * MI}+"
        f"{growth_mi_per_minute * MI}x90",
        f'kube_pod_container_resource_limits{{{pod},resource="memory",unit="byte"}}': f"{512 * MI}x90",
    }


def disk(loss_mi_per_minute: int) -> dict[str, str]:
    volume = 'namespace="monitoring",persistentvolumeclaim="prometheus-db"'
    return {
        f"kubelet_volume_stats_available_bytes{{{volume}}}": f"{10_000 * MI}-{loss_mi_per_minute * MI}x360",
        f"kubelet_volume_stats_used_bytes{{{volume}}}": f"{240 * MI}+{loss_mi_per_minute * MI}x360",
    }


def anomalous(signal: str, values: str, namespace: str = "project-ai") -> dict[str, str]:
    return {f'projectai_anomalous{{namespace="{namespace}",signal="{signal}",pod="insight-1"}}': values}


FLAPPING = " ".join(["1 0"] * 15)
CASES: dict[str, Case] = {
    **{
        f"Api{''.join(part.capitalize() for part in signal.split('_'))}Anomalous": Case(
            {**anomalous(signal, "1x30"), **anomalous(next(s for s in SIGNAL_NAMES if s != signal), "0x30")},
            # Flapping is not sustained; another namespace's anomaly is not the API's.
            {**anomalous(signal, FLAPPING), **anomalous(signal, "1x30", namespace="someone-else")},
            eval_minutes=20,
            labels={"signal": signal},
        )
        for signal in SIGNAL_NAMES
    },
    # A third of the budget spent in six hours: none left in about 12 more. A thirtieth: 180 more.
    "ApiAvailabilityBudgetExhaustionPredicted": Case(
        late_failures(0.5, "errors"), late_failures(0.05, "errors"), eval_minutes=540
    ),
    "ApiLatencyBudgetExhaustionPredicted": Case(late_failures(5, "slow"), late_failures(0.5, "slow"), eval_minutes=540),
    "ApiMemoryExhaustionPredicted": Case(
        memory(3),  # 3 MiB a minute from 200: 512 MiB within the hour ahead
        memory(1),
        eval_minutes=75,
        labels={"pod": "project-ai-api-7d9f", "container": "api"},
    ),
    "PersistentVolumeFillingUpPredicted": Case(
        disk(20),  # 20 MiB a minute, 2.8 GiB left after six hours: empty in 140 minutes
        disk(2),
        eval_minutes=360,
        labels={"persistentvolumeclaim": "prometheus-db", "namespace": "monitoring"},
    ),
    "ApiLatencyBreachPredicted": Case(
        gauge("projectai_forecast_peak", f'{NS},signal="latency_p99_seconds",window="15m"', 2, 30),
        {
            **gauge("projectai_forecast_peak", f'{NS},signal="latency_p99_seconds",window="15m"', 0.5, 30),
            **gauge("projectai_forecast_peak", f'{NS},signal="requests_per_second",window="15m"', 900, 30),
        },
        eval_minutes=20,
    ),
    # Never succeeded (the gauge's 0) against succeeding every minute (time() itself).
    "InsightServiceStale": Case(
        gauge("projectai_insight_last_success_timestamp_seconds", f'{NS},pod="insight-1"', 0, 30),
        {f'projectai_insight_last_success_timestamp_seconds{{{NS},pod="insight-1"}}': "0+60x30"},
        eval_minutes=20,
    ),
}


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups(ARGS) for rule in group["rules"] if "alert" in rule}


def expected(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    def render(text: str) -> str:
        for name, value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        return text

    return {
        "exp_labels": {**rule["labels"], "alertname": rule["alert"], **labels},
        "exp_annotations": {key: render(value) for key, value in rule["annotations"].items()},
    }


def promtool_test(
    rule_file: Path, folder: Path, name: str, series: dict[str, str], minutes: int, exp: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    test = {
        "interval": "1m",
        "input_series": [{"series": key, "values": values} for key, values in series.items()],
        "alert_rule_test": [{"eval_time": f"{minutes}m", "alertname": name, "exp_alerts": exp}],
    }
    tests = folder / "tests.yaml"
    tests.write_text(
        yaml.safe_dump({"rule_files": [str(rule_file)], "evaluation_interval": "1m", "tests": [test]}, sort_keys=False)
    )
    return subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "prediction.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups(ARGS)}, sort_keys=False))
    return path


def test_promtool_accepts_the_rules(rule_file: Path) -> None:
    result = subprocess.run(["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups(ARGS))} rules found" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_case_and_says_how_to_fix() -> None:
    assert set(alerts()) == set(CASES)
    for rule in alerts().values():
        assert rule["labels"]["severity"] == "warning" and rule["labels"]["team"] == "ai-platform"
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
        assert "$value" not in str(rule["annotations"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_alert_fires_when_it_should_and_stays_silent_when_it_should_not(
    name: str, rule_file: Path, tmp_path: Path
) -> None:
    case, rule = CASES[name], alerts()[name]
    fired = promtool_test(rule_file, tmp_path, name, case.firing, case.eval_minutes, [expected(rule, case.labels)])
    assert fired.returncode == 0, fired.stdout + fired.stderr
    silent = promtool_test(rule_file, tmp_path, name, case.silent, case.eval_minutes, [])
    assert silent.returncode == 0, silent.stdout + silent.stderr


def test_a_service_that_is_not_scraped_at_all_is_stale(rule_file: Path, tmp_path: Path) -> None:
    rule = alerts()["InsightServiceStale"]
    result = promtool_test(
        rule_file, tmp_path, "InsightServiceStale", {"up{job='other'}": "1x30"}, 20, [expected(rule, {})]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_exhausted_budget_is_the_burn_rate_alerts_business_not_a_prediction(rule_file: Path, tmp_path: Path) -> None:
    """Five times the budget spent from the start: nothing left to predict the end of."""
    series = {
        f'http_requests_total{{{API},status="200"}}': "0+1000x540",
        f'http_requests_total{{{API},status="500"}}': "0+5x540",
    }
    result = promtool_test(rule_file, tmp_path, "ApiAvailabilityBudgetExhaustionPredicted", series, 540, [])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("rule", [r for g in groups(ARGS) for r in g["rules"]], ids=lambda r: r.get("alert", "record"))
def test_every_metric_read_exists(rule: dict[str, Any]) -> None:
    """The app's metrics, the insight service's own (its registry), the budget recorded
    here, and the kubelet's and kube-state-metrics' standard series."""
    families = list(Metrics().registry.collect())
    insight = {family.name for family in families} | {sample.name for family in families for sample in family.samples}
    recorded = {r["record"] for g in groups(ARGS) for r in g["rules"] if "record" in r}
    unknown = metric_names(rule["expr"]) - (exported() | STANDARD | KUBELET_AND_LIMITS | insight | recorded)
    assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {sorted(unknown)}, which nothing exports"
