"""The monitoring stack as synthesized: pinned charts, selectors, sizing per environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.graph import Graph
from preflight.synth import Synthesizer
from tests.conftest import one, policies_in, prod_shaped, release


def test_charts_are_pinned_and_pick_up_the_projects_objects(local_graph: Graph) -> None:
    stack = release(local_graph, "kube-prometheus-stack")
    assert stack.inputs["version"] == "76.5.1"
    assert stack.inputs["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    spec = stack.inputs["values"]["prometheus"]["prometheusSpec"]
    selected = {"matchLabels": {"monitoring.project-ai.dev/collect": "true"}}
    assert spec["ruleSelector"] == spec["serviceMonitorSelector"] == selected
    for kind in ("PodMonitor", "PrometheusRule"):
        assert one(local_graph, kind)["metadata"]["labels"]["monitoring.project-ai.dev/collect"] == "true"
    otel = release(local_graph, "opentelemetry-collector")
    assert otel.inputs["version"] == "0.127.2" and otel.inputs["values"]["fullnameOverride"] == "otel-collector"
    assert otel.inputs["values"]["config"]["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]


def test_the_pod_monitor_scrapes_each_api_pod_once_with_the_rollout_hash(unmeshed_local_graph: Graph) -> None:
    # In the mesh, over mutual TLS: tests/stacks/test_mesh.py.
    spec = one(unmeshed_local_graph, "PodMonitor")["spec"]
    assert spec["podMetricsEndpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    ]
    assert spec["podTargetLabels"] == ["rollouts-pod-template-hash"]
    # The API's pods only (name and instance): not the migration or smoke-test pods.
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "project-ai-api",
        "app.kubernetes.io/instance": "project-ai-api-local",
    }


def test_the_charts_own_monitors_stay_selected(local_graph: Graph) -> None:
    values = release(local_graph, "kube-prometheus-stack").inputs["values"]
    label = {"monitoring.project-ai.dev/collect": "true"}
    assert values["commonLabels"] == label
    for exporter in ("kube-state-metrics", "prometheus-node-exporter"):
        assert values[exporter]["prometheus"]["monitor"]["additionalLabels"] == label


def test_alertmanager_secrets_are_mounted_not_written(local_graph: Graph) -> None:
    values = release(local_graph, "kube-prometheus-stack").inputs["values"]["alertmanager"]
    assert values["alertmanagerSpec"]["secrets"] == [
        "alertmanager-pagerduty",
        "alertmanager-pagerduty-escalation",
        "alertmanager-slack",
    ]
    assert values["config"]["route"]["routes"][1]["receiver"] == "pagerduty"


def test_prod_is_replicated_spread_and_larger_local_is_small(local_graph: Graph, tmp_path: Path) -> None:
    local = release(local_graph, "kube-prometheus-stack").inputs["values"]
    prod = release(prod_shaped(tmp_path), "kube-prometheus-stack").inputs["values"]
    assert local["prometheus"]["prometheusSpec"]["replicas"] == 1
    assert local["prometheus"]["prometheusSpec"]["retention"] == "1d"
    assert local["prometheus"]["prometheusSpec"]["resources"]["requests"] == {"cpu": "100m", "memory": "512Mi"}
    spec = prod["prometheus"]["prometheusSpec"]
    assert (spec["replicas"], spec["retention"], spec["podAntiAffinity"]) == (2, "30d", "hard")
    assert spec["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "200Gi"
    assert prod["alertmanager"]["alertmanagerSpec"]["replicas"] == 3


@pytest.mark.parametrize("name", ["project-ai-api-overview", "project-ai-api-security"])
def test_dashboards_are_configmaps_for_the_grafana_sidecar(local_graph: Graph, name: str) -> None:
    (config_map,) = [r for r in local_graph.resources if r.type.endswith(":ConfigMap") and r.name.endswith(name)]
    assert config_map.inputs["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map.inputs["metadata"]["namespace"] == "monitoring"
    assert list(config_map.inputs["data"]) == [f"{name}.json"]


def test_a_stacks_recorded_secret_expiries_reach_its_prometheus_rules(project_synthesizer) -> None:
    from datetime import UTC, datetime

    from tests.conftest import objects

    graph = project_synthesizer.synthesize("prod")
    (rule,) = objects(graph, "PrometheusRule")
    records = [
        r
        for group in rule["spec"]["groups"]
        for r in group["rules"]
        if r.get("record", "").endswith("expiry_timestamp_seconds")
    ]
    expected = {
        "upstream": "2027-06-30",
        "pagerduty": "2027-09-30",
        "pagerduty-escalation": "2027-09-30",
        "slack": "2027-12-31",
    }
    found = {r["labels"]["secret"]: int(r["expr"][len("vector(") : -1]) for r in records}
    assert found == {
        name: int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) for name, day in expected.items()
    }


@pytest.mark.parametrize(
    ("stack", "askers"),
    [("local", set()), ("staging", {"argo-rollouts", "keda"}), ("prod", {"argo-rollouts", "project-ai"})],
)
def test_prometheus_takes_queries_from_the_analyses_that_ask_it(
    project_synthesizer: Synthesizer, stack: str, askers: set[str]
) -> None:
    """The Rollouts controller's analyses (canary, blue-green), the canary judge and KEDA may
    send their queries out; Prometheus's namespace must also let them in, on its port."""
    graph = project_synthesizer.synthesize(stack)
    admitted = {
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for name, spec in policies_in(graph, "monitoring").items()
        if name.startswith("allow-ingress-queries-")
        for rule in spec["ingress"]
        if rule["ports"] == [{"port": 9090, "protocol": "TCP"}]
    }
    assert admitted == askers
    # The other side: each asker's own egress names Prometheus's port.
    for namespace in askers:
        egress = [
            rule
            for spec in policies_in(graph, namespace).values()
            for rule in spec.get("egress", [])
            if {"port": 9090, "protocol": "TCP"} in rule.get("ports", [])
        ]
        assert egress, f"{namespace} cannot send its queries"
