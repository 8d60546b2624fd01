"""The alert rules, checked by promtool: valid, and every alert fires when it should and
stays silent when it should not (`promtool test rules`, one case of each per alert)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.rules import groups
from tests.conftest import local_rule_args

ARGS = local_rule_args()
NS = 'namespace="project-ai"'
API = f'{NS},route="/v1/completions",method="POST"'


def requests(ok_per_minute: int, failed_per_minute: int, minutes: int) -> dict[str, str]:
    return {
        f'http_requests_total{{{API},status="200"}}': f"0+{ok_per_minute}x{minutes}",
        f'http_requests_total{{{API},status="500"}}': f"0+{failed_per_minute}x{minutes}",
    }


def latency(fast_per_minute: int, slow_per_minute: int, minutes: int) -> dict[str, str]:
    """Fast requests take 0.1 s (≤ 0.5 s bucket), slow ones 2 s (above the 1 s bucket)."""
    total = fast_per_minute + slow_per_minute
    series = f"http_request_duration_seconds_bucket{{{API},le="
    return {
        f'{series}"0.1"}}': f"0+{fast_per_minute}x{minutes}",
        f'{series}"0.5"}}': f"0+{fast_per_minute}x{minutes}",
        f'{series}"1.0"}}': f"0+{fast_per_minute}x{minutes}",
        f'{series}"2.5"}}': f"0+{total}x{minutes}",
        f'{series}"+Inf"}}': f"0+{total}x{minutes}",
        f"http_request_duration_seconds_count{{{API}}}": f"0+{total}x{minutes}",
        **requests(total, 0, minutes),
    }


def gauge(name: str, labels: str, value: float, minutes: int) -> dict[str, str]:
    return {f"{name}{{{labels}}}": f"{value}x{minutes}"}


@dataclass
class Case:
    firing: dict[str, str]
    silent: dict[str, str]
    eval_minutes: int
    labels: dict[str, str] = field(default_factory=dict)


POD = f'{NS},pod="project-ai-api-7d9f",container="api"'
CERT = 'namespace="cert-manager",exported_namespace="project-ai",name="api-tls"'
AVAILABILITY = Case(requests(980, 20, 300), requests(9995, 5, 300), eval_minutes=240)  # 2% vs 0.05% errors
LATENCY_SLO = Case(latency(80, 20, 300), latency(995, 5, 300), eval_minutes=240)  # 20% vs 0.5% slow
CASES: dict[str, Case] = {
    **{f"ApiAvailabilityBudgetBurn{speed}": AVAILABILITY for speed in ("Fast1h", "Fast6h", "Slow1d", "Slow3d")},
    **{f"ApiLatencyBudgetBurn{speed}": LATENCY_SLO for speed in ("Fast1h", "Fast6h", "Slow1d", "Slow3d")},
    "ApiHighErrorRate": Case(requests(40, 20, 30), requests(60, 1, 30), eval_minutes=20),
    "ApiHighLatencyP99": Case(latency(90, 10, 30), latency(1000, 1, 30), eval_minutes=25),
    "ApiPodCrashLooping": Case(
        gauge("kube_pod_container_status_waiting_reason", f'{POD},reason="CrashLoopBackOff"', 1, 30),
        gauge("kube_pod_container_status_waiting_reason", f'{POD},reason="CrashLoopBackOff"', 0, 30),
        eval_minutes=20,
        labels={"pod": "project-ai-api-7d9f", "container": "api", "reason": "CrashLoopBackOff"},
    ),
    "ApiPodRestarting": Case(
        {f"kube_pod_container_status_restarts_total{{{POD}}}": "0+1x90"},
        {f"kube_pod_container_status_restarts_total{{{POD}}}": "2x90"},
        eval_minutes=70,
        labels={"pod": "project-ai-api-7d9f", "container": "api"},
    ),
    "ApiAutoscalerAtMaximum": Case(
        {
            **gauge(
                "kube_horizontalpodautoscaler_status_current_replicas", f'{NS},horizontalpodautoscaler="api"', 10, 30
            ),
            **gauge("kube_horizontalpodautoscaler_spec_max_replicas", f'{NS},horizontalpodautoscaler="api"', 10, 30),
        },
        {
            **gauge(
                "kube_horizontalpodautoscaler_status_current_replicas", f'{NS},horizontalpodautoscaler="api"', 5, 30
            ),
            **gauge("kube_horizontalpodautoscaler_spec_max_replicas", f'{NS},horizontalpodautoscaler="api"', 10, 30),
        },
        eval_minutes=25,
        labels={"horizontalpodautoscaler": "api"},
    ),
    "ApiDisruptionBudgetBlocked": Case(
        gauge("kube_poddisruptionbudget_status_pod_disruptions_allowed", f'{NS},poddisruptionbudget="api"', 0, 90),
        gauge("kube_poddisruptionbudget_status_pod_disruptions_allowed", f'{NS},poddisruptionbudget="api"', 1, 90),
        eval_minutes=75,
        labels={"poddisruptionbudget": "api"},
    ),
    "ApiCircuitBreakerOpen": Case(
        gauge("circuit_breaker_state", f'{NS},upstream="inference",pod="a"', 2, 10),
        gauge("circuit_breaker_state", f'{NS},upstream="inference",pod="a"', 0, 10),
        eval_minutes=5,
    ),
    "ApiHighRateLimitedShare": Case(
        {
            f'rate_limit_decisions_total{{{NS},scope="key",decision="limited"}}': "0+30x30",
            f'rate_limit_decisions_total{{{NS},scope="key",decision="allowed"}}': "0+60x30",
        },
        {
            f'rate_limit_decisions_total{{{NS},scope="key",decision="limited"}}': "0+1x30",
            f'rate_limit_decisions_total{{{NS},scope="key",decision="allowed"}}': "0+60x30",
        },
        eval_minutes=20,
    ),
    "ApiAuthFailureSpike": Case(
        {f'auth_failures_total{{{NS},reason="invalid"}}': "0+120x30"},
        {f'auth_failures_total{{{NS},reason="invalid"}}': "0+10x30"},
        eval_minutes=15,
    ),
    "ApiBlockedRequestSpike": Case(
        {f'blocked_requests_total{{{NS},reason="sql_injection"}}': "0+120x30"},
        {f'blocked_requests_total{{{NS},reason="sql_injection"}}': "0+10x30"},
        eval_minutes=15,
    ),
    "ApiCertificateExpiringSoon": Case(
        gauge("certmanager_certificate_expiration_timestamp_seconds", f'{NS},name="api-tls"', 7 * 86400, 120),
        gauge("certmanager_certificate_expiration_timestamp_seconds", f'{NS},name="api-tls"', 60 * 86400, 120),
        eval_minutes=90,
        labels={"name": "api-tls"},
    ),
    "CriticalAlertUnresolved": Case(
        gauge("circuit_breaker_state", f'{NS},upstream="inference",pod="a"', 2, 60),
        gauge("circuit_breaker_state", f'{NS},upstream="inference",pod="a"', 2, 20),  # resolved in 20 min
        eval_minutes=45,
        labels={"escalated": "ApiCircuitBreakerOpen"},
    ),
    "ApiRedisUnavailable": Case(
        gauge("rate_limiter_fallback", f'{NS},pod="a"', 1, 20),
        gauge("rate_limiter_fallback", f'{NS},pod="a"', 0, 20),
        eval_minutes=10,
    ),
    "ApiUsageSettlementsPending": Case(
        gauge("usage_settlements_pending", f'{NS},pod="a"', 3, 40),
        gauge("usage_settlements_pending", f'{NS},pod="a"', 0, 40),
        eval_minutes=30,
    ),
    "SecretExpiringSoon": Case(
        gauge("projectai_secret_expiry_timestamp_seconds", f'{NS},secret="upstream-token"', 20 * 86400, 120),
        gauge("projectai_secret_expiry_timestamp_seconds", f'{NS},secret="upstream-token"', 90 * 86400, 120),
        eval_minutes=90,
        labels={"secret": "upstream-token"},
    ),
    "ApiDatabasePoolSaturated": Case(
        {
            **gauge("db_pool_connections", f'{NS},state="checked_out",pod="a"', 19, 30),
            **gauge("db_pool_connections", f'{NS},state="idle",pod="a"', 1, 30),
        },
        {
            **gauge("db_pool_connections", f'{NS},state="checked_out",pod="a"', 5, 30),
            **gauge("db_pool_connections", f'{NS},state="idle",pod="a"', 15, 30),
        },
        eval_minutes=20,
    ),
}


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for group in groups(ARGS) for rule in group["rules"] if "alert" in rule}


def expected(rule: dict[str, Any], case: Case) -> dict[str, Any]:
    def render(text: str) -> str:
        for name, value in case.labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", value)
        return text

    return {
        "exp_labels": {**rule["labels"], "alertname": rule["alert"], **case.labels},
        "exp_annotations": {key: render(value) for key, value in rule["annotations"].items()},
    }


def promtool_tests(name: str, case: Case) -> list[dict[str, Any]]:
    rule = alerts()[name]
    test = {
        "interval": "1m",
        "input_series": None,
        "alert_rule_test": [{"eval_time": f"{case.eval_minutes}m", "alertname": name}],
    }
    firing = {
        **test,
        "input_series": [{"series": k, "values": v} for k, v in case.firing.items()],
        "alert_rule_test": [{**test["alert_rule_test"][0], "exp_alerts": [expected(rule, case)]}],
    }
    silent = {
        **test,
        "input_series": [{"series": k, "values": v} for k, v in case.silent.items()],
        "alert_rule_test": [{**test["alert_rule_test"][0], "exp_alerts": []}],
    }
    return [firing, silent]


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "api.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups(ARGS)}, sort_keys=False))
    return path


def test_promtool_accepts_the_rules(rule_file: Path) -> None:
    result = subprocess.run(["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups(ARGS))} rules found" in result.stdout


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    assert set(alerts()) == set(CASES)


def test_every_alert_says_who_what_and_how_to_fix(rule_file: Path) -> None:
    for rule in alerts().values():
        assert rule["labels"]["severity"] in ("critical", "warning", "info", "escalation") and rule["labels"]["team"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_alert_fires_when_it_should_and_stays_silent_when_it_should_not(
    name: str, rule_file: Path, tmp_path: Path
) -> None:
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {"rule_files": [str(rule_file)], "evaluation_interval": "1m", "tests": promtool_tests(name, CASES[name])},
            sort_keys=False,
        )
    )
    result = subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_recorded_secret_expiries_drive_the_expiry_alert(tmp_path: Path) -> None:
    """The stack config's dates become series: one 10 days out fires, one 200 out does not."""
    args = local_rule_args(secret_expiry=(("pagerduty", 10 * 86400), ("slack", 200 * 86400)))
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": groups(args)}, sort_keys=False))
    alert = next(rule for group in groups(args) for rule in group["rules"] if rule.get("alert") == "SecretExpiringSoon")
    firing = {"exp_labels": {**alert["labels"], "alertname": "SecretExpiringSoon", "secret": "pagerduty"}}
    firing["exp_annotations"] = {
        k: v.replace("{{ $labels.secret }}", "pagerduty") for k, v in alert["annotations"].items()
    }
    test = {
        "interval": "1m",
        "input_series": [],
        "alert_rule_test": [{"eval_time": "90m", "alertname": "SecretExpiringSoon", "exp_alerts": [firing]}],
    }
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": [test]}))
    result = subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
