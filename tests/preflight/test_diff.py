"""preflight diff: created, updated (with paths), replaced and deleted resources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.diff import CREATED, DELETED, REPLACED, UPDATED, changed_paths, diff
from preflight.graph import Graph, Resource
from tests.conftest import ROOT


def graph(*resources: Resource) -> Graph:
    return Graph("p", "s", list(resources))


def configmap(name: str, data: dict, immutable: bool = False, object_name: str | None = None) -> Resource:
    inputs = {"metadata": {"name": object_name or name}, "data": data, **({"immutable": True} if immutable else {})}
    return Resource(urn=f"urn:{name}", type="kubernetes:core/v1:ConfigMap", name=name, custom=True, inputs=inputs)


def test_changed_paths_name_every_difference() -> None:
    before = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": True}
    after = {"a": 1, "b": {"c": [1, 3], "d": "y"}, "new": 1}
    assert changed_paths(before, after) == ["b.c[1]", "b.d", "gone", "new"]
    assert changed_paths([1, 2], [1, 2, 3]) == ["(root)"]


def test_a_configmap_label_is_an_update() -> None:
    before = configmap("settings", {"k": "1"})
    after = configmap("settings", {"k": "1"})
    after.inputs["metadata"]["labels"] = {"team": "x"}
    (change,) = diff(graph(before), graph(after))
    assert (change.action, change.paths) == (UPDATED, ["metadata.labels"])


def test_actions() -> None:
    base = graph(
        configmap("kept", {"k": "1"}),
        configmap("edited", {"k": "1"}),
        configmap("frozen", {"k": "1"}, True),
        configmap("renamed", {"k": "1"}),
        configmap("removed", {}),
    )
    current = graph(
        configmap("kept", {"k": "1"}),
        configmap("edited", {"k": "2"}),
        configmap("frozen", {"k": "2"}, True),
        configmap("renamed", {"k": "1"}, object_name="renamed-v2"),
        configmap("added", {}),
    )
    changes = {change.name: (change.action, change.paths) for change in diff(base, current)}
    assert changes == {
        "added": (CREATED, []),
        "removed": (DELETED, []),
        # pulumi-kubernetes replaces a ConfigMap whose data changes, immutable or not.
        "edited": (REPLACED, ["data.k"]),
        "frozen": (REPLACED, ["data.k"]),
        "renamed": (REPLACED, ["metadata.name"]),
    }


def test_the_command_compares_a_stack_with_an_earlier_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--program", str(ROOT), "--stack", "local", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    base = tmp_path / "local" / "graph.json"
    assert main(["diff", "--program", str(ROOT), "--stack", "local", "--base", str(base)]) == 0
    assert capsys.readouterr().out.strip() == "no changes"
    document = json.loads(base.read_text())
    for resource in document["resources"]:
        if resource["type"] == "kubernetes:apps/v1:Deployment":
            resource["inputs"]["spec"]["revisionHistoryLimit"] = 9
    document["resources"] = [
        r for r in document["resources"] if r["type"] != "kubernetes:policy/v1:PodDisruptionBudget"
    ]
    base.write_text(json.dumps(document))
    assert main(["diff", "--program", str(ROOT), "--stack", "local", "--base", str(base), "--format", "json"]) == 0
    changes = {(c["action"], c["name"]): c["paths"] for c in json.loads(capsys.readouterr().out)}
    assert changes == {
        ("created", "api-disruption-budget"): [],
        ("updated", "api-deployment"): ["spec.revisionHistoryLimit"],
    }


def test_bad_bases_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["diff", "--program", str(ROOT), "--stack", "local", "--base", str(missing)]) == 2
    assert "not a graph.json from `preflight --out`" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps(Graph("project-ai", "dev").to_dict()))
    assert main(["diff", "--program", str(ROOT), "--stack", "local", "--base", str(other)]) == 2
    assert "--base is a graph of stack 'dev', not 'local'" in capsys.readouterr().err
