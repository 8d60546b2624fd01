"""preflight diff and Pulumi aliases: a refactor into a new component is a move, not a
create and a delete, when the moved resources say where they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.diff import CREATED, DELETED, MOVED, REPLACED, UPDATED, Change, diff
from preflight.graph import Graph
from preflight.synth import Synthesizer
from tests.conftest import write_program

URN = "urn:pulumi:dev::demo::"
NAMESPACE, CONFIGMAP = "kubernetes:core/v1:Namespace", "kubernetes:core/v1:ConfigMap"
GROUP, PART, PLATFORM = "demo:index:Group", "demo:index:Part", "demo:index:Platform"

# Group holds a Part that holds a ConfigMap: moving a Group moves two levels below it.
COMPONENTS = """
import pulumi
import pulumi_kubernetes as k8s


class Part(pulumi.ComponentResource):
    def __init__(self, name, opts):
        super().__init__("demo:index:Part", name, None, opts)
        k8s.core.v1.ConfigMap(f"{name}-data", data={"k": "DATA"}, opts=pulumi.ResourceOptions(parent=self))


class Group(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:index:Group", name, None, opts)
        Part(f"{name}-part", pulumi.ResourceOptions(parent=self))
"""

BEFORE = (
    COMPONENTS.replace("DATA", "v")
    + """
k8s.core.v1.Namespace("apps", metadata={"labels": {"team": "a"}})
Group("grp")
"""
)

ROOT_ALIAS = "[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]"


def after(namespace_aliases: str, group_aliases: str, team: str = "a", data: str = "v") -> str:
    """BEFORE's resources moved into a new Platform component, with the given aliases on
    its two direct children."""
    return (
        COMPONENTS.replace("DATA", data)
        + f"""
class Platform(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("demo:index:Platform", name)
        k8s.core.v1.Namespace(
            "apps",
            metadata={{"labels": {{"team": "{team}"}}}},
            opts=pulumi.ResourceOptions(parent=self, aliases={namespace_aliases}),
        )
        Group("grp", opts=pulumi.ResourceOptions(parent=self, aliases={group_aliases}))


Platform("platform")
"""
    )


def synthesize(folder: Path, main: str) -> Graph:
    folder.mkdir()
    return Synthesizer(write_program(folder, "demo", main, {"dev": {}})).synthesize("dev")


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("moves") / "before", BEFORE)


def summary(changes: list[Change]) -> dict[tuple[str, str], tuple[str | None, list[str]]]:
    return {(c.action, c.name): (c.moved_from, c.paths) for c in changes}


# Where each resource was, and is once moved under Platform, as the engine writes URNs.
WAS = {
    "apps": f"{URN}{NAMESPACE}::apps",
    "grp": f"{URN}{GROUP}::grp",
    "grp-part": f"{URN}{GROUP}${PART}::grp-part",
    "grp-part-data": f"{URN}{GROUP}${PART}${CONFIGMAP}::grp-part-data",
}
IS = {name: urn.replace(URN, f"{URN}{PLATFORM}$") for name, urn in WAS.items()}


def test_a_component_around_aliased_resources_moves_the_whole_subtree(before: Graph, tmp_path: Path) -> None:
    current = synthesize(tmp_path / "after", after(ROOT_ALIAS, ROOT_ALIAS))
    changes = diff(before, current)
    assert summary(changes) == {
        (CREATED, "platform"): (None, []),
        (MOVED, "apps"): (WAS["apps"], []),
        (MOVED, "grp"): (WAS["grp"], []),
        # Neither has an alias of its own: they inherit Group's, as in the engine.
        (MOVED, "grp-part"): (WAS["grp-part"], []),
        (MOVED, "grp-part-data"): (WAS["grp-part-data"], []),
    }
    assert {c.name: c.urn for c in changes if c.action == MOVED} == IS


def test_without_aliases_the_same_refactor_creates_and_deletes(before: Graph, tmp_path: Path) -> None:
    current = synthesize(tmp_path / "after", after("None", "None"))
    changes = {(c.action, c.urn) for c in diff(before, current)}
    # The grandchildren too: the engine's URNs carry the whole chain of parent types
    # (the mock monitor's URN for grp-part-data is the same in both graphs).
    assert changes == {(CREATED, f"{URN}{PLATFORM}::platform")} | {(CREATED, urn) for urn in IS.values()} | {
        (DELETED, urn) for urn in WAS.values()
    }


def test_aliases_given_as_full_urns(before: Graph, tmp_path: Path) -> None:
    urn = f"{URN}{NAMESPACE}::apps"
    current = synthesize(tmp_path / "after", after(f'["{urn}"]', f'["{WAS["grp"]}"]'))
    assert summary(diff(before, current)) == {
        (CREATED, "platform"): (None, []),
        **{(MOVED, name): (was, []) for name, was in WAS.items()},
    }


def test_only_the_aliased_child_moves(before: Graph, tmp_path: Path) -> None:
    current = synthesize(tmp_path / "after", after(ROOT_ALIAS, "None"))
    changes = {(c.action, c.name) for c in diff(before, current)}
    assert changes == {(CREATED, "platform"), (MOVED, "apps")} | {
        (action, name) for action in (CREATED, DELETED) for name in ("grp", "grp-part", "grp-part-data")
    }


def test_a_moved_resource_with_other_inputs_shows_the_change(before: Graph, tmp_path: Path) -> None:
    current = synthesize(tmp_path / "after", after(ROOT_ALIAS, ROOT_ALIAS, team="b", data="w"))
    changes = summary(diff(before, current))
    assert changes == {
        (CREATED, "platform"): (None, []),
        (f"{MOVED}+{UPDATED}", "apps"): (WAS["apps"], ["metadata.labels.team"]),
        (MOVED, "grp"): (WAS["grp"], []),
        (MOVED, "grp-part"): (WAS["grp-part"], []),
        # pulumi-kubernetes replaces a ConfigMap whose data changes.
        (f"{MOVED}+{REPLACED}", "grp-part-data"): (WAS["grp-part-data"], ["data.k"]),
    }


def test_aliases_are_recorded_as_engine_urns(tmp_path: Path) -> None:
    main = """
import pulumi
import pulumi_kubernetes as k8s

holder = k8s.core.v1.Namespace("holder")
k8s.core.v1.ConfigMap(
    "settings",
    opts=pulumi.ResourceOptions(
        parent=holder,
        aliases=[
            pulumi.Alias(name="old-settings"),
            pulumi.Alias(type_="demo:index:Old", parent=pulumi.ROOT_STACK_RESOURCE),
            pulumi.Alias(stack="prod", project="legacy", parent=pulumi.ROOT_STACK_RESOURCE),
            pulumi.Alias(parent="urn:pulumi:dev::demo::demo:index:A$demo:index:B::b"),
            "urn:pulumi:dev::demo::kubernetes:core/v1:ConfigMap::by-hand",
        ],
    ),
)
"""
    graph = synthesize(tmp_path / "program", main)
    (settings,) = [r for r in graph.resources if r.name == "settings"]
    assert settings.aliases == [
        f"{URN}{NAMESPACE}${CONFIGMAP}::old-settings",
        f"{URN}demo:index:Old::settings",
        f"urn:pulumi:prod::legacy::{CONFIGMAP}::settings",
        f"{URN}demo:index:A$demo:index:B${CONFIGMAP}::settings",
        f"{URN}{CONFIGMAP}::by-hand",
    ]
    # graph.json keeps them; a graph.json from before aliases were recorded still reads.
    document = graph.to_dict()
    assert Graph.from_dict(document).by_urn()[settings.urn].aliases == settings.aliases
    for resource in document["resources"]:
        del resource["aliases"]
    assert Graph.from_dict(document).by_urn()[settings.urn].aliases == []


def test_the_command_shows_where_a_moved_resource_was(
    before: Graph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The base is a graph.json from before aliases were recorded: it has no such field.
    document = before.to_dict()
    for resource in document["resources"]:
        del resource["aliases"]
    base = tmp_path / "graph.json"
    base.write_text(json.dumps(document))
    program = tmp_path / "after"
    program.mkdir()
    write_program(program, "demo", after(ROOT_ALIAS, ROOT_ALIAS, team="b"), {"dev": {}})
    command = ["diff", "--program", str(program), "--stack", "dev", "--base", str(base)]

    assert main(command) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"created   {PLATFORM} platform",
        f"moved     {GROUP} grp",
        f"            from {WAS['grp']}",
        f"            to   {IS['grp']}",
        f"moved     {PART} grp-part",
        f"            from {WAS['grp-part']}",
        f"            to   {IS['grp-part']}",
        f"moved     {CONFIGMAP} grp-part-data",
        f"            from {WAS['grp-part-data']}",
        f"            to   {IS['grp-part-data']}",
        f"moved+updated {NAMESPACE} apps",
        f"            from {WAS['apps']}",
        f"            to   {IS['apps']}",
        "            ~ metadata.labels.team",
        "1 created, 1 updated, 0 replaced, 4 moved, 0 deleted",
    ]

    assert main([*command, "--format", "json"]) == 0
    moved = [c for c in json.loads(capsys.readouterr().out) if c["name"] == "apps"]
    assert moved == [
        {
            "urn": IS["apps"],
            "type": NAMESPACE,
            "name": "apps",
            "action": "moved+updated",
            "paths": ["metadata.labels.team"],
            "moved_from": WAS["apps"],
            "delete_before_replace": False,
            "protect": False,
            "errors": [],
        }
    ]
