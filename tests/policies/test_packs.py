"""The packs as the Pulumi CLI runs them: each `__main__.py` started as a process, its
analyzer reached over gRPC, resources analyzed the way `pulumi preview` sends them.
And the engine's configuration, enforcement levels, unknown values, waivers and fixes."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.core import waivers as waiver_file
from policies.core.evaluate import evaluate, run_rule, waivers_current_rule
from policies.core.rule import Pack, Stack
from policies.core.settings import SettingsError, resolve
from policies.cost.rules import PACK as COST
from policies.zero_trust.rules import PACK as ZERO_TRUST
from tests.conftest import ROOT
from tests.policies.cases import CONTAINER, STACK, WRAPPERS, changed, container, pod, resource, urn, workload

ZERO_TRUST_RULES, COST_RULES = ZERO_TRUST.rules, COST.rules
PACKS = {"zero_trust": ZERO_TRUST_RULES, "cost": COST_RULES}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.fixture(scope="module")
def analyzers() -> Iterator[dict[str, analyzer_pb2_grpc.AnalyzerStub]]:
    """Each pack's analyzer, started as `pulumi preview --policy-pack` starts it: the
    pack's `__main__.py` prints the port it serves on."""
    processes, channels, stubs = [], [], {}
    try:
        for pack in sorted(PACKS):
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "policies" / pack / "__main__.py")],
                cwd=ROOT / "policies" / pack,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            processes.append(process)
            line = process.stdout.readline() if process.stdout else b""
            assert line.strip().isdigit(), process.stderr.read().decode() if process.stderr else "no port"
            channel = grpc.insecure_channel(f"127.0.0.1:{int(line)}")
            channels.append(channel)
            stubs[pack] = analyzer_pb2_grpc.AnalyzerStub(channel)
        yield stubs
    finally:
        for channel in channels:
            channel.close()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(props, message)
    return message


def _analyze(stub: analyzer_pb2_grpc.AnalyzerStub, kind: str, props: dict[str, Any]) -> list[Any]:
    request = analyzer_pb2.AnalyzeRequest(type=kind, properties=_struct(props), urn=urn(kind, "x"), name="x")
    return list(stub.Analyze(request).diagnostics)


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_the_pack_loads_and_lists_every_rule(analyzers: dict[str, Any], pack: str) -> None:
    info = analyzers[pack].GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == {"zero_trust": "zero-trust", "cost": "cost"}[pack]
    assert {policy.name for policy in info.policies} == {rule.name for rule in PACKS[pack]}
    for policy in info.policies:
        assert policy.description and policy.remediation_steps
        assert policy.enforcementLevel == analyzer_pb2.MANDATORY


def test_the_analyzer_reports_what_preflight_reports(analyzers: dict[str, Any]) -> None:
    bad = WRAPPERS[DEPLOYMENT](container("securityContext.privileged", True))
    found = _analyze(analyzers["zero_trust"], DEPLOYMENT, bad)
    messages = [d.message for d in found if d.policyName == "k8s-no-privileged-containers"]
    assert messages == ["No container runs privileged.\ncontainer 'api' is privileged"]
    good = _analyze(analyzers["zero_trust"], DEPLOYMENT, WRAPPERS[DEPLOYMENT](pod()))
    assert [d.policyName for d in good] == []


def test_cost_tags_through_the_analyzer(analyzers: dict[str, Any]) -> None:
    found = [d.message for d in _analyze(analyzers["cost"], "aws:ec2/vpc:Vpc", {"tags": {"team": "ai"}})]
    assert found == [
        "Every taggable AWS and GCP resource carries team, cost-center, environment and service.\n"
        "missing cost-allocation tags: cost-center, environment, service"
    ]


def test_unknown_values_during_preview_are_not_violations(analyzers: dict[str, Any]) -> None:
    props = WRAPPERS[DEPLOYMENT](container("image", UNKNOWN_STRING_VALUE))
    found = [d for d in _analyze(analyzers["zero_trust"], DEPLOYMENT, props) if d.policyName == "k8s-image-pinned"]
    assert len(found) == 1 and "can't be known during preview" in found[0].message
    assert found[0].enforcementLevel == analyzer_pb2.ADVISORY


def test_the_engine_treats_unknowns_as_the_analyzer_does() -> None:
    unknown_image = workload(container("image", UNKNOWN_STRING_VALUE))
    rule = next(r for r in ZERO_TRUST_RULES if r.name == "k8s-image-pinned")
    outcome = run_rule("zero-trust", rule, resolve([rule], {})[rule.name], Stack(STACK, (unknown_image,)), [])
    assert outcome.violations == []
    assert outcome.unknown == [
        (
            "k8s-image-pinned",
            unknown_image.urn,
            "string value at .spec.template.spec.containers.0.image can't be known during preview",
        )
    ]


def test_enforcement_levels_come_from_the_configuration() -> None:
    bad = [workload(container("securityContext.privileged", True))]
    stack = Stack(STACK, tuple(bad))
    for level, expected in (("advisory", 1), ("mandatory", 1), ("disabled", 0)):
        applied = resolve(ZERO_TRUST_RULES, {"k8s-no-privileged-containers": level})
        found = [
            f
            for f in evaluate("zero-trust", ZERO_TRUST_RULES, stack, applied).violations
            if f.policy == "k8s-no-privileged-containers"
        ]
        assert len(found) == expected
        assert all(f.enforcement == level for f in found)
    everything_advisory = resolve(ZERO_TRUST_RULES, {"all": "advisory"})
    assert evaluate("zero-trust", ZERO_TRUST_RULES, stack, everything_advisory).mandatory == []


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"k8s-no-privileged": "mandatory"}, "pack config: unknown policy 'k8s-no-privileged'"),
        (
            {"k8s-image-pinned": "blocking"},
            "pack config: k8s-image-pinned: enforcementLevel 'blocking', "
            "expected one of advisory, mandatory, remediate, disabled",
        ),
        (
            {"k8s-image-allowed-registry": {"allowedRegistries": "ghcr.io/"}},
            "pack config: k8s-image-allowed-registry.allowedRegistries: Input should be a valid tuple",
        ),
        (
            {"cost-hpa-max-replicas": {"maxReplica": 5}},
            "pack config: cost-hpa-max-replicas.maxReplica: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_configuration_is_named(config: dict[str, Any], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve([*ZERO_TRUST_RULES, *COST_RULES], config)
    assert str(caught.value) == problem


def _waiver(**overrides: Any) -> dict[str, Any]:
    entry = {
        "policy": "k8s-no-privileged-containers",
        "resource": f"urn:pulumi:{STACK}::project::*::*",
        "reason": "the CNI agent needs it",
        "owner": "ai-platform",
        "expires": "2027-01-31",
    }
    return {**entry, **overrides}


def test_a_waiver_exempts_one_resource_from_one_policy() -> None:
    waiver = waiver_file.parse(_waiver(resource=urn(DEPLOYMENT, "cni")), "waivers.yaml[0]")
    cni = workload(container("securityContext.privileged", True), name="cni")
    other = workload(container("securityContext.privileged", True), name="app")
    applied = resolve(ZERO_TRUST_RULES, {})
    outcome = evaluate("zero-trust", ZERO_TRUST_RULES, Stack(STACK, (cni, other)), applied, [waiver])
    assert [f.urn for f in outcome.waived] == [cni.urn]
    assert [f.urn for f in outcome.violations if f.policy == "k8s-no-privileged-containers"] == [other.urn]
    # Another policy on the same resource is not waived.
    assert waiver.covers("k8s-no-host-namespaces", cni.urn, STACK) is False
    assert (
        waiver_file.parse(_waiver(stacks=["prod"]), "w").covers("k8s-no-privileged-containers", cni.urn, STACK) is False
    )


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"reason": ""}, "waivers.yaml[0]: missing reason"),
        ({"expires": "soon"}, "waivers.yaml[0]: expires 'soon' is not a date (YYYY-MM-DD)"),
        ({"approved": "yes"}, "waivers.yaml[0]: unknown keys approved"),
    ],
)
def test_a_waiver_without_reason_owner_or_date_is_refused(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(waiver_file.WaiverError) as caught:
        waiver_file.parse(_waiver(**entry), "waivers.yaml[0]")
    assert str(caught.value) == problem


def test_an_expired_waiver_fails_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "- policy: k8s-no-privileged-containers\n  resource: 'urn:pulumi:*::p::*::cni'\n  reason: r\n  owner: o\n"
        "  expires: 2027-01-31\n"
    )
    monkeypatch.setattr(waiver_file, "WAIVERS_FILE", path)
    monkeypatch.setattr(waiver_file.load, "__defaults__", (path,))
    pack = Pack("zero-trust")
    rule = waivers_current_rule(pack)
    # It reads the registry when it runs: a rule registered later is covered too.
    pack.register(next(r for r in ZERO_TRUST_RULES if r.name == "k8s-no-privileged-containers"))
    stack = Stack(STACK, ())

    def found(today: str) -> list[str]:
        applied = resolve([rule], {rule.name: {"today": today}})[rule.name]
        return [f.message for f in run_rule("zero-trust", rule, applied, stack, []).violations]

    assert found("2027-01-31") == []
    assert found("2027-02-01") == [
        "the waiver of 'k8s-no-privileged-containers' for urn:pulumi:*::p::*::cni (owner o) expired on 2027-01-31"
    ]


def test_the_project_waivers_are_all_in_date_and_reviewed() -> None:
    waivers = waiver_file.load()
    assert waivers and all(w.expires > datetime.date(2026, 11, 28) and len(w.reason) > 40 for w in waivers)


def test_missing_cost_tags_are_fixed_from_the_configured_defaults() -> None:
    rule = next(r for r in COST_RULES if r.name == "cost-allocation-tags")
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "tags": {"team": "ai", "Name": "main"}}, "vpc")
    defaults = {"defaults": {"team": "x", "cost-center": "cc-ai", "environment": "dev", "service": "api"}}
    applied = resolve([rule], {rule.name: defaults})[rule.name]
    outcome = run_rule("cost", rule, applied, Stack(STACK, (vpc,)), [])
    assert outcome.fixes == {
        vpc.urn: {
            "cidrBlock": "10.0.0.0/16",
            "tags": {"team": "ai", "Name": "main", "cost-center": "cc-ai", "environment": "dev", "service": "api"},
        }
    }
    # Without defaults there is nothing safe to fill in.
    plain = resolve([rule], {})[rule.name]
    assert run_rule("cost", rule, plain, Stack(STACK, (vpc,)), []).fixes == {}


def test_provider_default_tags_count() -> None:
    rule = next(r for r in COST_RULES if r.name == "cost-allocation-tags")
    from policies.core.props import analyzer_view
    from policies.core.rule import Resource

    tags = {"team": "ai", "cost-center": "cc", "environment": "dev", "service": "api"}
    vpc = Resource(
        "aws:ec2/vpc:Vpc",
        "v",
        urn("aws:ec2/vpc:Vpc", "v"),
        analyzer_view({}),
        analyzer_view({"defaultTags": {"tags": tags}}),
    )
    assert run_rule("cost", rule, resolve([rule], {})[rule.name], Stack(STACK, (vpc,)), []).violations == []


def test_the_taggable_list_matches_the_pinned_provider_sdks() -> None:
    from policies.cost import taggable

    assert taggable.generate() == taggable.load()


def test_stack_policies_through_the_analyzer_follow_dependencies(analyzers: dict[str, Any]) -> None:
    bucket_urn, block_urn = (
        urn("aws:s3/bucket:Bucket", "logs"),
        urn("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "logs"),
    )
    flags = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}

    def analyze(block: dict[str, Any]) -> list[Any]:
        resources = [
            analyzer_pb2.AnalyzerResource(
                type="aws:s3/bucket:Bucket", properties=_struct({}), urn=bucket_urn, name="logs"
            ),
            analyzer_pb2.AnalyzerResource(
                type="aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                properties=_struct(block),
                urn=block_urn,
                name="logs",
                dependencies=[bucket_urn],
            ),
        ]
        response = analyzers["zero_trust"].AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
        return [d for d in response.diagnostics if d.policyName == "aws-s3-public-access-block"]

    assert analyze(flags) == []
    (found,) = analyze({**flags, "blockPublicPolicy": False})
    assert found.urn == bucket_urn
    assert found.message.endswith("bucket logs's public access block leaves blockPublicPolicy off")


def test_the_analyzer_applies_the_tag_fix_under_the_remediate_level(analyzers: dict[str, Any]) -> None:
    stub = analyzers["cost"]
    defaults = {"defaults": {"team": "ai", "cost-center": "cc-ai", "environment": "dev", "service": "api"}}
    config = analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.REMEDIATE, properties=_struct(defaults))
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"cost-allocation-tags": config}))
    vpc = "aws:ec2/vpc:Vpc"
    request = analyzer_pb2.AnalyzeRequest(
        type=vpc, properties=_struct({"cidrBlock": "10.0.0.0/16", "tags": {"team": "ai"}}), urn=urn(vpc, "v"), name="v"
    )
    (remediation,) = stub.Remediate(request).remediations
    assert remediation.policyName == "cost-allocation-tags"
    assert json_format.MessageToDict(remediation.properties) == {
        "cidrBlock": "10.0.0.0/16",
        "tags": {"team": "ai", "cost-center": "cc-ai", "environment": "dev", "service": "api"},
    }


def test_unknown_values_keep_what_the_check_already_found() -> None:
    sidecar = {"name": "sidecar", "image": UNKNOWN_STRING_VALUE}
    api = {**CONTAINER, "image": "ghcr.io/project-ai/api:latest"}
    both = workload(changed(pod(), "containers", [api, sidecar]))
    rule = next(r for r in ZERO_TRUST_RULES if r.name == "k8s-image-pinned")
    outcome = run_rule("zero-trust", rule, resolve([rule], {})[rule.name], Stack(STACK, (both,)), [])
    assert [f.message for f in outcome.violations] == [
        "container 'api' uses 'ghcr.io/project-ai/api:latest', which is not pinned"
    ]
    assert [why for _, _, why in outcome.unknown] == [
        "string value at .spec.template.spec.containers.1.image can't be known during preview"
    ]


def test_a_rule_that_meets_an_unexpected_value_reports_it() -> None:
    hpa = resource("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", {"spec": {"maxReplicas": "many"}})
    rule = next(r for r in COST_RULES if r.name == "cost-hpa-max-replicas")
    (finding,) = run_rule("cost", rule, resolve([rule], {})[rule.name], Stack(STACK, (hpa,)), []).violations
    assert finding.message == (
        "the rule could not judge this resource (ValueError: invalid literal for int() with base 10: 'many')"
    )


def test_provider_default_tags_arrive_as_json_text() -> None:
    from policies.core.props import analyzer_view
    from policies.core.rule import Resource

    rule = next(r for r in COST_RULES if r.name == "cost-allocation-tags")
    # The SDK serializes the provider's defaultTags to JSON text before the engine sees it.
    provider = {"defaultTags": json.dumps({"tags": {"team": "ai", "cost-center": "cc", "environment": "dev"}})}
    kind = "aws:ec2/vpc:Vpc"
    vpc = Resource(kind, "v", urn(kind, "v"), analyzer_view({"tags": {"service": "api"}}), analyzer_view(provider))
    assert run_rule("cost", rule, resolve([rule], {})[rule.name], Stack(STACK, (vpc,)), []).violations == []


def test_an_expired_waiver_covers_nothing() -> None:
    waiver = waiver_file.parse(_waiver(resource=urn(DEPLOYMENT, "cni"), expires="2027-01-31"), "w")
    cni = workload(container("securityContext.privileged", True), name="cni")
    rule = next(r for r in ZERO_TRUST_RULES if r.name == "k8s-no-privileged-containers")
    applied = resolve([rule], {})[rule.name]

    def judged(today: str) -> tuple[int, int]:
        day = datetime.date.fromisoformat(today)
        outcome = run_rule("zero-trust", rule, applied, Stack(STACK, (cni,)), [waiver], today=day)
        return len(outcome.waived), len(outcome.violations)

    assert judged("2027-01-31") == (1, 0)
    assert judged("2027-02-01") == (0, 1)


def test_a_waiver_matches_engine_and_mock_urns_alike() -> None:
    engine = "urn:pulumi:local::project-ai::projectai:a:A$projectai:b:B$kubernetes:core/v1:Namespace::ns"
    mock = "urn:pulumi:local::project-ai::projectai:b:B$kubernetes:core/v1:Namespace::ns"
    top_level_mock = "urn:pulumi:local::project-ai::pulumi:pulumi:Stack$kubernetes:core/v1:Namespace::ns"
    for written in (engine, mock, "urn:pulumi:local::project-ai::kubernetes:core/v1:Namespace::ns"):
        waiver = waiver_file.parse(_waiver(policy="p", resource=written), "w")
        assert all(waiver.covers("p", urn_, "local") for urn_ in (engine, mock, top_level_mock)), written


def test_remediate_blocks_only_where_no_fix_applies() -> None:
    rule = next(r for r in COST_RULES if r.name == "cost-allocation-tags")
    vpc = resource("aws:ec2/vpc:Vpc", {"tags": {"team": "ai"}}, "vpc")
    defaults = {"cost-center": "c", "environment": "e", "service": "s"}
    with_defaults = resolve([rule], {rule.name: {"enforcementLevel": "remediate", "defaults": defaults}})
    without = resolve([rule], {rule.name: "remediate"})
    assert evaluate("cost", [rule], Stack(STACK, (vpc,)), with_defaults).mandatory == []
    assert len(evaluate("cost", [rule], Stack(STACK, (vpc,)), without).mandatory) == 1
