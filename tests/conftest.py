"""Shared fixtures: the project, its synthesized stacks, and throwaway program copies."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

# The app's modules the program imports (stacks/model.py, stacks/edge.py), and its
# metrics, imported before any stack is synthesized in this process: preflight forgets
# the modules a program imported first (fresh for every stack, as Pulumi runs them), and
# a second import of app.metrics would register its Prometheus metrics twice.
import app.metrics
import app.networks
import app.settings  # noqa: F401
from components.monitoring.rules import RuleArgs, groups
from preflight.graph import Graph, Resource
from preflight.kubernetes import manifest
from preflight.project import Program
from preflight.synth import Synthesizer
from stacks.config import parse
from stacks.model import WorkloadStack
from stacks.monitoring import rule_args

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The project's own copy of the CRD schemas (preflight/crd-schemas/README.md).
CRD_SCHEMAS = ROOT / "preflight" / "crd-schemas"
# Every stack of the project, found from its stack files: a new one is tested as it lands.
PROJECT_STACKS = tuple(
    sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in ROOT.glob("Pulumi.*.yaml"))
)


@pytest.fixture(scope="session")
def project_synthesizer() -> Synthesizer:
    return Synthesizer(Program.load(ROOT))


@pytest.fixture(scope="session")
def local_graph(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("local")


@pytest.fixture(scope="session")
def unmeshed_local_graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    """The local stack with the mesh off: the workload as the mesh finds it (and as any
    stack runs it with `mesh.enabled: false`). What the mesh changes is tested in
    tests/stacks/test_mesh.py."""
    config = stack_config("local")
    config["projectai:mesh"] = {"enabled": False}
    return Synthesizer(copy_project(tmp_path_factory.mktemp("unmeshed"), "local", config)).synthesize("local")


def objects(graph: Graph, kind: str) -> list[dict[str, Any]]:
    """The manifests of one kind, as the API server would receive them."""
    # Kubernetes objects only: a cloud type may share the kind's name (aws's autoscaling Schedule).
    found = [r for r in graph.resources if r.custom and r.type.startswith("kubernetes:")]
    return [manifest(r) for r in found if r.type.endswith(f":{kind}")]


def one(graph: Graph, kind: str) -> dict[str, Any]:
    found = objects(graph, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def api_settings(graph: Graph) -> dict[str, str]:
    """The API's settings ConfigMap: its environment, secrets aside."""
    (settings,) = [c for c in objects(graph, "ConfigMap") if c["metadata"]["name"].startswith("api-settings-")]
    return settings["data"]


def synced_keys(graph: Graph) -> dict[str, list[str]]:
    """The keys of every Secret External Secrets writes, by Secret name."""
    keys = {}
    for synced in objects(graph, "ExternalSecret"):
        spec = synced["spec"]
        template = spec["target"]["template"].get("data", {})
        keys[spec["target"]["name"]] = [entry["secretKey"] for entry in spec.get("data", [])] + list(template)
    return keys


def link_program(folder: Path) -> None:
    """This project's program in `folder`, without its stack files: the project file and
    entry point copied, the packages linked."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, folder / name)
    for package in ("stacks", "components", "app"):
        (folder / package).symlink_to(ROOT / package)


def copy_project(tmp_path: Path, stack: str, config: dict[str, Any]) -> Program:
    """This project's program with one stack file of our own, in a temporary folder."""
    link_program(tmp_path)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return Program.load(tmp_path)


def write_program(folder: Path, project: str, main: str, stacks: dict[str, dict[str, Any]]) -> Program:
    """A small Pulumi program on disk: Pulumi.yaml, __main__.py and one file per stack."""
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump({"name": project, "runtime": "python"}))
    (folder / "__main__.py").write_text(main)
    for stack, config in stacks.items():
        (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return Program.load(folder)


def component_program(folder: Path, project: str, main: str, config: dict[str, Any]) -> Graph:
    """A small program that composes this project's components, synthesized as stack `test`."""
    program = write_program(folder, project, main, {"test": config})
    (folder / "components").symlink_to(ROOT / "components")
    return Synthesizer(program).synthesize("test")


def valid_and_clean(graph: Graph, config: dict[str, Any]) -> Any:
    """Asserts the graph is strictly valid (CRDs included) and passes both packs with no
    mandatory finding; returns the policy report for further checks."""
    from preflight import kubernetes, policies

    results = kubernetes.validate(graph, "1.33", CRD_SCHEMAS)
    assert [(r.title, r.errors) for r in results if r.status != kubernetes.VALID] == []
    report = policies.check(graph, config)
    assert report.errors == []
    assert [(f.policy, f.urn, f.message) for f in report.outcome.mandatory] == []
    return report


def immediate_rule_groups(namespace: str) -> list[dict[str, Any]]:
    """The local stack's rules as generated, evaluated every second and without their
    `for`: a test watches what the alerts do rather than waiting out their durations."""
    rule_groups = copy.deepcopy(groups(local_rule_args(namespace=namespace)))
    for group in rule_groups:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    return rule_groups


def release(graph: Graph, chart: str) -> Resource:
    """The graph's one Helm release of `chart`."""
    (found,) = [r for r in graph.resources if r.type == "kubernetes:helm.sh/v3:Release" and r.inputs["chart"] == chart]
    return found


def policies_in(graph: Graph, namespace: str) -> dict[str, dict[str, Any]]:
    """The NetworkPolicies of one namespace, their specs by name."""
    return {
        p["metadata"]["name"]: p["spec"]
        for p in objects(graph, "NetworkPolicy")
        if p["metadata"]["namespace"] == namespace
    }


def projectai_values(config: dict[str, Any]) -> dict[str, Any]:
    """A stack file's `projectai:` keys without their namespace, as stacks/config.py reads them."""
    return {key.removeprefix("projectai:"): value for key, value in config.items() if key.startswith("projectai:")}


def local_rule_args(**changes: Any) -> RuleArgs:
    """The local stack's alerting rules' arguments, as the program derives them."""
    config = parse(projectai_values(stack_config("local")), "Pulumi.local.yaml")
    assert isinstance(config, WorkloadStack)
    return dataclasses.replace(rule_args(config), **changes)


def stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def stacks_of_role(role: str) -> tuple[str, ...]:
    return tuple(stack for stack in PROJECT_STACKS if stack_config(stack).get("projectai:role") == role)


def prod_shaped(folder: Path) -> Graph:
    """The prod stack's settings as a cluster-role stack, for prod-sized objects under
    mocks (the prod stack itself deploys onto its cloud cluster)."""
    config = {**stack_config("prod"), "projectai:role": "cluster", "projectai:cloud": "kubernetes"}
    del config["projectai:region"], config["aws:region"], config["projectai:platform"]
    # The region's own scheduled janitor has no place on a cluster stack.
    config.pop("projectai:janitor", None)
    config["projectai:vault"] = {"mode": "external", "address": "https://vault.example.com:8200"}
    # What the region derives from its VPC, a cluster stack names.
    config["projectai:kubernetes"] = {**config["projectai:kubernetes"], "apiServerCidrs": ["10.30.0.0/16"]}
    return Synthesizer(copy_project(folder, "prod-shaped", config)).synthesize("prod-shaped")


@pytest.fixture
def config_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the policy packs' settings (policies/config) for a test to change."""
    from policies.config import effective

    root = tmp_path / "config"
    shutil.copytree(effective.CONFIG_ROOT, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    monkeypatch.setattr(effective, "CONFIG_ROOT", root)
    return root
