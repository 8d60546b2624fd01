"""The insight service as synthesized (components/insight.py, stacks/insight.py):
an ops service with a state volume, scraped by Prometheus alone, reaching Prometheus
alone, with its looking-ahead rules and its dashboard; valid against the schemas and
both policy packs. The judge's and the guard's shape is unchanged by the state volume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from components import ops_service
from components.insight import NAME, PORT, STATE_PATH, scrape_interval
from components.monitoring.dashboards import INSIGHT_SIGNALS, insight, render
from components.monitoring.prediction_rules import PredictionArgs, groups
from components.monitoring.stack import DASHBOARD_LABEL, SELECTED_LABEL
from components.network_policies import EgressRule
from components.ops_service import Caller, OpsServiceSpec
from ops.insight.service import Metrics
from ops.insight.signals import SIGNAL_NAMES
from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks.config import parse
from stacks.insight import insight_args
from stacks.model import InsightConfig, WorkloadStack
from stacks.monitoring import rule_args
from tests.conftest import ROOT, objects, policies_in, projectai_values, stack_config, valid_and_clean, write_program
from tests.monitoring.test_metric_names import metric_names

NAMESPACE = "project-ai"
MONITORING = "monitoring"
OPS_IMAGE = {"repository": "ghcr.io/project-ai/ops", "digest": "sha256:" + "1" * 64}
INSIGHT = {"enabled": True, "image": OPS_IMAGE, "intervalSeconds": 60, "leadSeconds": 600, "stateSize": "2Gi"}

PROGRAM = """
import json

import pulumi

from components.insight import InsightService
from stacks.config import parse
from stacks.insight import insight_args
from stacks.model import InsightConfig

settings = pulumi.Config("test")
config = parse(json.loads(settings.require("stack")), "Pulumi.test.yaml")
args = insight_args(config, InsightConfig.model_validate(json.loads(settings.require("insight"))))
if args is not None:
    service = InsightService("insight", args)
    pulumi.export("url", service.url)
"""


def local_stack(**changes: Any) -> dict[str, Any]:
    stack = projectai_values(stack_config("local"))
    stack["mesh"] = {"enabled": False}
    stack.update(changes)
    return stack


def synthesize(folder: Path, insight_config: dict[str, Any], stack: dict[str, Any] | None = None) -> Graph:
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"test:stack": json.dumps(stack or local_stack()), "test:insight": json.dumps(insight_config)}
    program = write_program(folder, "insight", PROGRAM, {"test": settings})
    for package in ("components", "stacks", "app", "policies"):
        (folder / package).symlink_to(ROOT / package)
    return Synthesizer(program).synthesize("test")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("insight"), INSIGHT)


def named(graph: Graph, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in objects(graph, kind) if m["metadata"]["name"] == name]
    return found


def test_every_object_is_valid_and_both_packs_pass(graph: Graph) -> None:
    valid_and_clean(graph, stack_config("local"))


def test_the_service_runs_the_ops_image_on_its_state_volume(graph: Graph) -> None:
    deployment = named(graph, "Deployment", NAME)
    assert deployment["metadata"]["namespace"] == NAMESPACE
    # An RWO claim cannot be mounted by a surge pod on another node: replaced, not surged.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"} and deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"ghcr.io/project-ai/ops@{OPS_IMAGE['digest']}"
    assert container["args"] == [
        "insight", "serve", "--prometheus", "http://kube-prometheus-stack-prometheus.monitoring.svc:9090",
        "--state-dir", STATE_PATH, "--namespace", NAMESPACE, "--listen", "0.0.0.0", "--port", str(PORT),
        "--interval-seconds", "60", "--lead-seconds", "600", "--peak-window-seconds", "900", "--timeout-seconds", "5",
    ]  # fmt: skip
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]} == {"tmp": "/tmp", "state": STATE_PATH}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["state"]["persistentVolumeClaim"] == {"claimName": f"{NAME}-state"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["fsGroup"] == 10001
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    claim = named(graph, "PersistentVolumeClaim", f"{NAME}-state")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"] == {"storage": "2Gi"}
    assert "storageClassName" not in claim["spec"]  # the cluster's default
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == NAME and labels["app.kubernetes.io/component"] == "insight"


def test_prometheus_alone_scrapes_it_and_it_reaches_prometheus_alone(graph: Graph) -> None:
    prometheus_pods = {"app.kubernetes.io/name": "prometheus"}
    policies = policies_in(graph, NAMESPACE)
    scrape = policies[f"{NAME}-allow-prometheus"]
    ((peer,), ports) = scrape["ingress"][0]["from"], scrape["ingress"][0]["ports"]
    assert peer["podSelector"]["matchLabels"] == prometheus_pods
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": MONITORING}
    assert ports == [{"port": PORT, "protocol": "TCP"}]
    egress = policies[f"{NAME}-allow-egress-prometheus"]["egress"][0]
    assert egress["to"][0]["podSelector"]["matchLabels"] == prometheus_pods
    assert egress["ports"] == [{"port": 9090, "protocol": "TCP"}]
    assert f"{NAME}-allow-dns" in policies
    admitted = policies_in(graph, MONITORING)[f"allow-ingress-{NAME}"]
    assert admitted["podSelector"]["matchLabels"] == prometheus_pods
    (source,) = admitted["ingress"][0]["from"]
    assert source["podSelector"]["matchLabels"] == named(graph, "Service", NAME)["spec"]["selector"]
    assert admitted["ingress"][0]["ports"] == [{"port": 9090, "protocol": "TCP"}]


def test_the_monitoring_stack_picks_up_its_monitor_and_rules(graph: Graph) -> None:
    service = named(graph, "Service", NAME)
    monitor = named(graph, "ServiceMonitor", NAME)
    assert SELECTED_LABEL.items() <= monitor["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]
    assert service["spec"]["ports"][0]["name"] == "http" and service["spec"]["ports"][0]["port"] == PORT
    rules = named(graph, "PrometheusRule", NAME)
    assert SELECTED_LABEL.items() <= rules["metadata"]["labels"].items()
    config = parse(local_stack(), "Pulumi.test.yaml")
    assert isinstance(config, WorkloadStack)
    assert rules["spec"]["groups"] == groups(PredictionArgs(rule_args(config), 60))


def test_grafana_loads_its_dashboard(graph: Graph) -> None:
    (board,) = [c for c in objects(graph, "ConfigMap") if c["metadata"]["name"] == "project-ai-insight"]
    assert board["metadata"]["namespace"] == MONITORING
    assert DASHBOARD_LABEL.items() <= board["metadata"]["labels"].items()
    assert board["data"] == {"project-ai-insight.json": render(insight(NAMESPACE))}


def test_the_dashboard_shows_each_signals_score_and_its_forecast_against_the_actual_value() -> None:
    panels = json.loads(render(insight(NAMESPACE)))["panels"]
    assert [name for name, _ in INSIGHT_SIGNALS] == list(SIGNAL_NAMES)
    score, *per_signal = panels
    assert 'projectai_anomaly_score{namespace="project-ai"}' in score["targets"][0]["expr"]
    for panel, signal in zip(per_signal, SIGNAL_NAMES, strict=True):
        exprs = [target["expr"] for target in panel["targets"]]
        assert all(f'signal="{signal}"' in expr for expr in exprs)
        assert [metric_names(expr) for expr in exprs] == [
            {"projectai_signal"},
            {"projectai_forecast"},
            {"projectai_forecast_peak"},
        ]
    # Every series the dashboard reads is one the service exports.
    families = {family.name for family in Metrics().registry.collect()}
    read = {name for panel in panels for target in panel["targets"] for name in metric_names(target["expr"])}
    assert read <= families


def test_a_scrape_never_misses_a_round() -> None:
    assert [scrape_interval(seconds) for seconds in (10, 30, 60, 600)] == ["15s", "15s", "30s", "300s"]


# --- the judge's and the guard's shape, without a state volume, is what it was ---


def test_a_service_without_state_surges_and_mounts_its_scratch_directory_alone() -> None:
    spec = OpsServiceSpec(
        name="x",
        component="c",
        image="i@sha256:" + "0" * 64,
        args=(),
        port=8080,
        caller=Caller("c", "n", {"a": "b"}),
        prometheus=EgressRule("prometheus", (9090,)),
    )
    strategy = ops_service.deployment_strategy(spec)
    assert strategy.type == "RollingUpdate" and strategy.rolling_update.max_surge == 1
    assert strategy.rolling_update.max_unavailable == 0
    assert [volume.name for volume in ops_service.pod_spec(spec, "x").volumes] == ["tmp"]
    assert [mount.name for mount in ops_service.container(spec).volume_mounts] == ["tmp"]


# --- the stack config ---


def test_off_by_default_and_off_means_nothing() -> None:
    config = parse(local_stack(), "Pulumi.test.yaml")
    assert isinstance(config, WorkloadStack)
    assert InsightConfig().enabled is False and insight_args(config, InsightConfig()) is None


def test_without_its_own_image_it_shares_the_canary_judges() -> None:
    judge = {"strategy": "canary", "canary": {"judge": {"image": OPS_IMAGE}}}
    config = parse(local_stack(delivery=judge), "Pulumi.test.yaml")
    assert isinstance(config, WorkloadStack)
    args = insight_args(config, InsightConfig(enabled=True))
    assert args is not None and args.image.endswith(OPS_IMAGE["digest"])


@pytest.mark.parametrize(
    ("stack", "problem"),
    [
        ({}, "insight.image: missing; expected the ops image by digest"),
        ({"monitoring": {"enabled": False}}, "expected monitoring.enabled: true"),
    ],
)
def test_what_it_needs_from_the_stack_is_named(stack: dict[str, Any], problem: str) -> None:
    config = parse(local_stack(**stack), "Pulumi.test.yaml")
    assert isinstance(config, WorkloadStack)
    with pytest.raises(ValueError, match=problem):
        insight_args(config, InsightConfig(enabled=True))


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (
            {"image": {"repository": "ghcr.io/project-ai/ops", "tag": "1.2.3"}},
            "expected the ops image pinned by digest",
        ),
        ({"intervalSeconds": 5}, "greater than or equal to 10"),
        ({"intervalSeconds": 10, "timeoutSeconds": 3}, "expected timeoutSeconds below 2.5"),
        ({"leadSeconds": 10}, "greater than or equal to 60"),
        ({"stateSize": "1T"}, "should match pattern"),
        ({"storageClass": "Not_A_Name"}, "should match pattern"),
        ({"leadTime": 60}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_says_what_was_expected(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        InsightConfig.model_validate({"enabled": True, **values})
