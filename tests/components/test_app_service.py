"""AppService as synthesized for the local stack: every property the issue asks for."""

from __future__ import annotations

from typing import Any

import pytest

from components.secret_volume import SECRETS_DIR
from preflight.graph import Graph
from tests.conftest import objects, one

NAMESPACE = "project-ai"
SELECTOR = {"app.kubernetes.io/name": "project-ai-api", "app.kubernetes.io/instance": "project-ai-api-local"}
FAMILY = {"app.kubernetes.io/name": "project-ai-api"}


@pytest.fixture(scope="module")
def local_graph(unmeshed_local_graph: Graph) -> Graph:
    """The local stack's AppService alone (with its provider), not the platform beside it,
    outside the mesh (what the mesh changes: tests/stacks/test_mesh.py)."""
    full = unmeshed_local_graph
    component = next(r for r in full.resources if r.type == "projectai:workload:AppService")
    kept = [r for r in full.resources if component.urn in (r.urn, r.parent) or r.type.startswith("pulumi:providers:")]
    return Graph(full.project, full.stack, kept, full.outputs)


@pytest.fixture(scope="module")
def pod(local_graph: Graph) -> dict[str, Any]:
    return one(local_graph, "Deployment")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod["containers"]
    return only


def test_namespace_enforces_restricted_pod_security(local_graph: Graph) -> None:
    labels = one(local_graph, "Namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.33"


def test_service_account_does_not_mount_a_token(local_graph: Graph, pod: dict[str, Any]) -> None:
    account = one(local_graph, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is False


def test_settings_come_from_an_auto_named_immutable_config_map(local_graph: Graph, container: dict[str, Any]) -> None:
    (config_map,) = [c for c in objects(local_graph, "ConfigMap") if c["metadata"]["name"].startswith("api-settings-")]
    name = config_map["metadata"]["name"]
    assert name.startswith("api-settings-") and len(name) == len("api-settings-") + 8
    assert config_map["immutable"] is True
    assert config_map["data"]["APP_ENVIRONMENT"] == "local"
    assert config_map["data"]["PORT"] == "8000"
    # Where the secret files are; the secrets themselves are never in the environment.
    assert config_map["data"]["APP_SECRETS_DIR"] == SECRETS_DIR
    assert container["envFrom"] == [{"configMapRef": {"name": name}}]
    assert "env" not in container


def test_secrets_are_read_only_files_in_one_projected_volume(pod: dict[str, Any], container: dict[str, Any]) -> None:
    assert {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True} in container["volumeMounts"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    assert volume["projected"] == {
        "defaultMode": 0o440,
        "sources": [
            {"secret": {"name": "project-ai-api-secrets"}},
            {"secret": {"name": "project-ai-api-database"}},
        ],
    }


def test_probes_hit_the_health_endpoints_on_the_app_port(container: dict[str, Any]) -> None:
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    paths = {probe: container[probe]["httpGet"] for probe in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {
        "startupProbe": {"path": "/startupz", "port": "http"},
        "livenessProbe": {"path": "/livez", "port": "http"},
        "readinessProbe": {"path": "/readyz", "port": "http"},
    }


def test_requests_and_limits_from_config(container: dict[str, Any]) -> None:
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }


def test_container_and_pod_are_hardened(pod: dict[str, Any], container: dict[str, Any]) -> None:
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # A writable /tmp; everything else read-only (the secret files included).
    assert container["volumeMounts"][0] == {"name": "tmp", "mountPath": "/tmp"}
    assert pod["volumes"][0] == {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}
    assert all(mount["readOnly"] for mount in container["volumeMounts"][1:])


def test_image_is_pinned_from_config(container: dict[str, Any]) -> None:
    assert container["image"] == "ghcr.io/project-ai/api:0.1.0"


def test_rolling_update_never_drops_below_capacity(local_graph: Graph) -> None:
    spec = one(local_graph, "Deployment")["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in spec, "the HPA owns the replica count"
    assert spec["selector"] == {"matchLabels": SELECTOR}


def test_pods_spread_over_zones_and_nodes(pod: dict[str, Any]) -> None:
    keys = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert set(keys) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in keys.values():
        assert constraint["maxSkew"] == 1
        assert constraint["labelSelector"] == {"matchLabels": SELECTOR}
    (preferred,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert preferred["podAffinityTerm"]["labelSelector"] == {"matchLabels": SELECTOR}


def test_termination_drains_in_flight_requests(pod: dict[str, Any], container: dict[str, Any]) -> None:
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert pod["terminationGracePeriodSeconds"] == 30  # 5 s pause + 25 s drain


def test_service_is_cluster_ip_on_the_named_port(local_graph: Graph) -> None:
    spec = one(local_graph, "Service")["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == SELECTOR
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_autoscaler_targets_the_deployment(local_graph: Graph) -> None:
    spec = one(local_graph, "HorizontalPodAutoscaler")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "project-ai-api"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 2)
    (metric,) = spec["metrics"]
    assert metric["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_disruption_budget_keeps_all_but_one(local_graph: Graph) -> None:
    spec = one(local_graph, "PodDisruptionBudget")["spec"]
    assert spec == {
        "selector": {"matchLabels": SELECTOR},
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


def test_ingress_terminates_tls_with_cert_manager(local_graph: Graph) -> None:
    ingress = one(local_graph, "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "selfsigned"
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["api.project-ai.localtest.me"], "secretName": "api-tls"}]
    (rule,) = spec["rules"]
    assert rule["host"] == "api.project-ai.localtest.me"


def test_ingress_routes_only_the_versioned_api(local_graph: Graph) -> None:
    (rule,) = one(local_graph, "Ingress")["spec"]["rules"]
    backend = {"service": {"name": "project-ai-api", "port": {"name": "http"}}}
    assert rule["http"]["paths"] == [
        {"path": "/v1", "pathType": "Prefix", "backend": backend},
        {"path": "/v2", "pathType": "Prefix", "backend": backend},
    ]
    # Probes, metrics and the OpenAPI document answer only inside the cluster.
    for private in ("/", "/metrics", "/readyz", "/livez", "/startupz", "/openapi.json"):
        assert not any(_prefix_matches(path["path"], private) for path in rule["http"]["paths"]), private


def _prefix_matches(prefix: str, request_path: str) -> bool:
    """Ingress `Prefix` matching: whole path elements, so /v1 matches /v1/models, not /v10."""
    elements = [part for part in prefix.split("/") if part]
    return [part for part in request_path.split("/") if part][: len(elements)] == elements


def policies(graph: Graph) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p["spec"] for p in objects(graph, "NetworkPolicy")}


def test_namespace_denies_all_traffic_by_default(local_graph: Graph) -> None:
    assert policies(local_graph)["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize(
    ("policy", "namespace"),
    [("allow-ingress-controller", "ingress-nginx"), ("allow-monitoring", "monitoring")],
)
def test_ingress_only_from_controller_and_monitoring(local_graph: Graph, policy: str, namespace: str) -> None:
    spec = policies(local_graph)[policy]
    assert spec["podSelector"] == {"matchLabels": SELECTOR}
    assert spec["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}],
            "ports": [{"port": 8000, "protocol": "TCP"}],
        }
    ]


def test_egress_only_to_dns_and_named_endpoints(local_graph: Graph) -> None:
    found = policies(local_graph)
    ingress_only = {"default-deny", "allow-ingress-controller", "allow-monitoring"}
    egress = {name: spec for name, spec in found.items() if name not in ingress_only}
    assert set(egress) == {
        "allow-dns",
        "allow-egress-database",
        "allow-egress-cache",
        "allow-egress-otlp-collector",
        "allow-egress-inference-upstream",
    }
    (dns,) = egress["allow-dns"]["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    (database,) = egress["allow-egress-database"]["egress"]
    assert database["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "project-ai-data"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgresql"}},
        }
    ]
    assert database["ports"] == [{"port": 5432, "protocol": "TCP"}]
    (upstream,) = egress["allow-egress-inference-upstream"]["egress"]
    assert upstream["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert "10.0.0.0/8" in upstream["to"][0]["ipBlock"]["except"]
    assert upstream["ports"] == [{"port": 443, "protocol": "TCP"}]
    # Egress is for the whole family (API, migration Job), traffic goes to the API only.
    for spec in egress.values():
        assert spec["policyTypes"] == ["Egress"] and spec["podSelector"] == {"matchLabels": FAMILY}


def test_every_object_carries_the_standard_labels(local_graph: Graph) -> None:
    expected = {
        **SELECTOR,
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/part-of": "project-ai",
        "app.kubernetes.io/managed-by": "pulumi",
        "team": "ai-platform",
        "cost-center": "cc-ai-platform",
        "environment": "local",
    }
    kinds = (
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
    )
    for kind in kinds:
        for found in objects(local_graph, kind):
            assert found["metadata"]["labels"].items() >= expected.items(), kind
            # The version is on pods only: a release must not touch every object.
            assert "app.kubernetes.io/version" not in found["metadata"]["labels"], kind
    pod_labels = one(local_graph, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.items() >= {**expected, "app.kubernetes.io/version": "0.1.0"}.items()


def test_children_are_parented_to_the_component_and_use_the_cluster_provider(local_graph: Graph) -> None:
    component = next(r for r in local_graph.resources if r.type == "projectai:workload:AppService")
    provider = next(r for r in local_graph.resources if r.type == "pulumi:providers:kubernetes")
    children = [r for r in local_graph.resources if r.type.startswith("kubernetes:")]
    assert len(children) == 18  # the flags ConfigMap among them
    assert all(r.parent == component.urn and r.provider == provider.urn for r in children)
    namespace = next(r for r in children if r.type.endswith(":Namespace"))
    assert all(namespace.urn in r.dependencies for r in children if r is not namespace)
    deployment = one(local_graph, "Deployment")
    assert component.outputs == {
        "namespace": NAMESPACE,
        "serviceName": "project-ai-api",
        "url": "https://api.project-ai.localtest.me",
        "labels": deployment["metadata"]["labels"],
        "selector": deployment["spec"]["selector"]["matchLabels"],
    }


def test_the_release_migrates_first_with_a_job_named_by_its_version(local_graph: Graph) -> None:
    job = one(local_graph, "Job")
    assert job["metadata"]["name"] == "project-ai-api-migrate-0-1-0"
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (2, 900, 86400)
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "app", "migrate"]
    assert container["image"] == "ghcr.io/project-ai/api:0.1.0"
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    deployment_pod = one(local_graph, "Deployment")["spec"]["template"]["spec"]
    assert container["securityContext"] == deployment_pod["containers"][0]["securityContext"]
    assert pod["securityContext"] == deployment_pod["securityContext"]
    assert container["envFrom"] == deployment_pod["containers"][0]["envFrom"]
    # Without Vault's database engine one database user serves both: the same files (the
    # flag file aside: migrations evaluate no flag).
    assert pod["volumes"] == [v for v in deployment_pod["volumes"] if v["name"] != "flags"]
    mounts = deployment_pod["containers"][0]["volumeMounts"]
    assert container["volumeMounts"] == [m for m in mounts if m["name"] != "flags"]
    # Its pods are in the egress family but not behind the Service.
    labels = spec["template"]["metadata"]["labels"]
    assert labels.items() >= FAMILY.items() and "app.kubernetes.io/instance" not in labels
    job_resource = next(r for r in local_graph.resources if r.type == "kubernetes:batch/v1:Job")
    deployment = next(r for r in local_graph.resources if r.type == "kubernetes:apps/v1:Deployment")
    assert job_resource.urn in deployment.dependencies
