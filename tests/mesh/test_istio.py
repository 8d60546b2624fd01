"""Istio under mocks: IstioMesh and one application namespace's MeshPolicies, composed
in a small program as a stack would compose them.

Every Istio object is validated against the vendored CRD schemas, every other object
against the cluster's Kubernetes schema. The charts' values were read in the pinned
charts: istio/istio tag 1.30.3 (manifests/charts/istio-control/istio-discovery,
gateway, istio-cni and base values.yaml; top-level values: `env`, `global.caAddress`,
`meshConfig.*`, `cni.enabled`, `seccompProfile`) and kiali/helm-charts tag v2.29.0
(kiali-server/values.yaml: `auth.strategy`, `deployment.view_only_mode`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.mesh import istio
from preflight import kubernetes, policies
from preflight.graph import Graph, Resource
from preflight.kubernetes import VALID
from preflight.synth import ProgramError
from tests.conftest import CRD_SCHEMAS, component_program, objects

TRUST_DOMAIN = "mesh.project-ai.dev"
GATEWAY = f"{TRUST_DOMAIN}/ns/istio-ingress/sa/istio-ingressgateway"
PROMETHEUS = f"{TRUST_DOMAIN}/ns/monitoring/sa/prometheus"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"

PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

from components import network_policies
from components.charts import Cluster
from components.labels import Ownership, pod_security_labels
from components.mesh import istio
from components.mesh.istio import IstioMesh, IstioMeshArgs, KialiArgs, TracingArgs, Upstream
from components.mesh.traffic import MeshPolicies, MeshPoliciesArgs
from components.network_policies import EgressRule

config = pulumi.Config("mesh")
owner = Ownership(team="platform", cost_center="cc-1", environment="test")
trust_domain = config.require("trustDomain")


def certificates(namespace):
    # Stands in for MeshCertificates (its Issuer and istio-csr), which istiod waits for.
    return [
        k8s.core.v1.ConfigMap(
            "istio-csr-ready",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="istio-csr-ready", namespace="istio-system"),
            data={"ready": "true"},
            opts=pulumi.ResourceOptions(depends_on=[namespace]),
        )
    ]


mesh = IstioMesh(
    "mesh",
    IstioMeshArgs(
        owner=owner,
        cluster=Cluster(
            kubernetes_version="1.33",
            node_local_dns=None,
            monitoring_namespace="monitoring",
            ingress_namespace="ingress-nginx",
            api_server_cidrs=("10.0.0.1/32",),
        ),
        trust_domain=trust_domain,
        tracing=TracingArgs(
            service="opentelemetry-collector.monitoring.svc.cluster.local",
            sampling_percent=config.get_float("sampling") or 5.0,
        ),
        upstreams=(
            Upstream(host="db.example.internal", port=5432, protocol="TCP"),
            Upstream(host="api.cloudflare.com", port=443),
        ),
        kiali=KialiArgs(prometheus_url="http://prometheus-operated.monitoring:9090"),
        setup=certificates,
        platform=config.get("platform"),
        gateway_egress=(EgressRule("api", (8000,), namespace="app"),),
    ),
)
# Stands in for AppService's namespace, which carries the enrolment labels.
namespace = k8s.core.v1.Namespace(
    "app",
    metadata=k8s.meta.v1.ObjectMetaArgs(
        name="app", labels={**istio.enrolment_labels(config.get("revision")), **pod_security_labels("1.33")}
    ),
)
k8s.networking.v1.NetworkPolicy(
    "app-default-deny",
    metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny", namespace="app"),
    spec=network_policies.default_deny(),
    opts=pulumi.ResourceOptions(depends_on=[namespace]),
)
MeshPolicies(
    "app-mesh",
    MeshPoliciesArgs(
        owner=owner,
        namespace="app",
        api_selector={"app.kubernetes.io/name": "api"},
        api_host="api.app.svc.cluster.local",
        api_port=8000,
        api_paths=("/v1/*", "/healthz"),
        ingress_principals=(mesh.gateway_principal,),
        metrics_port=9102,
        prometheus_principals=(config.get("prometheus") or "PROMETHEUS_PRINCIPAL",),
        namespace_ready=(namespace,),
    ),
)
pulumi.export("gatewayPrincipal", mesh.gateway_principal)
""".replace("PROMETHEUS_PRINCIPAL", PROMETHEUS)


def synthesize(folder: Path, **config: Any) -> Graph:
    folder.mkdir(parents=True)
    settings = {"mesh:trustDomain": TRUST_DOMAIN}
    settings.update({f"mesh:{key}": value for key, value in config.items()})
    return component_program(folder, "mesh", PROGRAM, settings)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("istio") / "program")


def named(graph: Graph, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    (found,) = [
        m
        for m in objects(graph, kind)
        if m["metadata"]["name"] == name and namespace in (None, m["metadata"].get("namespace"))
    ]
    return found


def releases(graph: Graph) -> dict[str, Resource]:
    return {r.inputs["name"]: r for r in graph.resources if r.type == RELEASE_TYPE}


def test_every_object_is_valid_for_its_schema(graph: Graph) -> None:
    results = kubernetes.validate(graph, "1.33", CRD_SCHEMAS)
    assert [(r.title, r.errors) for r in results if r.status != VALID] == []
    istio_kinds = {r.kind for r in results if r.schema and ".istio.io/" in r.schema}
    assert istio_kinds == {"PeerAuthentication", "AuthorizationPolicy", "Telemetry", "ServiceEntry", "DestinationRule"}


def test_the_charts_come_from_istios_repository_at_one_pinned_version(graph: Graph) -> None:
    found = {
        name: (r.inputs["chart"], r.inputs["version"], r.inputs["repositoryOpts"]["repo"], r.inputs["namespace"])
        for name, r in releases(graph).items()
    }
    repository = "https://istio-release.storage.googleapis.com/charts"
    assert found == {
        "istio-base": ("base", "1.30.3", repository, "istio-system"),
        "istiod": ("istiod", "1.30.3", repository, "istio-system"),
        "istio-cni": ("cni", "1.30.3", repository, "istio-cni"),
        "istio-ingressgateway": ("gateway", "1.30.3", repository, "istio-ingress"),
        "kiali": ("kiali-server", "2.29.0", "https://kiali.org/helm-charts", "kiali"),
    }
    assert all(r.inputs["atomic"] for r in releases(graph).values())


def test_istiod_takes_certificates_from_istio_csr_and_refuses_unknown_hosts(graph: Graph) -> None:
    values = releases(graph)["istiod"].inputs["values"]
    assert values["global"]["caAddress"] == "cert-manager-istio-csr.istio-csr.svc:443"
    assert values["env"] == {"ENABLE_CA_SERVER": "false", "ENABLE_NATIVE_SIDECARS": "true"}
    assert "pilot" not in values  # the flattened chart reads top-level values only
    assert values["cni"] == {"enabled": True}
    assert values["seccompProfile"] == values["global"]["proxy"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["meshConfig"] == {
        "trustDomain": TRUST_DOMAIN,
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        "enablePrometheusMerge": True,
        "extensionProviders": [
            {"name": "prometheus", "prometheus": {}},
            {
                "name": "otel-tracing",
                "opentelemetry": {"service": "opentelemetry-collector.monitoring.svc.cluster.local", "port": 4317},
            },
        ],
        "defaultProviders": {"metrics": ["prometheus"], "tracing": ["otel-tracing"]},
    }


def test_istiod_waits_for_its_certificates_the_crds_and_the_cni_agent(graph: Graph) -> None:
    by_urn = {r.urn: r for r in graph.resources}
    istiod = releases(graph)["istiod"]
    waits_for = {by_urn[urn].name for urn in istiod.dependencies}
    assert {"istio-csr-ready", "mesh-base", "mesh-cni"} <= waits_for


def test_the_gateway_and_cni_run_under_pod_security(graph: Graph) -> None:
    gateway = releases(graph)["istio-ingressgateway"].inputs["values"]
    assert gateway["service"]["type"] == "ClusterIP"
    assert gateway["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    levels = {
        ns["metadata"]["name"]: ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for ns in objects(graph, "Namespace")
        if "pod-security.kubernetes.io/enforce" in ns["metadata"]["labels"]
    }
    assert levels == {
        "istio-system": "restricted",
        "istio-ingress": "restricted",
        "kiali": "restricted",
        # The node agent alone: it configures pods' networking so their sidecars need no NET_ADMIN.
        "istio-cni": "privileged",
        "app": "restricted",
    }
    assert named(graph, "Namespace", "app")["metadata"]["labels"]["istio-injection"] == "enabled"


def test_kiali_is_read_only_behind_login(graph: Graph) -> None:
    values = releases(graph)["kiali"].inputs["values"]
    assert values["auth"] == {"strategy": "token"}
    assert values["deployment"]["view_only_mode"] is True
    assert values["external_services"]["prometheus"] == {"url": "http://prometheus-operated.monitoring:9090"}


def test_mesh_wide_strict_mtls_telemetry_and_upstreams(graph: Graph) -> None:
    peer = named(graph, "PeerAuthentication", "default")
    assert (peer["apiVersion"], peer["metadata"]["namespace"], peer["spec"]) == (
        "security.istio.io/v1",
        "istio-system",
        {"mtls": {"mode": "STRICT"}},
    )
    telemetry = named(graph, "Telemetry", "mesh-default")
    assert (telemetry["apiVersion"], telemetry["metadata"]["namespace"]) == ("telemetry.istio.io/v1", "istio-system")
    assert telemetry["spec"] == {
        "metrics": [{"providers": [{"name": "prometheus"}]}],
        "tracing": [{"providers": [{"name": "otel-tracing"}], "randomSamplingPercentage": 5.0}],
    }
    entries = {e["metadata"]["name"]: e["spec"] for e in objects(graph, "ServiceEntry")}
    assert entries == {
        "upstream-db-example-internal-5432": {
            "hosts": ["db.example.internal"],
            "location": "MESH_EXTERNAL",
            "resolution": "DNS",
            "ports": [{"number": 5432, "name": "tcp-5432", "protocol": "TCP"}],
            "exportTo": ["*"],
        },
        "upstream-api-cloudflare-com-443": {
            "hosts": ["api.cloudflare.com"],
            "location": "MESH_EXTERNAL",
            "resolution": "DNS",
            "ports": [{"number": 443, "name": "tls-443", "protocol": "TLS"}],
            "exportTo": ["*"],
        },
    }


def test_the_namespace_allows_nothing_but_named_callers(graph: Graph) -> None:
    policies_in = {p["metadata"]["name"]: p for p in objects(graph, "AuthorizationPolicy")}
    assert set(policies_in) == {"allow-nothing", "allow-ingress", "allow-metrics"}
    assert all(p["apiVersion"] == "security.istio.io/v1" for p in policies_in.values())
    assert all(p["metadata"]["namespace"] == "app" for p in policies_in.values())
    assert policies_in["allow-nothing"].get("spec", {}) == {}
    assert graph.outputs["gatewayPrincipal"] == GATEWAY
    selector = {"matchLabels": {"app.kubernetes.io/name": "api"}}
    assert policies_in["allow-ingress"]["spec"] == {
        "selector": selector,
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": [GATEWAY]}}],
                "to": [
                    {
                        "operation": {
                            "ports": ["8000"],
                            "paths": ["/v1/*", "/healthz"],
                            "methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                        }
                    }
                ],
            }
        ],
    }
    assert policies_in["allow-metrics"]["spec"] == {
        "selector": selector,
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": [PROMETHEUS]}}],
                "to": [{"operation": {"ports": ["9102"], "paths": ["/metrics"], "methods": ["GET"]}}],
            }
        ],
    }


def test_the_api_is_called_over_istio_mtls_with_limits(graph: Graph) -> None:
    rule = named(graph, "DestinationRule", "api")
    assert (rule["apiVersion"], rule["metadata"]["namespace"]) == ("networking.istio.io/v1", "app")
    assert rule["spec"] == {
        "host": "api.app.svc.cluster.local",
        "trafficPolicy": {
            "tls": {"mode": "ISTIO_MUTUAL"},
            "connectionPool": {
                "tcp": {"maxConnections": 100, "connectTimeout": "5s"},
                "http": {
                    "http1MaxPendingRequests": 100,
                    "http2MaxRequests": 1000,
                    "maxRequestsPerConnection": 0,
                    "idleTimeout": "60s",
                },
            },
            "outlierDetection": {
                "consecutive5xxErrors": 5,
                "interval": "10s",
                "baseEjectionTime": "30s",
                "maxEjectionPercent": 50,
            },
        },
    }


def test_both_packs_find_nothing_but_the_cni_agents_privileged_namespace(graph: Graph) -> None:
    report = policies.check(graph)
    assert report.errors == []
    findings = [(f.policy, f.urn.rsplit("::", 1)[-1], f.message) for f in report.outcome.violations]
    # The one namespace that cannot be restricted: the CNI node agent's. A stack that
    # composes IstioMesh waives it in policies/waivers.yaml, as it does for node-exporter.
    assert findings == [
        (
            "k8s-namespace-pod-security-restricted",
            "mesh-cni-namespace",
            "pod security enforce=privileged, audit=privileged, warn=privileged; expected restricted",
        )
    ]


def test_a_revision_enrols_by_istio_io_rev_and_gke_gets_its_cni_profile(tmp_path: Path) -> None:
    graph = synthesize(tmp_path / "program", revision="1-30", platform="gke")
    labels = named(graph, "Namespace", "app")["metadata"]["labels"]
    assert labels["istio.io/rev"] == "1-30" and "istio-injection" not in labels
    assert releases(graph)["istio-cni"].inputs["values"]["global"]["platform"] == "gke"
    assert istio.enrolment_labels() == {"istio-injection": "enabled"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"prometheus": "*"}, "prometheus_principals: '\\*' is not an exact"),
        ({"prometheus": f"{TRUST_DOMAIN}/ns/monitoring/sa/*"}, "is not an exact"),
        ({"sampling": 150.0}, "sampling_percent 150.0 is not within 0..100"),
    ],
)
def test_wildcards_and_nonsense_are_refused_when_built(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ProgramError, match=message):
        synthesize(tmp_path / "program", **config)
