"""Alertmanager routing, checked by amtool: valid, and representative alerts go where
they should."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring.alerting import AlertingArgs, config
from tests.monitoring.test_rules import alerts

ARGS = AlertingArgs(
    team_channels={"ai-platform": "#ai-platform-alerts", "data": "#data-alerts"}, low_noise_channel="#ai-platform-info"
)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alertmanager") / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config(ARGS), sort_keys=False))
    return path


def route(config_file: Path, *labels: str) -> str:
    result = subprocess.run(
        ["amtool", "config", "routes", "test", "--config.file", str(config_file), *labels],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def test_amtool_accepts_the_configuration(config_file: Path) -> None:
    result = subprocess.run(["amtool", "check-config", str(config_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "5 receivers" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=ApiCircuitBreakerOpen", "severity=critical", "team=ai-platform"), "pagerduty"),
        (("alertname=ApiHighLatencyP99", "severity=warning", "team=ai-platform"), "slack-ai-platform"),
        (("alertname=ReplicationLag", "severity=warning", "team=data"), "slack-data"),
        (("alertname=SomethingNew", "severity=warning", "team=nobody"), "slack-low-noise"),
        (("alertname=Deployed", "severity=info", "team=ai-platform"), "slack-low-noise"),
        (("alertname=CriticalAlertUnresolved", "severity=escalation", "team=ai-platform"), "pagerduty-escalation"),
    ],
)
def test_representative_alerts_reach_the_right_receiver(config_file: Path, labels: tuple, receiver: str) -> None:
    assert route(config_file, *labels) == receiver


def test_every_project_alert_routes_by_its_severity(config_file: Path) -> None:
    expected = {"critical": "pagerduty", "warning": "slack-ai-platform", "escalation": "pagerduty-escalation"}
    for name, rule in alerts().items():
        labels = [f"{key}={value}" for key, value in {**rule["labels"], "alertname": name}.items()]
        assert route(config_file, *labels) == expected[rule["labels"]["severity"]], name


def test_a_critical_alert_silences_its_warning_twin() -> None:
    (inhibit,) = config(ARGS)["inhibit_rules"]
    assert inhibit == {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "namespace"],
    }


def test_no_credential_is_in_the_configuration(config_file: Path) -> None:
    text = config_file.read_text()
    assert "routing_key:" not in text and "api_url:" not in text
    assert "routing_key_file: /etc/alertmanager/secrets/alertmanager-pagerduty/routing-key" in text
