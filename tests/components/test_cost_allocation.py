"""OpenCost and the VPA recommender as the project's stacks synthesize them under mocks
(components/cost, stacks/cost.py): pinned charts, the values that price, allocate and
harden, the namespaces' policies, and a VerticalPodAutoscaler in recommendation mode on
a real target for each workload, valid against the vendored schema."""

from __future__ import annotations

from typing import Any

import pytest

from components.cost import Bounds, OpenCostArgs, VpaTarget, opencost, vpa
from components.cost.opencost import allocation_aggregates, gcp_key_command, prometheus_label
from components.cost.vpa import _distinct
from components.labels import Ownership, ownership_labels
from components.monitoring.stack import PROMETHEUS_RELEASE, SELECTED_LABEL, prometheus_address
from components.network_policies import NAMESPACE_NAME_LABEL
from preflight import kubernetes
from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks.model import CostConfig
from tests.conftest import CRD_SCHEMAS, objects, policies_in, release

OWNER = Ownership(team="ai-platform", cost_center="cc-ai-platform", environment="prod")
STACKS = ("local", "prod", "prod-gcp")


@pytest.fixture(scope="module")
def graphs(project_synthesizer: Synthesizer) -> dict[str, Graph]:
    return {stack: project_synthesizer.synthesize(stack) for stack in STACKS}


def opencost_values(graph: Graph) -> dict[str, Any]:
    return release(graph, opencost.CHART).inputs["values"]


def exporter(graph: Graph) -> dict[str, Any]:
    return opencost_values(graph)["opencost"]["exporter"]


# Pinned charts


@pytest.mark.parametrize("stack", STACKS)
def test_both_charts_are_pinned_to_the_configured_versions(graphs: dict[str, Graph], stack: str) -> None:
    defaults = CostConfig(opencost={"enabled": True}, vpa={"enabled": True})  # type: ignore[arg-type]
    for chart, repository, version, namespace in (
        (opencost.CHART, opencost.CHART_REPOSITORY, defaults.opencost.chart_version, "opencost"),
        (vpa.CHART, vpa.CHART_REPOSITORY, defaults.vpa.chart_version, "vpa"),
    ):
        found = release(graphs[stack], chart).inputs
        assert found["version"] == version and found["repositoryOpts"]["repo"] == repository
        assert found["atomic"] is True and found["namespace"] == namespace
    assert (defaults.opencost.chart_version, defaults.vpa.chart_version) == ("2.5.17", "5.0.0")


# OpenCost: Prometheus, pricing, allocation, hardening


@pytest.mark.parametrize("stack", STACKS)
def test_opencost_reads_the_stacks_own_prometheus_and_is_scraped_by_it(graphs: dict[str, Graph], stack: str) -> None:
    prometheus = opencost_values(graphs[stack])["opencost"]["prometheus"]
    assert prometheus["external"] == {"enabled": True, "url": prometheus_address("monitoring")}
    assert prometheus["internal"]["enabled"] is False
    monitor = opencost_values(graphs[stack])["opencost"]["metrics"]["serviceMonitor"]
    assert monitor["enabled"] is True and monitor["additionalLabels"] == SELECTED_LABEL


def test_a_laptop_cluster_is_priced_from_the_stacks_table(graphs: dict[str, Graph]) -> None:
    pricing = opencost_values(graphs["local"])["opencost"]["customPricing"]
    table = CostConfig().opencost.custom_pricing
    assert pricing["enabled"] is True and pricing["provider"] == "custom"
    assert pricing["configPath"] == opencost.CONFIG_PATH
    assert pricing["costModel"]["CPU"] == table.cpu and pricing["costModel"]["RAM"] == table.ram
    assert pricing["costModel"]["storage"] == table.storage
    # No cloud to reach: only Prometheus, DNS, the API server and itself.
    assert "allow-egress-pricing-api" not in policies_in(graphs["local"], "opencost")


def test_aws_is_priced_from_the_public_price_list_without_credentials(graphs: dict[str, Graph]) -> None:
    values = opencost_values(graphs["prod"])
    assert values["opencost"]["customPricing"] == {"enabled": False}
    assert "aws" not in values["opencost"]["exporter"] and "command" not in exporter(graphs["prod"])
    pricing_api = policies_in(graphs["prod"], "opencost")["allow-egress-pricing-api"]
    (rule,) = pricing_api["egress"]
    assert [p["port"] for p in rule["ports"]] == [443]
    assert rule["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert set(rule["to"][0]["ipBlock"]["except"]) == set(opencost.PRIVATE_RANGES)
    assert "allow-egress-gke-metadata" not in policies_in(graphs["prod"], "opencost")


def test_gcp_reads_its_billing_key_from_a_vault_synced_file_never_a_value(graphs: dict[str, Graph]) -> None:
    graph = graphs["prod-gcp"]
    values = opencost_values(graph)
    text = repr(values)
    assert "cloudProviderApiKey" not in text and "secretKeyRef" not in text and 'CLOUD_PROVIDER_API_KEY"' not in text
    (synced,) = [s for s in objects(graph, "ExternalSecret") if s["metadata"]["namespace"] == "opencost"]
    assert synced["spec"]["target"]["name"] == opencost.GCP_KEY_SECRET
    assert synced["spec"]["data"] == [
        {"secretKey": "gcp-api-key", "remoteRef": {"key": "project-ai-api/opencost", "property": "gcp-api-key"}}
    ]
    (volume,) = [v for v in values["extraVolumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == opencost.GCP_KEY_SECRET and volume["secret"]["defaultMode"] == 0o440
    (mount,) = [m for m in exporter(graph)["extraVolumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    command = exporter(graph)["command"]
    assert command == gcp_key_command() and f"{mount['mountPath']}/gcp-api-key" in command[-1]
    assert command[-1].endswith(f"exec {opencost.BINARY}")
    # The KV store serves OpenCost's namespace, so the ExternalSecret can read the key.
    (store,) = [s for s in objects(graph, "ClusterSecretStore") if s["metadata"]["name"] == "vault-kv"]
    assert "opencost" in store["spec"]["conditions"][0]["namespaces"]
    metadata = policies_in(graph, "opencost")["allow-egress-gke-metadata"]["egress"][0]
    assert metadata["to"][0]["ipBlock"]["cidr"] == opencost.GCP_METADATA and metadata["ports"][0]["port"] == 80


@pytest.mark.parametrize("stack", STACKS)
def test_pods_carry_every_ownership_label_for_allocation(graphs: dict[str, Graph], stack: str) -> None:
    values = opencost_values(graphs[stack])
    environment = {"local": "local", "prod": "prod", "prod-gcp": "prod"}[stack]
    expected = ownership_labels(Ownership("ai-platform", "cc-ai-platform", environment))
    assert values["podLabels"] == expected
    assert values["commonLabels"] == {k: v for k, v in expected.items() if not k.startswith("app.kubernetes.io/")}
    # kube_pod_labels from OpenCost itself: the stack's kube-state-metrics exports no labels.
    assert values["opencost"]["metrics"]["kubeStateMetrics"]["emitKsmV1Metrics"] is True


def test_allocation_aggregates_name_each_ownership_label_as_prometheus_spells_it() -> None:
    assert allocation_aggregates(OWNER) == {
        "app.kubernetes.io/part-of": "label:app_kubernetes_io_part_of",
        "app.kubernetes.io/managed-by": "label:app_kubernetes_io_managed_by",
        "team": "label:team",
        "cost-center": "label:cost_center",
        "environment": "label:environment",
    }
    assert prometheus_label("a.b/c-d_e9") == "a_b_c_d_e9"


@pytest.mark.parametrize("stack", STACKS)
def test_opencost_runs_restricted_with_no_ui_and_nothing_public(graphs: dict[str, Graph], stack: str) -> None:
    values = opencost_values(graphs[stack])
    security = exporter(graphs[stack])["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]} and security["runAsNonRoot"] is True
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["opencost"]["ui"]["enabled"] is False and values["opencost"]["mcp"]["enabled"] is False
    assert values["service"]["type"] == "ClusterIP"
    assert "apiIngress" not in exporter(graphs[stack]) and "ingress" not in values["opencost"]["ui"]
    resources = exporter(graphs[stack])["resources"]
    assert resources["requests"] and resources["limits"]["cpu"] and resources["limits"]["memory"]
    # Writable scratch on emptyDirs: /tmp, and the config path (the chart's own for custom pricing).
    mounted = {m["mountPath"] for m in exporter(graphs[stack])["extraVolumeMounts"]}
    assert "/tmp" in mounted and (opencost.CONFIG_PATH in mounted) == (stack != "local")
    namespace = next(n for n in objects(graphs[stack], "Namespace") if n["metadata"]["name"] == "opencost")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("stack", STACKS)
def test_opencosts_namespace_denies_by_default_and_prometheus_admits_only_its_pods(
    graphs: dict[str, Graph], stack: str
) -> None:
    graph = graphs[stack]
    policies = policies_in(graph, "opencost")
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (scrape,) = policies["allow-ingress-metrics"]["ingress"]
    assert scrape["from"] == [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "monitoring"}}}]
    assert [p["port"] for p in scrape["ports"]] == [opencost.API_PORT]
    (query,) = policies["allow-egress-prometheus"]["egress"]
    assert [p["port"] for p in query["ports"]] == [9090]
    admission = policies_in(graph, "monitoring")["allow-ingress-opencost"]
    assert admission["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    (caller,) = admission["ingress"][0]["from"]
    assert caller["namespaceSelector"]["matchLabels"] == {NAMESPACE_NAME_LABEL: "opencost"}
    assert caller["podSelector"]["matchLabels"] == opencost.selector()
    assert [p["port"] for p in admission["ingress"][0]["ports"]] == [9090]


def test_custom_pricing_without_a_price_table_is_refused() -> None:
    args = OpenCostArgs(
        owner=OWNER,
        chart_version="2.5.17",
        cluster=None,  # type: ignore[arg-type]
        prometheus_address=prometheus_address("monitoring"),
        pricing="custom",
        cluster_id="local",
        resources={"requests": {"cpu": "50m", "memory": "256Mi"}},
    )
    with pytest.raises(ValueError, match="custom_prices: missing"):
        opencost.values(args)


# VPA: recommender only, and what it watches


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_recommender_is_installed(graphs: dict[str, Graph], stack: str) -> None:
    values = release(graphs[stack], vpa.CHART).inputs["values"]
    assert values["recommender"]["enabled"] is True
    assert values["updater"] == {"enabled": False}
    assert values["admissionController"]["enabled"] is False
    assert values["admissionController"]["generateCertificate"] is False
    assert values["recommender"]["podMonitor"] == {"enabled": True, "labels": SELECTED_LABEL}
    assert values["podLabels"] == ownership_labels(
        Ownership("ai-platform", "cc-ai-platform", "local" if stack == "local" else "prod")
    )
    policies = policies_in(graphs[stack], "vpa")
    assert [p["port"] for p in policies["allow-ingress-metrics"]["ingress"][0]["ports"]] == [vpa.METRICS_PORT]
    assert not [name for name in policies if "egress" in name and "api-server" not in name]


def autoscalers(graph: Graph) -> dict[tuple[str, str], dict[str, Any]]:
    return {(v["metadata"]["namespace"], v["metadata"]["name"]): v for v in objects(graph, "VerticalPodAutoscaler")}


def declared(graph: Graph, kind: str, namespace: str, name: str) -> bool:
    return any(
        o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace for o in objects(graph, kind)
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_autoscaler_only_recommends_within_bounds(graphs: dict[str, Graph], stack: str) -> None:
    found = autoscalers(graphs[stack])
    assert len(found) >= 8
    bounds = CostConfig().vpa.bounds
    for autoscaler in found.values():
        spec = autoscaler["spec"]
        assert spec["updatePolicy"] == {"updateMode": "Off"}
        sized, rest = spec["resourcePolicy"]["containerPolicies"]
        assert sized["minAllowed"] == {"cpu": bounds.min_allowed.cpu, "memory": bounds.min_allowed.memory}
        assert sized["maxAllowed"] == {"cpu": bounds.max_allowed.cpu, "memory": bounds.max_allowed.memory}
        assert sized["controlledResources"] == ["cpu", "memory"] and rest == {"containerName": "*", "mode": "Off"}


@pytest.mark.parametrize(("stack", "kind"), [("local", "Deployment"), ("prod", "Rollout"), ("prod-gcp", "Rollout")])
def test_the_apis_autoscaler_points_at_what_runs_its_pods(graphs: dict[str, Graph], stack: str, kind: str) -> None:
    graph = graphs[stack]
    target = autoscalers(graph)[("project-ai", "project-ai-api")]["spec"]["targetRef"]
    assert target["kind"] == kind and declared(graph, kind, "project-ai", target["name"])
    (api,) = [d for d in objects(graph, kind) if d["metadata"]["name"] == target["name"]]
    containers = [c["name"] for c in api["spec"]["template"]["spec"]["containers"]]
    assert (
        autoscalers(graph)[("project-ai", "project-ai-api")]["spec"]["resourcePolicy"]["containerPolicies"][0][
            "containerName"
        ]
        in containers
    )


@pytest.mark.parametrize("stack", STACKS)
def test_platform_autoscalers_point_at_what_the_charts_create(graphs: dict[str, Graph], stack: str) -> None:
    graph = graphs[stack]
    found = {key: v["spec"]["targetRef"] for key, v in autoscalers(graph).items()}
    # The operator's StatefulSets belong to these objects (each has a scale subresource).
    assert found[("monitoring", "prometheus")] == {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "name": f"{PROMETHEUS_RELEASE}-prometheus",
    }
    assert found[("monitoring", "alertmanager")]["name"] == f"{PROMETHEUS_RELEASE}-alertmanager"
    # Prometheus's Service (prometheus_address) is named after the same object.
    assert f"//{found[('monitoring', 'prometheus')]['name']}." in prometheus_address("monitoring")
    assert release(graph, "kube-prometheus-stack").inputs["name"] == PROMETHEUS_RELEASE
    assert release(graph, "opentelemetry-collector").inputs["values"]["fullnameOverride"] == "otel-collector"
    assert found[("monitoring", "otel-collector")]["name"] == "otel-collector"
    assert opencost_values(graph)["fullnameOverride"] == found[("opencost", "opencost")]["name"]
    assert release(graph, vpa.CHART).inputs["values"]["fullnameOverride"] == vpa.RELEASE
    assert found[("vpa", "vpa-recommender")]["name"] == vpa.RECOMMENDER
    assert release(graph, "external-secrets").inputs["name"] == found[("external-secrets", "external-secrets")]["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_autoscalers_are_validated_against_the_vendored_schema(graphs: dict[str, Graph], stack: str) -> None:
    results = kubernetes.validate(graphs[stack], "1.33", CRD_SCHEMAS)
    checked = [r for r in results if r.kind == "VerticalPodAutoscaler"]
    assert checked and all(r.status == kubernetes.VALID for r in checked), [(r.title, r.errors) for r in checked]


def test_two_autoscalers_of_one_name_in_a_namespace_are_refused() -> None:
    target = VpaTarget("api", "project-ai", "apps/v1", "Deployment", "api", "api")
    other_namespace = VpaTarget("api", "other", "apps/v1", "Deployment", "api", "api")
    assert _distinct((target, other_namespace)) == (target, other_namespace)
    with pytest.raises(ValueError, match="two VerticalPodAutoscalers named api in namespace project-ai"):
        _distinct((target, target))


def test_autoscaler_spec_carries_the_bounds_it_is_given() -> None:
    target = VpaTarget("x", "ns", "argoproj.io/v1alpha1", "Rollout", "api", "api")
    spec = vpa.autoscaler_spec(target, Bounds({"cpu": "1m", "memory": "1Mi"}, {"cpu": "64", "memory": "256Gi"}))
    assert spec["targetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "api"}
    assert spec["resourcePolicy"]["containerPolicies"][0]["maxAllowed"] == {"cpu": "64", "memory": "256Gi"}
