"""preflight runs both policy packs over every stack: violations grouped by policy with
the URN and a fix, a Markdown table for pull requests, waivers listed, exit 1 on a
mandatory violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight import policies
from preflight.cli import main
from preflight.synth import Synthesizer
from tests.conftest import PROJECT_STACKS, write_program

PRIVILEGED_POD = """
import pulumi_kubernetes as k8s

k8s.core.v1.Pod(
    "debug",
    metadata={"name": "debug", "namespace": "default"},
    spec={"containers": [{"name": "shell", "image": "docker.io/library/busybox:latest",
                          "securityContext": {"privileged": True}}]},
)
"""


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_every_project_stack_passes_both_packs(project_synthesizer: Synthesizer, stack: str) -> None:
    config = project_synthesizer.program.stack_config(stack).values
    report = policies.check(project_synthesizer.synthesize(stack), config)
    assert report.errors == []
    assert [(f.policy, f.urn, f.message) for f in report.outcome.violations] == []
    assert report.outcome.unknown == []


def test_the_local_stack_applies_exactly_the_reviewed_waivers(project_synthesizer: Synthesizer) -> None:
    config = project_synthesizer.program.stack_config("local").values
    report = policies.check(project_synthesizer.synthesize("local"), config)
    waived = sorted((f.policy, f.urn.rsplit("::", 1)[1]) for f in report.outcome.waived)
    assert waived == [
        ("k8s-namespace-pod-security-restricted", "mesh-cni-namespace"),
        ("k8s-namespace-pod-security-restricted", "monitoring-namespace"),
        ("k8s-namespace-pod-security-restricted", "vault-dev-namespace"),
    ]


def test_a_mandatory_violation_fails_the_gate_with_the_urn_and_a_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "program").mkdir()
    write_program(tmp_path / "program", "debugging", PRIVILEGED_POD, {"dev": {}})
    code = main(["--program", str(tmp_path / "program"), "--stack", "dev", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1
    urn = "urn:pulumi:dev::debugging::pulumi:pulumi:Stack$kubernetes:core/v1:Pod::debug"
    # Each mandatory violation on one line, the fix once per policy.
    assert (
        f"     MANDATORY zero-trust/k8s-no-privileged-containers (critical) {urn}: container 'shell' is privileged"
        in out
    )
    fix = "Remove securityContext.privileged (or set it to false); grant specific capabilities instead."
    assert f"       fix: {fix}" in out
    table = (tmp_path / "out" / "policies.md").read_text()
    header = "| stack | pack | policy | level | severity | resource | violation | fix |"
    assert table.startswith(f"# Policy gate\n\n{header}")
    assert (
        f"| dev | zero-trust | k8s-no-privileged-containers | mandatory | critical | `{urn}` "
        f"| container 'shell' is privileged | {fix} |" in table
    )
    assert f"| dev | zero-trust | k8s-image-pinned | mandatory | high | `{urn}` |" in table


def test_advisory_violations_do_not_fail_the_gate(tmp_path: Path, config_root: Path) -> None:
    # Another program's stack named `dev` gets the dev environment's settings.
    for pack in ("zero-trust", "cost"):
        (config_root / pack / "dev.json").write_text('{"all": "advisory"}')
    (tmp_path / "program").mkdir()
    program = write_program(tmp_path / "program", "debugging", PRIVILEGED_POD, {"dev": {}})
    report = policies.check(Synthesizer(program).synthesize("dev"))
    zero_trust = [f for f in report.outcome.violations if f.pack == "zero-trust"]
    assert zero_trust and {f.enforcement for f in zero_trust} == {"advisory"}
    assert report.outcome.mandatory == [] and not report.failed


def test_a_broken_pack_configuration_fails_the_stack(tmp_path: Path, config_root: Path) -> None:
    (config_root / "cost" / "stacks" / "dev.json").write_text('{"cost-hpa-max-replicas": {"maxReplica": 3}}')
    (tmp_path / "program").mkdir()
    program = write_program(tmp_path / "program", "small", "import pulumi\npulumi.export('x', 1)\n", {"dev": {}})
    report = policies.check(Synthesizer(program).synthesize("dev"))
    assert report.failed
    assert report.errors == [
        f"{config_root}/cost/stacks/dev.json: cost-hpa-max-replicas.maxReplica: Extra inputs are not permitted"
    ]


SIX_REPLICAS = """
import pulumi_kubernetes as k8s

k8s.autoscaling.v2.HorizontalPodAutoscaler(
    "api",
    metadata={"name": "api", "namespace": "default"},
    spec={"minReplicas": 1, "maxReplicas": 6,
          "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}},
)
"""


def test_preflight_takes_the_settings_from_the_stacks_configuration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stacks = {"qa": {"projectai:environment": "dev"}, "sandbox": {"projectai:environment": "sandbox"}}
    write_program(tmp_path, "small", SIX_REPLICAS, stacks)
    # qa is a dev stack: dev's replica cap (5), not the rules' default (20).
    assert main(["--program", str(tmp_path), "--stack", "qa"]) == 1
    hpa = "urn:pulumi:qa::small::pulumi:pulumi:Stack$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::api"
    assert f"{hpa}: maxReplicas is 6, cap 5" in capsys.readouterr().out
    assert main(["--program", str(tmp_path), "--stack", "sandbox"]) == 2
    expected = "Pulumi.sandbox.yaml: projectai:environment: 'sandbox', expected one of local, dev, staging, prod"
    assert expected in capsys.readouterr().out
