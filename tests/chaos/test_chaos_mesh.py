"""Chaos Mesh on dev and staging (components/chaos/chaos_mesh.py, composed by ApiDeployment):
its pinned chart and every value it sets, scoped to the app's namespace, its dashboard
behind sign-in and not exposed, its privileged namespace under a reviewed waiver and
isolated like every other, and nothing of it in prod."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.chaos import chaos_mesh
from preflight.graph import Graph
from tests.chaos.conftest import NAMESPACE
from tests.conftest import ROOT, objects, policies_in, release, stack_config, valid_and_clean

# Every values path the release sets, each read in the chart's values.yaml at tag v2.8.3
# (chaos-mesh/chaos-mesh, helm/chaos-mesh/values.yaml; line numbers of that file).
VERIFIED_VALUES = {
    "customLabels",  # 23
    "clusterScoped",  # 27
    "timezone",  # 39
    "enableProfiling",  # 42
    "controllerManager.allowHostNetworkTesting",  # 61
    "controllerManager.replicaCount",  # 71
    "controllerManager.targetNamespace",  # 97 (only with clusterScoped: false)
    "controllerManager.service.type",  # 101
    "controllerManager.podChaos.podFailure.pauseImage",  # 131
    "chaosDaemon.hostNetwork",  # 171
    "chaosDaemon.mtls.enabled",  # 176
    "chaosDaemon.privileged",  # 193
    "chaosDaemon.runtime",  # 206 (docker, containerd, crio)
    "chaosDaemon.socketPath",  # 208
    "dashboard.create",  # 259
    "dashboard.securityMode",  # 285
    "dashboard.gcpSecurityMode.enabled",  # 288
    "dashboard.service.type",  # 307 (NodePort by default)
    "dashboard.persistentVolume.enabled",  # 334
    "dashboard.ingress.enabled",  # 387
    "dnsServer.create",  # 430
    "prometheus.create",  # 489
}
# Maps the chart reads whole, not key by key.
WHOLE = {"customLabels"}


def paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in WHOLE:
            found |= paths(value, f"{path}.")
        else:
            found.add(path)
    return found


def values(graph: Graph) -> dict[str, Any]:
    return release(graph, chaos_mesh.CHART).inputs["values"]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_the_chart_is_chaos_meshs_own_at_its_pinned_version(stack: str, request: pytest.FixtureRequest) -> None:
    found = release(request.getfixturevalue(stack), "chaos-mesh")
    assert found.inputs["version"] == "2.8.3" == chaos_mesh.CHART_VERSION
    assert found.inputs["repositoryOpts"] == {"repo": "https://charts.chaos-mesh.org"}
    assert found.inputs["namespace"] == "chaos-mesh" and found.inputs["name"] == "chaos-mesh"
    assert found.inputs["atomic"] is True


def test_every_value_set_was_read_in_the_charts_values_file(dev: Graph) -> None:
    assert paths(values(dev)) == VERIFIED_VALUES


def test_the_controller_may_touch_the_apps_namespace_alone(dev: Graph, staging: Graph) -> None:
    for graph in (dev, staging):
        manager = values(graph)["controllerManager"]
        # Namespace-scoped: the chart binds the target-namespace roles with RoleBindings there.
        assert values(graph)["clusterScoped"] is False and manager["targetNamespace"] == NAMESPACE
        assert manager["allowHostNetworkTesting"] is False
    # The chart's own chart defaults would have scoped it to its own namespace.
    assert chaos_mesh.NAMESPACE != NAMESPACE


def test_the_dashboard_asks_for_a_token_and_is_not_exposed(dev: Graph) -> None:
    dashboard = values(dev)["dashboard"]
    assert dashboard["securityMode"] is True and dashboard["gcpSecurityMode"] == {"enabled": False}
    assert dashboard["service"] == {"type": "ClusterIP"} and dashboard["ingress"] == {"enabled": False}
    assert not [i for i in objects(dev, "Ingress") if i["metadata"]["namespace"] == "chaos-mesh"]
    assert values(dev)["controllerManager"]["service"] == {"type": "ClusterIP"}


def test_the_dashboards_login_for_looking_reads_chaos_objects_in_the_apps_namespace_only(dev: Graph) -> None:
    (role,) = [r for r in objects(dev, "Role") if r.get("metadata", {}).get("name") == chaos_mesh.VIEWER_ROLE]
    assert role["metadata"]["namespace"] == NAMESPACE
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in role["rules"])
    assert not [rule for rule in role["rules"] for key in ("apiGroups", "resources", "verbs") if "*" in rule[key]]
    (binding,) = [b for b in objects(dev, "RoleBinding") if b["metadata"]["name"] == chaos_mesh.VIEWER_ROLE]
    assert binding["roleRef"]["kind"] == "Role" and binding["metadata"]["namespace"] == NAMESPACE
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": chaos_mesh.DASHBOARD_VIEWER, "namespace": NAMESPACE}
    ]
    cluster_wide = [r for r in dev.resources if r.type.endswith((":ClusterRole", ":ClusterRoleBinding"))]
    assert not [r for r in cluster_wide if "chaos" in r.urn]


def test_chaos_daemon_speaks_to_containerd_on_its_socket(dev: Graph) -> None:
    daemon = values(dev)["chaosDaemon"]
    assert daemon["runtime"] == "containerd" and daemon["socketPath"] == "/run/containerd/containerd.sock"
    assert daemon["mtls"] == {"enabled": True} and daemon["hostNetwork"] is False
    assert values(dev)["controllerManager"]["podChaos"]["podFailure"]["pauseImage"] == "registry.k8s.io/pause:3.10"
    assert values(dev)["enableProfiling"] is False and values(dev)["prometheus"] == {"create": False}


def test_the_release_waits_for_the_apps_namespace_its_roles_bind_in(dev: Graph) -> None:
    found = release(dev, "chaos-mesh")
    (app_namespace,) = [
        r for r in dev.resources if r.type == "kubernetes:core/v1:Namespace" and r.name == "api-namespace"
    ]
    assert app_namespace.urn in found.dependencies


def test_its_namespace_is_privileged_under_the_reviewed_waiver(dev: Graph) -> None:
    (namespace,) = [n for n in objects(dev, "Namespace") if n["metadata"]["name"] == "chaos-mesh"]
    labels = namespace["metadata"]["labels"]
    assert {labels[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "audit", "warn")} == {"privileged"}
    report = valid_and_clean(dev, stack_config("dev"))
    waived = {(f.policy, f.urn.rsplit("::", 1)[-1]) for f in report.outcome.waived}
    assert ("k8s-namespace-pod-security-restricted", "chaos-mesh-namespace") in waived
    waivers = yaml.safe_load((ROOT / "policies" / "waivers.yaml").read_text())
    (waiver,) = [w for w in waivers if w["resource"].endswith("::chaos-mesh-namespace")]
    assert "prod" not in " ".join(waiver["stacks"]) and len(waiver["reason"]) > 200


def test_the_namespace_denies_by_default_and_allows_each_path_to_its_own_pods(dev: Graph) -> None:
    found = policies_in(dev, "chaos-mesh")
    assert found["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert {"allow-dns", "allow-within-namespace", "allow-egress-api-server-0", "allow-ingress-webhook-0"} <= set(found)
    assert found["allow-ingress-webhook-0"]["ingress"][0]["ports"] == [{"port": 10250, "protocol": "TCP"}]
    controller = {"app.kubernetes.io/name": "chaos-mesh", "app.kubernetes.io/instance": "chaos-mesh"}
    guard = found["allow-controller-to-steady-state-guard"]
    assert guard["podSelector"]["matchLabels"] == {**controller, "app.kubernetes.io/component": "controller-manager"}
    assert guard["egress"] == [
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/name": "chaos-steady-state-guard",
                            "app.kubernetes.io/instance": "chaos-steady-state-guard-dev",
                        }
                    },
                }
            ],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }
    ]
    dns = {**controller, "app.kubernetes.io/component": "chaos-dns-server"}
    clients = found["allow-dns-server-clients"]
    assert clients["podSelector"]["matchLabels"] == dns
    assert clients["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}}
    ]
    assert {p["protocol"] for p in clients["ingress"][0]["ports"]} == {"UDP", "TCP"}
    upstream = found["allow-dns-server-upstream"]
    assert upstream["podSelector"]["matchLabels"] == dns
    assert {p["port"] for p in upstream["egress"][0]["ports"]} == {53}


def test_the_apis_pods_may_ask_the_chaos_dns_server_only_where_chaos_runs(dev: Graph, project_synthesizer: Any) -> None:
    app = policies_in(dev, NAMESPACE)
    udp = app["allow-egress-chaos-dns-udp"]["egress"][0]
    assert udp["ports"] == [{"port": 5353, "protocol": "UDP"}]
    assert udp["to"][0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "chaos-mesh"}}
    assert app["allow-egress-chaos-dns-tcp"]["egress"][0]["ports"] == [{"port": 5353, "protocol": "TCP"}]
    prod = project_synthesizer.synthesize("prod")
    assert not [p for p in policies_in(prod, NAMESPACE) if "chaos" in p]


@pytest.mark.parametrize("stack", ["prod", "prod-eu", "prod-gcp", "local"])
def test_no_other_stack_runs_chaos(stack: str, project_synthesizer: Any) -> None:
    graph = project_synthesizer.synthesize(stack)
    assert not [r for r in graph.resources if "chaos" in r.type or "chaos-mesh.org" in r.type]
    assert not [
        r for r in graph.resources if r.type.endswith("helm.sh/v3:Release") and r.inputs["chart"] == "chaos-mesh"
    ]


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_the_stacks_are_valid_and_pass_both_packs(stack: str, request: pytest.FixtureRequest) -> None:
    valid_and_clean(request.getfixturevalue(stack), stack_config(stack))


def test_the_pack_refuses_chaos_mesh_in_prod_even_past_the_config(staging: Graph) -> None:
    """staging's graph judged as if it were prod: the release and every chaos object are
    refused, whatever the config said."""
    from preflight import policies

    prod_like = {**stack_config("staging"), "projectai:environment": "prod"}
    found = [(f.urn.rsplit("::", 1)[-1], f.message) for f in policies.check(staging, prod_like).outcome.mandatory]
    refused = [
        name
        for name, message in found
        if message.endswith(" in prod") and ("Chaos Mesh" in message or "chaos-mesh.org" in message)
    ]
    assert "chaos-mesh-release" in refused
    assert len([name for name in refused if name.startswith("chaos-experiments-")]) == 17
