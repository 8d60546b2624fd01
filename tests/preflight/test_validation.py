"""Strict Kubernetes and CRD validation, the command line, its reports and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from preflight import kubernetes
from preflight.cli import main
from preflight.kubernetes import INVALID, UNVALIDATED, VALID
from preflight.project import PreflightError, Program
from preflight.synth import Synthesizer
from tests.conftest import CRD_SCHEMAS, FIXTURES, ROOT, write_program

KUBERNETES = FIXTURES / "kubernetes"


@pytest.fixture(scope="module")
def fixture_stacks() -> Synthesizer:
    return Synthesizer(Program.load(KUBERNETES))


def statuses(synthesizer: Synthesizer, stack: str, crd_schemas: Path | None = CRD_SCHEMAS) -> dict[str, str]:
    return {r.title: r.status for r in kubernetes.validate(synthesizer.synthesize(stack), "1.33", crd_schemas)}


def test_a_bogus_field_fails_strict_validation(fixture_stacks: Synthesizer) -> None:
    results = kubernetes.validate(fixture_stacks.synthesize("bogus-field"), "1.33", CRD_SCHEMAS)
    (invalid,) = [r for r in results if r.status == INVALID]
    assert invalid.title == "Deployment default/web"
    assert invalid.errors == [
        "spec.template.spec.containers.0: Additional properties are not allowed ('imagePullPolicyy' was unexpected)"
    ]


def test_custom_resources_use_crd_schemas_and_unknown_ones_are_unvalidated(
    fixture_stacks: Synthesizer,
) -> None:
    found = statuses(fixture_stacks, "custom-resources")
    assert found["Certificate web/web"] == VALID
    assert found["Certificate web/bad"] == INVALID
    assert found["Widget web/gadget"] == UNVALIDATED


def test_without_a_schema_folder_every_custom_resource_is_unvalidated(fixture_stacks: Synthesizer) -> None:
    found = statuses(fixture_stacks, "custom-resources", crd_schemas=None)
    assert sorted(title for title, status in found.items() if status == UNVALIDATED) == [
        "Certificate web/bad",
        "Certificate web/web",
        "Widget web/gadget",
    ]


def test_auto_named_objects_validate_in_the_default_namespace(fixture_stacks: Synthesizer) -> None:
    (result,) = kubernetes.validate(fixture_stacks.synthesize("valid"), "1.33", CRD_SCHEMAS)
    assert result.status == VALID and result.namespace == "default" and result.name.startswith("settings-")


def test_unsupported_kubernetes_version_is_a_clear_error(fixture_stacks: Synthesizer) -> None:
    with pytest.raises(PreflightError, match=r"Kubernetes 1\.9 has no schemas in kubernetes-validate"):
        kubernetes.validate(fixture_stacks.synthesize("valid"), "1.9", CRD_SCHEMAS)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    program = ["--program", str(KUBERNETES), "--crd-schemas", str(CRD_SCHEMAS)]
    assert run_cli(capsys, *program, "--stack", "valid")[0] == 0
    assert run_cli(capsys, *program, "--stack", "bogus-field")[0] == 1
    assert run_cli(capsys, *program, "--stack", "nope")[0] == 2
    assert run_cli(capsys, "--program", str(FIXTURES / "refs"), "--stack", "missing-output")[0] == 2


def test_unvalidated_fails_only_when_asked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write_program(
        tmp_path,
        "widgets",
        "import pulumi_kubernetes as k8s\n"
        "k8s.apiextensions.CustomResource('w', api_version='example.com/v1', kind='Widget', spec={'size': 1})\n",
        {"dev": {}},
    )
    base = ["--program", str(tmp_path), "--stack", "dev", "--crd-schemas", str(CRD_SCHEMAS)]
    code, out = run_cli(capsys, *base)
    assert code == 0 and "1 unvalidated" in out and "UNVALIDATED Widget default/w-" in out
    assert run_cli(capsys, *base, "--fail-on-unvalidated")[0] == 1


def test_cli_writes_reports_and_manifests(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = run_cli(
        capsys,
        "--program",
        str(ROOT),
        "--stack",
        "local",
        "--stack",
        "prod-global",
        "--out",
        str(tmp_path),
        "--crd-schemas",
        str(CRD_SCHEMAS),
    )
    assert code == 0
    # Every object valid, and each one written out.
    valid = re.search(r"kubernetes 1\.33: (\d+) valid, 0 invalid, 0 unvalidated", out)
    assert "== stack local: OK" in out and valid
    assert int(valid[1]) == len(list((tmp_path / "local" / "k8s").rglob("*.yaml")))
    report = json.loads((tmp_path / "report.json").read_text())
    assert [s["stack"] for s in report["stacks"]] == ["local", "prod-global"]
    local = report["stacks"][0]
    assert local["kubernetes"]["valid"] == int(valid[1])
    # Resources counted by the component that declares them (children, not grandchildren).
    graph = json.loads((tmp_path / "local/graph.json").read_text())
    (service,) = [r["urn"] for r in graph["resources"] if r["type"] == "projectai:workload:AppService"]
    children = sum(1 for r in graph["resources"] if r["parent"] == service)
    assert local["byComponent"]["projectai:workload:AppService api"] == children
    deployment = yaml.safe_load((tmp_path / "local/k8s/project-ai/deployment-project-ai-api.yaml").read_text())
    assert deployment["kind"] == "Deployment" and deployment["metadata"]["namespace"] == "project-ai"
    assert graph["outputs"]["url"] == "https://api.project-ai.localtest.me"
    assert (tmp_path / "report.md").read_text().startswith("# preflight")


def test_cli_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "--program", str(FIXTURES / "refs"), "--stack", "secondary", "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["exitCode"] == 0
    assert document["stacks"][0]["outputs"] == {"from-primary": "db.primary.internal"}


def test_cli_rejects_a_directory_that_is_not_a_program(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--program", str(tmp_path), "--all"]) == 2
    assert "no Pulumi.yaml; expected a Pulumi program directory" in capsys.readouterr().err


def test_the_vendored_schemas_are_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "--program", str(ROOT), "--stack", "local", "--no-cache")
    assert code == 0 and "0 unvalidated" in out
    code, out = run_cli(capsys, "--program", str(ROOT), "--stack", "local", "--no-cache", "--crd-schemas", "none")
    assert code == 0 and "0 unvalidated" not in out and "unvalidated" in out
