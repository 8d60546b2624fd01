"""Waivers match a URN field by field (stack, project, the resource's own type, name),
each an exact value or a glob inside that field: a resource whose name spells out another
URN is not covered by that URN's waiver, and a waiver that cannot be read as fields is
an error naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies.core import waivers as waiver_file
from preflight import policies
from preflight.graph import Graph
from preflight.synth import Synthesizer
from preflight.urns import engine_urns
from tests.conftest import write_program

POLICY = "k8s-namespace-pod-security-restricted"
NAMESPACE = "kubernetes:core/v1:Namespace"
MONITORING = f"urn:pulumi:staging::project-ai::projectai:monitoring:MonitoringStack${NAMESPACE}::monitoring-namespace"
CHAOS_MESH = f"urn:pulumi:staging::project-ai::projectai:chaos:ChaosMesh${NAMESPACE}::chaos-mesh-namespace"
# Another project's Namespace whose name spells out this project's monitoring namespace.
FORGED_NAME = f"x::project-ai::{NAMESPACE}::monitoring-namespace"
FORGED = f"urn:pulumi:staging::other::pulumi:pulumi:Stack${NAMESPACE}::{FORGED_NAME}"
FORGED_PROGRAM = f"""
import pulumi_kubernetes as k8s

k8s.core.v1.Namespace(
    {FORGED_NAME!r},
    metadata={{"name": "monitoring", "labels": {{"pod-security.kubernetes.io/enforce": "privileged"}}}},
)
"""


def waiver(resource: Any, **overrides: Any) -> waiver_file.Waiver:
    entry = {"policy": POLICY, "resource": resource, "reason": "r", "owner": "o", "expires": "2027-05-31"}
    return waiver_file.parse({**entry, **overrides}, "waivers.yaml[3]")


def monitoring_waiver() -> waiver_file.Waiver:
    (found,) = [w for w in waiver_file.load() if w.policy == POLICY and w.fields.name == "monitoring-namespace"]
    return found


@pytest.fixture(scope="module")
def staging(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("staging")


def test_the_real_waiver_covers_the_real_monitoring_namespace(project_synthesizer: Synthesizer, staging: Graph) -> None:
    (namespace,) = [r for r in staging.resources if r.type == NAMESPACE and r.name == "monitoring-namespace"]
    assert namespace.urn == MONITORING
    real = monitoring_waiver()
    # preflight's URN (nearest parent) and the engine's (the whole chain) alike.
    assert real.covers(POLICY, namespace.urn, "staging")
    assert real.covers(POLICY, engine_urns(staging)[namespace.urn], "staging")
    # And through the gate: the staging stack's waived findings are that namespace and
    # Chaos Mesh's (issue #18: chaos-daemon is privileged), each by its own waiver.
    report = policies.check(staging, project_synthesizer.program.stack_config("staging").values)
    assert report.errors == []
    (chaos,) = [w for w in waiver_file.load() if w.policy == POLICY and w.fields.name == "chaos-mesh-namespace"]
    waived = sorted(((f.policy, f.urn, f.waiver) for f in report.outcome.waived), key=lambda found: found[1])
    assert waived == [(POLICY, CHAOS_MESH, chaos), (POLICY, MONITORING, real)]


def test_a_name_spelling_out_the_waived_urn_is_not_waived(tmp_path: Path) -> None:
    real = monitoring_waiver()
    assert not real.covers(POLICY, FORGED, "staging")
    # The whole way: another project's program, synthesized and gated.
    program = write_program(tmp_path, "other", FORGED_PROGRAM, {"staging": {}})
    report = policies.check(Synthesizer(program).synthesize("staging"), {})
    assert report.errors == []
    assert report.outcome.waived == []
    assert (POLICY, FORGED) in [(f.policy, f.urn) for f in report.outcome.violations]


@pytest.mark.parametrize(
    "resource",
    [
        "urn:pulumi:*::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace",
        "urn:pulumi:stag*::project-*::kubernetes:core/v1:*::monitoring-*",
        "urn:pulumi:staging::project-ai::*::monitoring-namespace",
        "urn:pulumi:st?ging::[p]roject-ai::kubernetes:*:Namespace::*-namespace",
        # A qualified type is read as the resource's own type.
        f"urn:pulumi:*::project-ai::projectai:x:Elsewhere${NAMESPACE}::monitoring-namespace",
        {"project": "project-ai", "type": NAMESPACE, "name": "monitoring-namespace"},
        {"stack": "staging", "project": "project-ai", "type": "kubernetes:core/*", "name": "monitoring-*"},
    ],
)
def test_globs_match_inside_one_field(resource: Any) -> None:
    assert waiver(resource).covers(POLICY, MONITORING, "staging")


@pytest.mark.parametrize(
    "resource",
    [
        "urn:pulumi:prod::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace",
        "urn:pulumi:*::other::kubernetes:core/v1:Namespace::monitoring-namespace",
        "urn:pulumi:*::project-ai::kubernetes:core/v1:Pod::monitoring-namespace",
        "urn:pulumi:*::project-ai::kubernetes:core/v1:Namespace::monitoring",
        # The old glob over the whole URN: `*` now stands for one stack, not for a stack,
        # a project and a type.
        "urn:pulumi:*::kubernetes:core/v1:Namespace::monitoring-namespace::*",
        # A glob in the type matches the own type, not the chain of parents.
        "urn:pulumi:*::project-ai::projectai:monitoring:*::monitoring-namespace",
        {"project": "project-ai", "type": NAMESPACE, "name": "monitoring-namespace", "stack": "prod"},
    ],
)
def test_a_field_that_does_not_match_is_not_covered(resource: Any) -> None:
    assert not waiver(resource).covers(POLICY, MONITORING, "staging")


@pytest.mark.parametrize(
    "name",
    [
        "*",
        "*monitoring-namespace",
        "x*monitoring-namespace",
        "x::*",
        "*::monitoring-namespace",
        "x:*:monitoring-namespace",
    ],
)
def test_a_glob_in_the_name_does_not_swallow_a_separator(name: str) -> None:
    for stack_project in ("*::*", "staging::other"):
        assert not waiver(f"urn:pulumi:{stack_project}::{NAMESPACE}::{name}").covers(POLICY, FORGED, "staging")
    assert not waiver({"project": "*", "type": "*", "name": name}).covers(POLICY, FORGED, "staging")


def test_a_name_holding_separators_is_matched_piece_by_piece() -> None:
    for name in (FORGED_NAME, "x::*::*::monitoring-namespace", "*::project-ai::kubernetes:*::monitoring-*"):
        assert waiver({"project": "other", "type": NAMESPACE, "name": name}).covers(POLICY, FORGED, "staging"), name
    assert not waiver({"project": "other", "type": NAMESPACE, "name": "x::*::monitoring-namespace"}).covers(
        POLICY, FORGED, "staging"
    )


@pytest.mark.parametrize(
    "urn",
    [
        "",
        "monitoring-namespace",
        "urn:pulumi:staging::project-ai::kubernetes:core/v1:Namespace",
        "urn:pulumi:::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace",
        "urn:pulumi:staging::::kubernetes:core/v1:Namespace::monitoring-namespace",
        "urn:pulumi:staging::project-ai::::monitoring-namespace",
        "urn:pulumi:staging::project-ai::projectai:a:A$::monitoring-namespace",
        "urn:pulumi:staging::project-ai::kubernetes:core/v1:Namespace::",
        "urn:other:staging::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace",
        "URN:PULUMI:staging::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace",
    ],
)
def test_a_malformed_urn_matches_nothing(urn: str) -> None:
    assert waiver_file.parse_urn(urn) is None
    assert not waiver("urn:pulumi:*::*::*::*").covers(POLICY, urn, "staging")
    assert not waiver({"stack": "*", "project": "*", "type": "*", "name": "*"}).covers(POLICY, urn, "staging")


def test_a_urn_is_read_into_its_fields() -> None:
    engine = f"urn:pulumi:prod::project-ai::projectai:a:A$projectai:b:B${NAMESPACE}::{FORGED_NAME}"
    assert waiver_file.parse_urn(engine) == waiver_file.Urn(
        "prod", "project-ai", ("projectai:a:A", "projectai:b:B", NAMESPACE), FORGED_NAME
    )
    assert waiver_file.parse_urn(engine).type == NAMESPACE  # type: ignore[union-attr]


FORM = "urn:pulumi:<stack>::<project>::<type>::<name>"


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        (
            "*",
            f"resource '*' is not a URN of four fields ({FORM}); a glob matches within one field, so write each field",
        ),
        (
            "urn:pulumi:*::monitoring-namespace",
            "resource 'urn:pulumi:*::monitoring-namespace' is not a URN of four fields",
        ),
        (
            "urn:pulumi:*::project-ai::kubernetes:core/v1:Namespace",
            "resource 'urn:pulumi:*::project-ai::kubernetes:core/v1:Namespace' is not a URN of four fields",
        ),
        ("*::project-ai::kubernetes:core/v1:Namespace::monitoring-namespace", "is not a URN of four fields"),
        ("urn:pulumi:*::project-ai::$Namespace::monitoring-namespace", "is not a URN of four fields"),
        (["urn:pulumi:*::p::t::n"], f"resource must be a URN ({FORM}) or a mapping of stack, project, type, name"),
        ({"project": "project-ai", "type": NAMESPACE}, "resource: missing name"),
        ({"project": "p", "type": "t", "name": "n", "urn": "u"}, "resource: unknown keys urn"),
        ({"project": "p", "type": "t", "name": 7}, "resource name must be a non-empty string (quote it)"),
        ({"project": "", "type": "t", "name": "n"}, "resource project must be a non-empty string (quote it)"),
        ({"project": "*::project-ai", "type": "t", "name": "n"}, "resource project '*::project-ai' holds '::'"),
        ({"project": "p", "type": "a:b:C$", "name": "n"}, "resource type 'a:b:C$' has an empty type in its chain"),
    ],
)
def test_a_waiver_that_is_not_fields_is_an_error_naming_it(resource: Any, problem: str) -> None:
    with pytest.raises(waiver_file.WaiverError) as caught:
        waiver(resource)
    assert str(caught.value).startswith("waivers.yaml[3]: ")
    assert problem in str(caught.value)


def test_an_unreadable_waiver_file_stops_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, staging: Graph
) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        f"- policy: {POLICY}\n  resource: 'urn:pulumi:*::p::t::n'\n  reason: r\n  owner: o\n  expires: 2027-05-31\n"
        f"- policy: {POLICY}\n  resource: 'urn:pulumi:*::monitoring-namespace'\n  reason: r\n  owner: o\n"
        "  expires: 2027-05-31\n"
    )
    monkeypatch.setattr(waiver_file, "WAIVERS_FILE", path)
    assert policies.check(staging, {}).errors == [
        "policies/waivers.yaml: waivers.yaml[1]: resource 'urn:pulumi:*::monitoring-namespace' is not a URN of "
        f"four fields ({FORM}); a glob matches within one field, so write each field"
    ]


def test_stacks_is_a_list_of_names() -> None:
    with pytest.raises(waiver_file.WaiverError) as caught:
        waiver("urn:pulumi:*::p::t::n", stacks="local")
    assert str(caught.value) == "waivers.yaml[3]: stacks must be a list of stack names"
    assert waiver(MONITORING, stacks=["staging"]).covers(POLICY, MONITORING, "staging")
    assert not waiver(MONITORING, stacks=["local"]).covers(POLICY, MONITORING, "staging")
