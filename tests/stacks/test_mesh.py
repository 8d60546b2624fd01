"""The mesh composed in the stacks (`projectai:mesh`, stacks/mesh.py, ApiDeployment):
on in every stack that runs the API. On local, dev-mode OpenBao's own root signs the
intermediate in the same run. Elsewhere, until the organisation's root has signed it,
only the PKI exists, and its CSR is a stack output; with the signed certificates, the
whole mesh in order, the API's namespace enrolled, Prometheus scraping it over mutual
TLS with its own identity, the canary routed by Istio, and both packs clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks.config import ConfigError, parse
from tests.conftest import copy_project, objects, one, projectai_values, stack_config, valid_and_clean
from tests.mesh.test_certificates import a_root
from tests.stacks.copies import project_copy

MESHED = ("dev", "staging", "prod", "prod-eu", "prod-gcp")


def signed(config: dict[str, Any]) -> None:
    bundle, root = a_root()
    config["projectai:mesh"] = {"intermediateCertificate": bundle, "rootCertificate": root}


CONFIGS: dict[str, Any] = {}


def meshed(folder: Path, stack: str) -> Graph:
    program = project_copy(folder, {stack: signed})
    CONFIGS[stack] = program.stack_config(stack).values
    return Synthesizer(program).synthesize(stack)


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return meshed(tmp_path_factory.mktemp("prod"), "prod")


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return meshed(tmp_path_factory.mktemp("staging"), "staging")


def parse_local(config: dict[str, Any]) -> None:
    parse(
        projectai_values(config),
        "Pulumi.local.yaml",
    )


def types(graph: Graph) -> set[str]:
    return {r.type for r in graph.resources}


def by_type(graph: Graph, suffix: str) -> list[Any]:
    return [r for r in graph.resources if r.type.endswith(suffix)]


def test_the_local_cluster_runs_the_whole_mesh_signed_by_its_dev_root(local_graph: Graph) -> None:
    assert {"projectai:vault:MeshPki", "projectai:mesh:IstioMesh", "projectai:mesh:MeshPolicies"} <= types(local_graph)
    # The root is a mount of the dev OpenBao, generated there: nothing to sign by hand.
    (root,) = [r for r in local_graph.resources if r.type.endswith("SecretBackendRootCert")]
    assert root.inputs["type"] == "internal"
    (namespace,) = [n for n in objects(local_graph, "Namespace") if n["metadata"]["name"] == "project-ai"]
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"
    valid_and_clean(local_graph, stack_config("local"))


def prometheus_spec(graph: Graph) -> dict[str, Any]:
    (release,) = [r for r in by_type(graph, "helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"]
    return release.inputs["values"]["prometheus"]["prometheusSpec"]


@pytest.mark.parametrize("stack", MESHED)
def test_until_the_root_signs_only_the_pki_exists_and_its_csr_is_an_output(
    project_synthesizer: Any, stack: str
) -> None:
    graph = project_synthesizer.synthesize(stack)
    assert "projectai:vault:MeshPki" in types(graph)
    assert not [t for t in types(graph) if t.startswith("projectai:mesh:")]
    # Vault generates the CSR (unknown under mocks): the export reads the request's `csr`.
    (request,) = [r for r in graph.resources if r.type.endswith("SecretBackendIntermediateCertRequest")]
    assert request.inputs["type"] == "internal"
    # The API is as before: no sidecar, nginx routes the canary.
    namespace = next(n for n in objects(graph, "Namespace") if n["metadata"]["name"] == "project-ai")
    assert "istio-injection" not in namespace["metadata"]["labels"]


def test_the_whole_mesh_is_composed_in_order(prod: Graph) -> None:
    urns = {r.type: r for r in prod.resources}
    assert {"projectai:mesh:IstioMesh", "projectai:mesh:MeshCertificates", "projectai:mesh:MeshPolicies"} <= set(urns)
    pki = urns["projectai:vault:MeshPki"]
    (mount,) = [r for r in prod.resources if r.type == "vault:index/mount:Mount" and r.parent == pki.urn]
    assert mount.provider and "vault" in mount.provider
    releases = {r.inputs["name"]: r for r in by_type(prod, "helm.sh/v3:Release")}
    issuer = one(prod, "Issuer")
    assert issuer["spec"]["vault"]["path"] == "pki-mesh-prod/sign/mesh-workloads"
    # istiod waits for istio-csr, which waits for the Issuer.
    assert releases["istio-csr"].urn in releases["istiod"].dependencies
    (namespace,) = [n for n in objects(prod, "Namespace") if n["metadata"]["name"] == "project-ai"]
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"


def test_the_canary_is_routed_by_istio_subsets(prod: Graph) -> None:
    rollout = one(prod, "Rollout")["spec"]["strategy"]["canary"]
    assert rollout["trafficRouting"] == {
        # Header, cookie and mirror routes: tests/stacks/test_canary_routes.py.
        "managedRoutes": [{"name": "canary-internal"}, {"name": "canary-cohort"}, {"name": "canary-mirror"}],
        "istio": {
            "virtualService": {"name": "api", "routes": ["primary"]},
            "destinationRule": {"name": "api", "canarySubsetName": "canary", "stableSubsetName": "stable"},
        },
    }
    assert "stableService" not in rollout and "canaryService" not in rollout
    rule = one(prod, "DestinationRule")["spec"]
    assert [s["name"] for s in rule["subsets"]] == ["stable", "canary"]
    service = one(prod, "VirtualService")["spec"]
    assert service["gateways"] == ["istio-ingress/project-ai-api", "mesh"]
    (route,) = service["http"]
    assert route["name"] == "primary"
    assert [(d["destination"]["subset"], d["weight"]) for d in route["route"]] == [("stable", 100), ("canary", 0)]


def test_external_traffic_and_scrapes_reach_the_api_under_strict_mtls(prod: Graph) -> None:
    ingress = one(prod, "Ingress")
    backends = {p["backend"]["service"].get("name") for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert backends == {"project-ai-api-gateway"}
    (gateway_service,) = [s for s in objects(prod, "Service") if s["metadata"].get("name") == "project-ai-api-gateway"]
    assert gateway_service["spec"]["externalName"] == "istio-ingressgateway.istio-ingress.svc.cluster.local"
    (allow,) = [p for p in objects(prod, "AuthorizationPolicy") if p["metadata"]["name"] == "allow-ingress"]
    assert allow["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
        "prod.mesh.project-ai.dev/ns/istio-ingress/sa/istio-ingressgateway"
    ]
    policies_ = {
        p["metadata"]["name"]: p for p in objects(prod, "NetworkPolicy") if p["metadata"]["namespace"] == "project-ai"
    }
    # The app's port (its metrics behind mutual TLS) and the sidecar's own metrics.
    assert [p["port"] for p in policies_["allow-monitoring"]["spec"]["ingress"][0]["ports"]] == [8000, 15020]
    assert policies_["allow-egress-istiod"]["spec"]["egress"][0]["ports"][0]["port"] == 15012
    assert policies_["allow-egress-istio-csr"]["spec"]["egress"][0]["ports"][0]["port"] == 6443
    controller = {
        p["metadata"]["name"]: p
        for p in objects(prod, "NetworkPolicy")
        if p["metadata"]["namespace"] == "ingress-nginx"
    }
    egress = controller["allow-egress-api"]["spec"]["egress"][0]
    assert egress["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "istio-ingress"}


def test_prometheus_scrapes_the_api_over_mutual_tls_with_its_own_identity(prod: Graph) -> None:
    (policy,) = [p for p in objects(prod, "AuthorizationPolicy") if p["metadata"]["name"] == "allow-metrics"]
    (rule,) = policy["spec"]["rules"]
    assert rule["from"] == [
        {"source": {"principals": ["prod.mesh.project-ai.dev/ns/monitoring/sa/kube-prometheus-stack-prometheus"]}}
    ]
    assert rule["to"] == [{"operation": {"ports": ["8000"], "paths": ["/metrics"], "methods": ["GET"]}}]
    # Prometheus's ServiceAccount is that name, and its pod a mesh client: a sidecar that
    # captures nothing and writes its certificate where the scrape reads it.
    (release,) = [r for r in by_type(prod, "helm.sh/v3:Release") if r.inputs["chart"] == "kube-prometheus-stack"]
    assert release.inputs["values"]["prometheus"]["serviceAccount"]["name"] == "kube-prometheus-stack-prometheus"
    spec = prometheus_spec(prod)
    annotations = spec["podMetadata"]["annotations"]
    assert spec["podMetadata"]["labels"] == {"sidecar.istio.io/inject": "true"}
    assert annotations["traffic.sidecar.istio.io/includeInboundPorts"] == ""
    assert annotations["traffic.sidecar.istio.io/includeOutboundIPRanges"] == ""
    written = json.loads(annotations["sidecar.istio.io/userVolumeMount"])[0]
    assert yaml.safe_load(annotations["proxy.istio.io/config"]) == {
        "proxyMetadata": {"OUTPUT_CERTS": written["mountPath"]}
    }
    (mount,) = spec["volumeMounts"]
    assert mount["name"] == written["name"] and mount["readOnly"] is True
    assert spec["volumes"] == [{"name": written["name"], "emptyDir": {"medium": "Memory"}}]
    # The ServiceMonitor presents those files to the app's port, through one headless
    # Service of its own, so each pod is scraped once.
    (endpoint,) = one(prod, "ServiceMonitor")["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["scheme"], endpoint["path"]) == ("http", "https", "/metrics")
    assert {endpoint["tlsConfig"][key].rsplit("/", 1)[0] for key in ("caFile", "certFile", "keyFile")} == {
        mount["mountPath"]
    }
    (metrics,) = [s for s in objects(prod, "Service") if s["metadata"].get("name") == "project-ai-api-metrics"]
    assert metrics["spec"]["clusterIP"] == "None"
    assert metrics["spec"]["selector"] == policy["spec"]["selector"]["matchLabels"]
    selected = one(prod, "ServiceMonitor")["spec"]["selector"]["matchLabels"]
    assert [
        s["metadata"].get("name")
        for s in objects(prod, "Service")
        if selected.items() <= s["metadata"].get("labels", {}).items()
    ] == ["project-ai-api-metrics"]
    # The PodMonitor reads the sidecars' own metrics, none of the app's.
    sidecar = one(prod, "PodMonitor")["spec"]["podMetricsEndpoints"][0]
    assert sidecar["path"] == "/stats/prometheus"
    assert sidecar["relabelings"][0]["replacement"] == "$1:15020"
    deployment_pods = [o["spec"]["template"]["metadata"] for o in objects(prod, "Rollout")]
    assert all("prometheus.io/scrape" not in (m.get("annotations") or {}) for m in deployment_pods)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_prometheus_joins_the_mesh_only_once_istio_runs(project_synthesizer: Any, stack: str) -> None:
    # Before the root signs there is no istiod to inject it, nor a certificate to present.
    graph = project_synthesizer.synthesize(stack)
    assert "podMetadata" not in prometheus_spec(graph)
    assert not objects(graph, "ServiceMonitor") and not objects(graph, "AuthorizationPolicy")


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_the_meshed_stacks_are_valid_and_pass_both_packs(name: str, prod: Graph, staging: Graph) -> None:
    report = valid_and_clean({"prod": prod, "staging": staging}[name], CONFIGS[name])
    # The CNI agent's privileged namespace is waived, as node-exporter's is.
    assert "mesh-cni-namespace" in {f.urn.rsplit("::", 1)[-1] for f in report.outcome.waived}


def test_organisation_certificates_are_refused_with_a_dev_vault() -> None:
    config = stack_config("local")
    bundle, root = a_root()
    config["projectai:mesh"] = {"intermediateCertificate": bundle, "rootCertificate": root}
    with pytest.raises(ConfigError, match=r"mesh\.intermediateCertificate"):
        parse_local(config)


def test_a_secondary_declares_the_primarys_writer_and_its_own_cluster_as_upstreams(tmp_path: Path) -> None:
    """prod-eu's app writes to prod's writer (its URL is in the KV store) and reads from its
    own cluster: under REGISTRY_ONLY both must be ServiceEntries, or the app loses its database."""
    from tests.stacks.copies import unchanged

    program = project_copy(tmp_path, {"prod": unchanged, "prod-eu": signed})
    synthesizer = Synthesizer(program)
    primary_writer = synthesizer.synthesize("prod").outputs["databaseWriter"]
    eu = synthesizer.synthesize("prod-eu")
    hosts = {
        host: entry["spec"]["ports"][0]["number"]
        for entry in objects(eu, "ServiceEntry")
        if entry["metadata"]["name"].startswith("upstream-database")
        for host in entry["spec"]["hosts"]
    }
    assert hosts.get(primary_writer) == 5432
    assert eu.outputs["databaseWriter"] in hosts and eu.outputs["databaseReader"] in hosts


@pytest.mark.parametrize(
    ("url", "entry"),
    [
        ("https://inference.example.com/v1", ("inference.example.com", 443, "TLS")),
        ("http://models.internal.example:8080/", ("models.internal.example", 8080, "HTTP")),
    ],
)
def test_the_apps_inference_upstream_is_declared_under_registry_only(
    tmp_path: Path, url: str, entry: tuple[str, int, str]
) -> None:
    config = stack_config("local")
    config["projectai:app"]["settings"]["APP_UPSTREAM_URL"] = url
    graph = Synthesizer(copy_project(tmp_path, "local", config)).synthesize("local")
    declared = [
        (spec["hosts"][0], spec["ports"][0]["number"], spec["ports"][0]["protocol"])
        for spec in (e["spec"] for e in objects(graph, "ServiceEntry"))
    ]
    assert declared == [entry]


def test_the_in_process_upstream_declares_nothing(local_graph: Graph) -> None:
    assert not objects(local_graph, "ServiceEntry")


@pytest.mark.parametrize("address", ["10.0.0.7", "[2001:db8::7]"])
def test_an_upstream_named_by_address_is_refused_in_the_mesh(address: str) -> None:
    config = stack_config("local")
    config["projectai:app"]["settings"]["APP_UPSTREAM_URL"] = f"https://{address}:8443/v1"
    with pytest.raises(ConfigError, match=r"APP_UPSTREAM_URL: the mesh declares upstreams by host name"):
        parse_local(config)
