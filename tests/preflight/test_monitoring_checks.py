"""preflight runs promtool and amtool over the monitoring artefacts of any program."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import monitoring
from preflight.cli import main
from preflight.synth import Synthesizer
from tests.conftest import write_program

PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

expr = pulumi.Config().require("expr")
k8s.apiextensions.CustomResource(
    "rules", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
    metadata={"name": "api", "namespace": "apps"},
    spec={"groups": [{"name": "g", "rules": [{"alert": "A", "expr": expr, "labels": {"severity": "warning"}}]}]},
)
k8s.helm.v3.Release(
    "kps", chart="kube-prometheus-stack", version="76.5.1",
    values={"alertmanager": {"config": {"route": {"receiver": pulumi.Config().require("receiver")},
                                        "receivers": [{"name": "default"}]}}},
)
"""


@pytest.fixture
def program(tmp_path: Path):
    return write_program(
        tmp_path,
        "monitored",
        PROGRAM,
        {
            "good": {"monitored:expr": "up == 0", "monitored:receiver": "default"},
            "bad": {"monitored:expr": "rate(up[5m]", "monitored:receiver": "nobody"},
        },
    )


def test_good_artefacts_pass_both_tools(program) -> None:
    checks = monitoring.check(Synthesizer(program).synthesize("good"))
    assert sorted((c.tool, c.subject, c.status) for c in checks) == [
        ("amtool", "Alertmanager config of Release kps", "ok"),
        ("promtool", "PrometheusRule apps/api", "ok"),
    ]


def test_bad_artefacts_fail_the_stack_with_the_tools_words(program, capsys) -> None:
    assert main(["--program", str(program.directory), "--stack", "bad"]) == 1
    out = capsys.readouterr().out
    assert "   tools: amtool 1 failed; promtool 1 failed" in out
    assert "     FAILED promtool PrometheusRule apps/api\n" in out
    assert "     FAILED amtool Alertmanager config of Release kps\n" in out
    assert 'undefined receiver "nobody"' in out


def test_a_missing_tool_is_reported_unchecked_not_passed(program, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    checks = monitoring.check(Synthesizer(program).synthesize("good"))
    assert {c.status for c in checks} == {"unchecked"}
    assert sorted(c.detail for c in checks) == ["amtool is not installed", "promtool is not installed"]
