"""The topology pictures: a stack's components as boxes with dependency arrows, left to
right; all stacks with what they read; a large stack still drawn small; the README's
picture kept up to date."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preflight import topology
from preflight.cli import main
from preflight.graph import STACK_TYPE, Graph, Resource
from preflight.synth import Synthesizer
from tests.conftest import PROJECT_STACKS, ROOT

STACKS_PICTURE = ROOT / "docs" / "stacks.dot"


def _nodes(source: str) -> dict[str, str]:
    """Node id -> label (its lines joined with a space)."""
    found = {}
    for node, label in re.findall(r'^\s*(n\d+|s\d+|v\d+) \[label="((?:[^"\\]|\\.)*)"', source, re.M):
        found[node] = label.replace("\\n", " ")
    return found


def _edges(source: str) -> set[tuple[str, str]]:
    return set(re.findall(r"^\s*(\w+) -> (\w+)", source, re.M))


def test_a_stack_is_drawn_left_to_right_with_components_as_boxes(local_graph: Graph) -> None:
    source = topology.stack_dot(local_graph)
    assert "rankdir=LR" in source and "compound=true" in source
    boxes = re.findall(r"subgraph cluster_\d+ \{\s*color=\S+ fontsize=\d+ label=\"([^\"]*)\"", source)
    assert {"ApiDeployment api", "AppService api", "VaultIntegration vault", "DevVault vault-dev"} <= set(boxes)
    labels = _nodes(source)
    # A component's resources of one type are one node.
    (service,) = [r for r in local_graph.resources if r.type == "projectai:workload:AppService"]
    policies = [r for r in local_graph.resources if r.parent == service.urn and r.type.endswith(":NetworkPolicy")]
    assert len(policies) > 1 and f"NetworkPolicy ×{len(policies)}" in labels.values()
    assert "Deployment api-deployment" in labels.values()


def test_dependencies_are_arrows_from_what_deploys_first(local_graph: Graph) -> None:
    source = topology.stack_dot(local_graph)
    ids = {label: node for node, label in _nodes(source).items()}
    edges = _edges(source)
    # The Deployment reads the settings ConfigMap's name, through the migration Job it
    # waits for: the ConfigMaps (settings, flags) deploy first, and the implied direct
    # arrow is left out.
    assert (ids["ConfigMap ×2"], ids["Job api-migration"]) in edges
    assert (ids["Job api-migration"], ids["Deployment api-deployment"]) in edges
    assert (ids["ConfigMap ×2"], ids["Deployment api-deployment"]) not in edges
    # The Kubernetes provider points at the component it deploys, dashed.
    provider = ids["provider kubernetes cluster"]
    assert re.search(rf"{provider} -> n\d+ \[color=\"#999999\" lhead=cluster_\d+ style=dashed\]", source)


def test_stack_references_are_drawn_as_stacks_read(project_synthesizer: Synthesizer) -> None:
    source = topology.stack_dot(project_synthesizer.synthesize("prod-global"))
    labels = set(_nodes(source).values())
    for stack in ("prod", "prod-eu", "prod-gcp"):
        assert f"reads stack organization/project-ai/{stack}" in labels


def _configmaps(count: int, groups: int) -> Graph:
    stack = Resource("urn:pulumi:big::p::pulumi:pulumi:Stack::p-big", STACK_TYPE, "p-big", custom=False)
    resources = [stack]
    for group in range(groups):
        component = Resource(f"urn:pulumi:big::p::x:Group::g{group}", "x:index:Group", f"g{group}", False, stack.urn)
        resources.append(component)
        for index in range(count // groups):
            urn = f"urn:pulumi:big::p::x:Group$kubernetes:core/v1:ConfigMap::c{group}-{index}"
            resources.append(Resource(urn, "kubernetes:core/v1:ConfigMap", f"c{group}-{index}", True, component.urn))
    return Graph("p", "big", resources)


def test_a_large_stack_is_drawn_with_its_components_closed(tmp_path: Path) -> None:
    # 20,000 ConfigMaps in 400 components: one node per component type.
    source = topology.stack_dot(_configmaps(20_000, 400))
    assert len(_nodes(source)) == 1
    assert "Group ×400 20000 resources" in _nodes(source).values()
    # 2,000 in 20 components: each component a box with one node.
    source = topology.stack_dot(_configmaps(2_000, 20))
    assert sorted(set(_nodes(source).values())) == ["ConfigMap ×100"]
    assert source.count("subgraph cluster_") == 20
    picture = topology.render(source, tmp_path / "topology.dot")
    assert picture.read_text().startswith("<?xml")


def test_all_stacks_show_roles_references_and_vaults(project_synthesizer: Synthesizer) -> None:
    program = project_synthesizer.program
    graphs = [project_synthesizer.synthesize(stack) for stack in PROJECT_STACKS]
    facts = {stack: topology.stack_facts(program.stack_config(stack).values) for stack in PROJECT_STACKS}
    source = topology.stacks_dot(graphs, facts)
    ids = {label.split(" ")[0]: node for node, label in _nodes(source).items()}
    labels = _nodes(source)
    assert labels[ids["prod-eu"]] == "prod-eu aws eu-west-1 environment prod"
    edges = _edges(source)
    # Regions before the edge: each arrow from a stack to one that reads it.
    for region in ("prod", "prod-eu", "prod-gcp"):
        assert (ids[region], ids["prod-global"]) in edges
    assert (ids["prod"], ids["prod-eu"]) in edges
    vault = next(node for node, label in labels.items() if label == "Vault https://vault.project-ai.dev:8200")
    assert {(vault, ids[stack]) for stack in ("dev", "staging", "prod", "prod-eu", "prod-gcp")} <= edges
    assert re.findall(r'label="role: (\w+)"', source) == ["cluster", "edge", "region"]
    # The README's picture is this one: `make topology` draws it again after a change.
    assert STACKS_PICTURE.read_text() == source, "docs/stacks.dot is out of date: run `make topology`"


def test_names_cannot_break_a_picture() -> None:
    stack = Resource("urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", STACK_TYPE, "p-s", custom=False)
    name = 'evil"]\n<b>\\N'
    hostile = Resource(
        f"urn:pulumi:s::p::kubernetes:core/v1:ConfigMap::{name}", "kubernetes:core/v1:ConfigMap", name, True
    )
    source = topology.stack_dot(Graph("p", "s", [stack, hostile]))
    assert 'ConfigMap\\nevil\\"]\\\\n<b>\\\\N' in source


def test_out_needs_dot_and_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(topology, "dot_available", lambda: False)
    with pytest.raises(SystemExit) as stopped:
        main(["--stack", "local", "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert (
        "Graphviz's `dot`, which is not installed (Debian/Ubuntu: apt-get install graphviz" in capsys.readouterr().err
    )
