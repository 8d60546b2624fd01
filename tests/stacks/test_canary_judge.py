"""The statistical canary judge in the canary analysis (issue #17): the ops image serving
`ops canary serve` beside the API, reachable from the Rollouts controller alone, reaching
Prometheus and DNS alone, outside the mesh; the `statistical-judge` AnalysisTemplate on
Argo's web provider; every canary step asks it, only where `delivery.canary.judge` is
configured."""

from __future__ import annotations

from typing import Any

import pytest

from preflight import kubernetes, policies
from preflight.graph import Graph
from preflight.kubernetes import VALID
from preflight.synth import Synthesizer
from stacks.config import ConfigError, parse
from tests.conftest import CRD_SCHEMAS, objects, one, policies_in, projectai_values, stack_config
from tests.stacks.copies import project_copy
from tests.stacks.test_mesh import signed

DIGEST = "sha256:4e7a1c9b0d2f3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90"
IMAGE = f"444455556666.dkr.ecr.us-east-1.amazonaws.com/project-ai/ops@{DIGEST}"
PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
CONFIGS: dict[str, Any] = {}


def no_judge(config: dict[str, Any]) -> None:
    del config["projectai:delivery"]


@pytest.fixture(scope="module")
def meshed(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    program = project_copy(tmp_path_factory.mktemp("prod"), {"prod": signed})
    CONFIGS["prod"] = program.stack_config("prod").values
    return Synthesizer(program).synthesize("prod")


@pytest.fixture(scope="module")
def unmeshed(project_synthesizer: Any) -> Graph:
    """prod as it is today: the mesh's intermediate not signed yet, nginx routes the canary."""
    return project_synthesizer.synthesize("prod")


@pytest.fixture(scope="module")
def without(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return Synthesizer(project_copy(tmp_path_factory.mktemp("bare"), {"prod": no_judge})).synthesize("prod")


def judge_deployment(graph: Graph) -> dict[str, Any]:
    (deployment,) = [d for d in objects(graph, "Deployment") if d["metadata"].get("name") == "canary-judge"]
    return deployment


def template(graph: Graph, name: str) -> dict[str, Any]:
    (found,) = [t for t in objects(graph, "AnalysisTemplate") if t["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("graph", ["meshed", "unmeshed"])
def test_the_judge_runs_the_ops_image_hardened(graph: str, request: pytest.FixtureRequest) -> None:
    deployment = judge_deployment(request.getfixturevalue(graph))
    assert deployment["metadata"]["namespace"] == "project-ai"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["args"] == ["canary", "serve", "--listen", "0.0.0.0", "--port", "8080", "--prometheus", PROMETHEUS]
    assert "command" not in container  # the image's ENTRYPOINT: python -m ops
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "canary-judge"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}]
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    (service,) = [
        s for s in objects(request.getfixturevalue(graph), "Service") if s["metadata"].get("name") == "canary-judge"
    ]
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_in_the_mesh_the_judge_stays_out_of_it(meshed: Graph, unmeshed: Graph) -> None:
    # The Rollouts controller has no mesh identity: a sidecar under STRICT mTLS would refuse it.
    labels = judge_deployment(meshed)["spec"]["template"]["metadata"]["labels"]
    assert labels["sidecar.istio.io/inject"] == "false"
    assert "sidecar.istio.io/inject" not in judge_deployment(unmeshed)["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("graph", ["meshed", "unmeshed"])
def test_only_the_rollouts_controller_calls_the_judge_which_reaches_prometheus_and_dns(
    graph: str, request: pytest.FixtureRequest
) -> None:
    found = request.getfixturevalue(graph)
    judge = {"app.kubernetes.io/name": "canary-judge", "app.kubernetes.io/instance": "canary-judge-prod"}
    app = policies_in(found, "project-ai")
    assert app["canary-judge-allow-rollouts-controller"] == {
        "podSelector": {"matchLabels": judge},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "argo-rollouts"}},
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "argo-rollouts"}},
                    }
                ],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    assert app["canary-judge-allow-egress-prometheus"] == {
        "podSelector": {"matchLabels": judge},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                    }
                ],
                "ports": [{"port": 9090, "protocol": "TCP"}],
            }
        ],
    }
    dns = app["canary-judge-allow-dns"]
    assert dns["podSelector"] == {"matchLabels": judge}
    assert dns["egress"][0]["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {(p["port"], p["protocol"]) for p in dns["egress"][0]["ports"]} == {(53, "UDP"), (53, "TCP")}
    # Nothing else names the judge's pods; the namespace denies everything by default.
    assert {name for name, spec in app.items() if spec["podSelector"].get("matchLabels") == judge} == {
        "canary-judge-allow-rollouts-controller",
        "canary-judge-allow-egress-prometheus",
        "canary-judge-allow-dns",
    }
    assert app["default-deny"]["podSelector"] == {}
    # The controller's namespace lets it out to the judge, and nowhere else new.
    controller = policies_in(found, "argo-rollouts")["allow-egress-canary-judge"]
    assert controller["egress"] == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "project-ai"}},
                    "podSelector": {"matchLabels": judge},
                }
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    ]


def test_the_statistical_judge_template_asks_the_judge_for_its_verdict(meshed: Graph) -> None:
    spec = template(meshed, "statistical-judge")["spec"]
    assert spec["args"] == [{"name": "pod-hash"}, {"name": "stable-hash"}]
    (metric,) = spec["metrics"]
    assert metric["provider"] == {
        "web": {
            "url": "http://canary-judge.project-ai.svc.cluster.local:8080/v1/judge?namespace=project-ai"
            "&canary={{args.pod-hash}}&baseline={{args.stable-hash}}&window=60",
            "jsonPath": "{$.verdict}",
            "timeoutSeconds": 30,
        }
    }
    # "inconclusive" matches neither: after inconclusiveLimit of them the rollout pauses.
    assert metric["successCondition"] == 'result == "pass"'
    assert metric["failureCondition"] == 'result == "fail"'
    assert (metric["interval"], metric["count"], metric["failureLimit"], metric["inconclusiveLimit"]) == (
        "60s",
        5,
        1,
        2,
    )
    assert metric["consecutiveErrorLimit"] == 3


@pytest.mark.parametrize("graph", ["meshed", "unmeshed"])
def test_every_canary_step_asks_the_judge_with_the_stable_hash(graph: str, request: pytest.FixtureRequest) -> None:
    steps = one(request.getfixturevalue(graph), "Rollout")["spec"]["strategy"]["canary"]["steps"]
    analyses = [step["analysis"] for step in steps if "analysis" in step]
    assert len(analyses) == 2
    for analysis in analyses:
        assert [t["templateName"] for t in analysis["templates"]] == [
            "success-rate",
            "latency-p99",
            "statistical-judge",
        ]
        assert analysis["args"] == [
            {"name": "pod-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        ]


def test_without_judge_config_there_is_no_judge(without: Graph) -> None:
    assert not [d for d in objects(without, "Deployment") if d["metadata"].get("name") == "canary-judge"]
    assert {t["metadata"]["name"] for t in objects(without, "AnalysisTemplate")} == {"success-rate", "latency-p99"}
    steps = one(without, "Rollout")["spec"]["strategy"]["canary"]["steps"]
    for step in steps:
        if "analysis" in step:
            assert [t["templateName"] for t in step["analysis"]["templates"]] == ["success-rate", "latency-p99"]
            assert [a["name"] for a in step["analysis"]["args"]] == ["pod-hash"]
    assert "allow-egress-canary-judge" not in policies_in(without, "argo-rollouts")
    assert not [t for t in (r.type for r in without.resources) if t == "projectai:delivery:CanaryJudge"]


@pytest.mark.parametrize("graph", ["meshed", "unmeshed"])
def test_the_judged_stacks_are_valid_and_pass_both_packs(
    graph: str, request: pytest.FixtureRequest, project_synthesizer: Any
) -> None:
    found = request.getfixturevalue(graph)
    results = kubernetes.validate(found, "1.33", CRD_SCHEMAS)
    assert [(r.title, r.errors) for r in results if r.status != VALID] == []
    config = CONFIGS["prod"] if graph == "meshed" else project_synthesizer.program.stack_config("prod").values
    report = policies.check(found, config)
    assert report.errors == []
    assert [(f.policy, f.urn, f.message) for f in report.outcome.mandatory] == []


def parse_prod(**canary: Any) -> str:
    config = stack_config("prod")
    raw = projectai_values(config)
    raw["delivery"] = {"canary": canary}
    with pytest.raises(ConfigError) as caught:
        parse(raw, "Pulumi.prod.yaml")
    return str(caught.value)


def test_the_judge_image_is_pinned_by_digest() -> None:
    message = parse_prod(
        judge={"image": {"repository": "444455556666.dkr.ecr.us-east-1.amazonaws.com/project-ai/ops", "tag": "1.0.0"}}
    )
    assert "delivery.canary.judge.image" in message and "pinned by digest" in message


def test_the_judge_needs_windows_it_can_compare() -> None:
    config = stack_config("prod")
    raw = projectai_values(config)
    raw["delivery"]["analysis"] = {"intervalSeconds": 30}
    with pytest.raises(ConfigError, match=r"delivery\.canary\.judge: .*intervalSeconds ≥ 60, got 30"):
        parse(raw, "Pulumi.prod.yaml")
