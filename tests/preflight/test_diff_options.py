"""preflight diff and resource options: graph.json records ignore_changes,
replace_on_changes, delete_before_replace and protect, and diff counts them as the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflight.cli import main
from preflight.diff import (
    DELETED,
    ERROR,
    REPLACED,
    UPDATED,
    Change,
    as_text,
    changed_paths,
    diff,
    exit_code,
    format_path,
    parse_path,
    with_ignored,
)
from preflight.graph import Graph, Resource
from preflight.synth import Synthesizer
from tests.conftest import copy_project, stack_config, write_program

OPTIONS = ("ignore_changes", "replace_on_changes", "delete_before_replace", "protect")
JOB, NAMESPACE = "kubernetes:batch/v1:Job", "kubernetes:core/v1:Namespace"


def resource(type_: str, name: str, inputs: dict[str, Any], **options: Any) -> Resource:
    urn = f"urn:pulumi:s::p::{type_}::{name}"
    return Resource(urn=urn, type=type_, name=name, custom=True, inputs=inputs, **options)


def job(image: str, backoff: int = 6, **options: Any) -> Resource:
    container = {"name": "run", "image": image}
    spec = {"backoffLimit": backoff, "template": {"spec": {"containers": [container]}}}
    return resource(JOB, "bootstrap", {"metadata": {"name": "bootstrap"}, "spec": spec}, **options)


def namespace(labels: dict[str, str], **options: Any) -> Resource:
    return resource(NAMESPACE, "apps", {"metadata": {"name": "apps", "labels": labels}}, **options)


def changes(before: list[Resource], after: list[Resource]) -> list[Change]:
    return diff(Graph("p", "s", before), Graph("p", "s", after))


def compare(before: Resource, after: Resource) -> list[tuple[str, list[str]]]:
    return [(change.action, change.paths) for change in changes([before], [after])]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("spec.template", ("spec", "template")),
        ('metadata.labels["app.kubernetes.io/name"]', ("metadata", "labels", "app.kubernetes.io/name")),
        ("spec.containers[0].image", ("spec", "containers", 0, "image")),
        ("spec.containers[*].image", ("spec", "containers", "*", "image")),
        ("data.*", ("data", "*")),
        ('["a key"][3]', ("a key", 3)),
        ('a["say \\"hi\\""]', ("a", 'say "hi"')),
    ],
)
def test_property_paths_read_as_the_engine_reads_them(text: str, parts: tuple) -> None:
    assert parse_path(text) == parts
    assert parse_path(format_path(parts)) == parts


def test_changed_paths_quote_keys_a_bare_path_cannot_hold() -> None:
    before = {"metadata": {"labels": {"app.kubernetes.io/name": "a", "team": "x"}}}
    after = {"metadata": {"labels": {"app.kubernetes.io/name": "b", "team": "y"}}}
    assert changed_paths(before, after) == ['metadata.labels["app.kubernetes.io/name"]', "metadata.labels.team"]


def test_ignore_changes_keeps_the_base_value_or_its_absence() -> None:
    before = {"a": {"keep": 1, "x": 1}, "list": [{"image": "v1"}, {"image": "v1"}]}
    after = {"a": {"keep": 2, "x": 2, "new": 3}, "list": [{"image": "v2"}, {"image": "v2"}], "top": 1}
    ignored, failed = with_ignored(before, after, ["a.x", "a.new", "list[*].image", "top"])
    assert failed == []
    assert changed_paths(before, ignored) == ["a.keep"]
    # The program's own inputs are not touched.
    assert after["a"]["x"] == 2


def test_an_ignore_path_the_engine_cannot_follow_is_an_error() -> None:
    # `[*]` over lists of different lengths, and a level the new inputs lost.
    _, failed = with_ignored({"l": [1], "a": {"b": 1}}, {"l": [1, 2]}, ["l[*]", "a.b", "nowhere.deep"])
    assert failed == ["l[*]", "a.b"]
    (change,) = changes([namespace({"x": "1"})], [namespace({}, ignore_changes=["metadata.labels.x.y"])])
    assert change.action == UPDATED and change.errors and exit_code([change]) == 1
    # The engine stops at such a path even when another path leaves nothing changed.
    ignore = ["metadata.labels.x", "metadata"]
    (change,) = changes([namespace({"x": "1"})], [resource(NAMESPACE, "apps", {}, ignore_changes=ignore)])
    assert (change.action, change.paths) == (ERROR, [])
    assert change.errors == [
        "cannot ignore changes to the following properties because one or more elements of the path are missing: "
        "metadata.labels.x"
    ]


def test_ignore_changes_prevents_a_replacement() -> None:
    assert compare(job("api:1"), job("api:2")) == [(REPLACED, ["spec.template.spec.containers[0].image"])]
    assert compare(job("api:1"), job("api:2", ignore_changes=["spec"])) == []
    assert compare(job("api:1"), job("api:2", ignore_changes=["spec.template"])) == []
    # What is not ignored still counts.
    only_image = ["spec.template.spec.containers[*].image"]
    assert compare(job("api:1"), job("api:2", 3, ignore_changes=only_image)) == [(REPLACED, ["spec.backoffLimit"])]


def test_replace_on_changes_forces_a_replacement() -> None:
    before = namespace({"team": "a", "tier": "1"})
    assert compare(before, namespace({"team": "b", "tier": "1"})) == [(UPDATED, ["metadata.labels.team"])]
    for rule in ("metadata.labels", 'metadata["labels"].team', "metadata.*.team", "*"):
        after = namespace({"team": "b", "tier": "1"}, replace_on_changes=[rule])
        assert compare(before, after) == [(REPLACED, ["metadata.labels.team"])], rule
    # Another path changed: an update; the path changed but is ignored: nothing.
    assert compare(before, namespace({"team": "a", "tier": "2"}, replace_on_changes=["metadata.labels.team"])) == [
        (UPDATED, ["metadata.labels.tier"])
    ]
    both = {"replace_on_changes": ["metadata.labels"], "ignore_changes": ["metadata.labels.team"]}
    assert compare(before, namespace({"team": "b", "tier": "1"}, **both)) == []


def test_delete_before_replace_is_shown() -> None:
    (change,) = changes([job("api:1")], [job("api:2", delete_before_replace=True)])
    assert (change.action, change.delete_before_replace) == (REPLACED, True)
    assert as_text([change]).splitlines()[0] == f"replaced  {JOB} bootstrap (delete before replace)"


def test_the_engine_refuses_to_replace_or_delete_a_protected_resource() -> None:
    base = Graph("p", "s", [job("api:1", protect=True), namespace({}, protect=True)])
    (deleted, replaced) = diff(base, Graph("p", "s", [job("api:2", protect=True)]))
    assert (replaced.action, deleted.action) == (REPLACED, DELETED)
    assert replaced.errors == [
        f"unable to replace resource '{replaced.urn}': it is marked for protection; remove `protect` from "
        "the resource in the program and run `pulumi up` before a change that replaces it"
    ]
    assert deleted.errors and deleted.errors[0].startswith(f"unable to delete resource '{deleted.urn}'")
    assert exit_code([replaced]) == exit_code([deleted]) == 1
    text = as_text([replaced, deleted])
    assert f"replaced  {JOB} bootstrap (protected)\n" in text
    assert f"            ! error: unable to replace resource '{replaced.urn}'" in text
    assert text.endswith("2 errors: the engine would refuse this change (exit 1)")
    # Unprotected in the program, it is replaced in the same update; an update is allowed.
    (change,) = changes([job("api:1", protect=True)], [job("api:2")])
    assert (change.action, change.errors) == (REPLACED, [])
    (change,) = changes([namespace({}, protect=True)], [namespace({"a": "b"}, protect=True)])
    assert (change.action, change.errors) == (UPDATED, [])


PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap(
    "settings",
    data={"k": "VALUE"},
    opts=pulumi.ResourceOptions(
        protect=True,
        delete_before_replace=True,
        ignore_changes=["metadata.annotations", "data"],
        replace_on_changes=["metadata.labels"],
    ),
)
k8s.core.v1.Namespace("plain")
"""


def test_options_are_recorded_and_older_graphs_still_read(tmp_path: Path) -> None:
    program = write_program(tmp_path, "demo", PROGRAM.replace("VALUE", "v"), {"dev": {}})
    graph = Synthesizer(program).synthesize("dev")
    settings = next(r for r in graph.resources if r.name == "settings")
    plain = next(r for r in graph.resources if r.name == "plain")
    assert settings.ignore_changes == ["metadata.annotations", "data"]
    assert settings.replace_on_changes == ["metadata.labels"]
    assert (settings.delete_before_replace, settings.protect) == (True, True)
    assert [getattr(plain, option) for option in OPTIONS] == [[], [], False, False]
    document = json.loads(json.dumps(graph.to_dict()))
    assert Graph.from_dict(document).by_urn()[settings.urn].ignore_changes == ["metadata.annotations", "data"]
    for item in document["resources"]:
        for option in OPTIONS:
            del item[option]
    older = Graph.from_dict(document).by_urn()[settings.urn]
    assert [getattr(older, option) for option in OPTIONS] == [[], [], False, False]


def test_the_command_exits_1_when_the_engine_would_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "before").mkdir()
    before = write_program(tmp_path / "before", "demo", PROGRAM.replace("VALUE", "v"), {"dev": {}})
    base = tmp_path / "graph.json"
    base.write_text(json.dumps(Synthesizer(before).synthesize("dev").to_dict()))
    (tmp_path / "after").mkdir()
    # A changed value under ignore_changes: no change.
    write_program(tmp_path / "after", "demo", PROGRAM.replace("VALUE", "w"), {"dev": {}})
    command = ["diff", "--program", str(tmp_path / "after"), "--stack", "dev", "--base", str(base)]
    assert main(command) == 0
    assert capsys.readouterr().out.strip() == "no changes"
    # A new label under replace_on_changes: a replacement the protection refuses.
    labelled = PROGRAM.replace("VALUE", "v").replace('"settings",', '"settings", metadata={"labels": {"a": "b"}},')
    write_program(tmp_path / "after", "demo", labelled, {"dev": {}})
    assert main(command) == 1
    out = capsys.readouterr().out
    assert "replaced  kubernetes:core/v1:ConfigMap settings (delete before replace, protected)" in out
    assert "! error: unable to replace resource 'urn:pulumi:dev::demo::kubernetes:core/v1:ConfigMap::settings'" in out


def test_a_release_does_not_replace_the_database_bootstrap_job(
    project_synthesizer: Synthesizer, tmp_path: Path
) -> None:
    """The bootstrap Job runs the API's image with `ignore_changes=["spec"]`: a new image is
    no change to it (its name changes with its SQL, and that replaces it), while the
    migration Job of the release is a new Job."""
    base = project_synthesizer.synthesize("dev")
    config = stack_config("dev")
    config["projectai:app"]["image"]["tag"] = "0.9.1-4a5b6c7"
    current = Synthesizer(copy_project(tmp_path, "dev", config)).synthesize("dev")

    def bootstrap(graph: Graph) -> Resource:
        (job,) = [r for r in graph.resources if r.type == JOB and r.name == "database-bootstrap-job"]
        return job

    assert bootstrap(current).ignore_changes == ["spec"]
    # The Job's inputs did change: only ignore_changes keeps it.
    assert changed_paths(bootstrap(base).inputs, bootstrap(current).inputs) == [
        "spec.template.spec.containers[0].image"
    ]
    changes = {change.name: change.action for change in diff(base, current)}
    assert "database-bootstrap-job" not in changes
    assert changes["api-migration"] == REPLACED
    # The same against a graph.json from before options were recorded: the program's count.
    document = base.to_dict()
    for item in document["resources"]:
        for option in OPTIONS:
            del item[option]
    assert "database-bootstrap-job" not in {change.name for change in diff(Graph.from_dict(document), current)}
    # Without the option the engine would replace it (a Job's spec is immutable).
    bootstrap(current).ignore_changes = []
    assert {c.name: c.action for c in diff(base, current)}["database-bootstrap-job"] == REPLACED
