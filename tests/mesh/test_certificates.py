"""The mesh's certificates under mocks: cert-manager's Vault Issuer and istio-csr, composed
with the PKI they ask (MeshPki) as a stack composes them, in a small program.

The Issuer is validated against the vendored cert-manager CRD schema, every other object
against the cluster's Kubernetes schema. istio-csr's values are checked against what was
read in its pinned chart (cert-manager/istio-csr, tag v0.17.0: deploy/charts/istio-csr
values.yaml, values.schema.json, templates/deployment.yaml and certificate.yaml).
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.mesh import certificates
from components.vault.pki import role_uri_sans
from preflight import kubernetes, policies
from preflight.graph import Graph, Resource
from preflight.kubernetes import VALID
from preflight.synth import ProgramError
from tests.conftest import CRD_SCHEMAS, component_program, objects

TRUST_DOMAIN = "mesh.project-ai.dev"
KUBERNETES_VERSION = "1.33"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"

PROGRAM = """
from datetime import date

import pulumi

from components.charts import Cluster
from components.labels import Ownership
from components.mesh import certificates
from components.mesh.certificates import MeshCertificates, MeshCertificatesArgs, VaultIssuerArgs
from components.network_policies import EgressRule
from components.rotation import RotationSchedule
from components.vault import policies
from components.vault.args import Consumer
from components.vault.pki import IssuerLogin, MeshPki, MeshPkiArgs, OrganisationRoot

config = pulumi.Config("mesh")
owner = Ownership(team="platform", cost_center="cc-1", environment="test")
trust_domain = config.require("trustDomain")
pki = MeshPki(
    "mesh-pki",
    MeshPkiArgs(
        owner=owner,
        layout=policies.Layout(kv_mount="project-ai-test", app="project-ai-api", scope="test"),
        mount="pki-mesh-test",
        trust_domain=trust_domain,
        dns_names=certificates.signed_dns_names(),
        signer=OrganisationRoot(certificate=config.require("certificate"), root_certificate=config.require("root")),
        login=IssuerLogin(
            auth_mount="kubernetes-test",
            method="kubernetes",
            service_account=Consumer(certificates.ISSUER_ACCOUNT, certificates.ISTIO_NAMESPACE),
            audience=certificates.issuer_audience(),
        ),
        rotation=RotationSchedule(period_days=90, today=date(2026, 3, 1)),
    ),
)
mesh = MeshCertificates(
    "mesh-certificates",
    MeshCertificatesArgs(
        owner=owner,
        cluster=Cluster(
            kubernetes_version="1.33",
            node_local_dns=None,
            monitoring_namespace="monitoring",
            ingress_namespace="ingress-nginx",
            api_server_cidrs=("10.0.0.1/32",),
        ),
        istio_csr_chart_version=certificates.ISTIO_CSR_CHART_VERSION,
        trust_domain=trust_domain,
        vault=VaultIssuerArgs(
            server="https://vault.example.com:8200",
            sign_path=pki.sign_path,
            auth_mount="kubernetes-test",
            role=pki.login_role.role_name,
            ca_bundle=config.get("vaultCa"),
        ),
        trust_anchor=pki.trust_anchor,
        max_certificate_hours=config.get_int("maxHours", 24),
        replicas=config.get_int("replicas", 2),
        cert_manager_vault_egress=EgressRule("vault", (8200,), cidr="0.0.0.0/0"),
    ),
    pulumi.ResourceOptions(depends_on=[pki]),
)
pulumi.export("caAddress", mesh.ca_address)
pulumi.export("istiodValues", certificates.istiod_values(trust_domain))
"""

# Every values path the release sets, each read in the chart's values.yaml at v0.17.0
# (the chart's values.schema.json refuses unknown keys; these validate against it).
VERIFIED_VALUES = {
    "replicaCount",
    "podLabels",
    "app.certmanager.namespace",
    "app.certmanager.issuer.enabled",
    "app.certmanager.issuer.name",
    "app.certmanager.issuer.kind",
    "app.certmanager.issuer.group",
    "app.tls.trustDomain",
    "app.tls.rootCAFile",
    "app.tls.certificateDNSNames",
    "app.server.clusterID",
    "app.server.maxCertificateDuration",
    "app.istio.namespace",
    "app.istio.revisions",
    "app.controller.leaderElectionNamespace",
    "volumes",
    "volumeMounts",
    "resources",
    "podDisruptionBudget.enabled",
}
# Values that would replace the chart's restricted security context, or add what nobody
# checked (the chart's container securityContext is restricted as shipped).
CHART_OWNED = {"securityContext", "extraObjects", "image", "service", "nameOverride", "commonLabels"}


def a_root() -> tuple[str, str]:
    """An organisation root and a signed intermediate (PEM), as the stack's config holds them."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)

    def certificate(name: str, ca_path: int | None) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "root")]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=ca_path), critical=True)
            .sign(key, hashes.SHA256())
        )

    def as_pem(cert: x509.Certificate) -> str:
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    root = as_pem(certificate("root", None))
    return as_pem(certificate("intermediate", 0)) + root, root


def synthesize(folder: Path, **config: Any) -> Graph:
    folder.mkdir(parents=True)
    bundle, root = a_root()
    settings = {"mesh:trustDomain": TRUST_DOMAIN, "mesh:certificate": bundle, "mesh:root": root}
    settings.update({f"mesh:{key}": value for key, value in config.items()})
    return component_program(folder, "mesh", PROGRAM, settings)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    return synthesize(tmp_path_factory.mktemp("mesh") / "program")


def named(graph: Graph, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in objects(graph, kind) if m["metadata"]["name"] == name]
    return found


def release(graph: Graph) -> Resource:
    (found,) = [r for r in graph.resources if r.type == RELEASE_TYPE]
    return found


def paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths to the values set; a map of labels or a list is one value."""
    found = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("podLabels", "resources"):
            found |= paths(value, f"{path}.")
        else:
            found.add(path)
    return found


def test_every_object_is_valid_for_its_schema(graph: Graph) -> None:
    results = kubernetes.validate(graph, KUBERNETES_VERSION, CRD_SCHEMAS)
    assert [(r.title, r.errors) for r in results if r.status != VALID] == []
    (issuer,) = [r for r in results if r.kind == "Issuer"]
    assert issuer.schema.endswith("cert-manager.io/issuer_v1.json")


def test_the_issuer_signs_through_the_pki_role_as_its_own_service_account(graph: Graph) -> None:
    issuer = named(graph, "Issuer", certificates.ISSUER)
    assert issuer["apiVersion"] == "cert-manager.io/v1"
    assert issuer["metadata"]["namespace"] == certificates.ISTIO_NAMESPACE
    assert issuer["spec"] == {
        "vault": {
            "server": "https://vault.example.com:8200",
            "path": "pki-mesh-test/sign/mesh-workloads",
            "auth": {
                "kubernetes": {
                    "role": "project-ai-api-test-mesh-issuer",
                    "mountPath": "/v1/auth/kubernetes-test",
                    "serviceAccountRef": {"name": certificates.ISSUER_ACCOUNT},
                }
            },
        }
    }


def test_the_vault_login_role_accepts_exactly_what_cert_manager_presents(graph: Graph) -> None:
    """cert-manager requests tokens for the Issuer's account with the audience
    `vault://<namespace>/<issuer>` (internal/vault/vault.go, v1.18.6): the login role
    binds that account and that audience, and the Issuer names that role."""
    (login,) = [r for r in graph.resources if r.type == "vault:kubernetes/authBackendRole:AuthBackendRole"]
    issuer = named(graph, "Issuer", certificates.ISSUER)
    namespace, name = issuer["metadata"]["namespace"], issuer["metadata"]["name"]
    account = issuer["spec"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]["name"]
    assert login.inputs["boundServiceAccountNames"] == [account]
    assert login.inputs["boundServiceAccountNamespaces"] == [namespace]
    assert login.inputs["audience"] == f"vault://{namespace}/{name}"
    assert login.inputs["roleName"] == issuer["spec"]["vault"]["auth"]["kubernetes"]["role"]
    assert (login.inputs["tokenType"], login.inputs["tokenTtl"], login.inputs["tokenMaxTtl"]) == ("batch", 300, 300)


def test_cert_manager_may_request_tokens_for_the_issuers_account_only(graph: Graph) -> None:
    name = f"{certificates.ISSUER_ACCOUNT}-token"
    role = named(graph, "Role", name)
    assert role["metadata"]["namespace"] == certificates.ISTIO_NAMESPACE
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts/token"],
            "resourceNames": [certificates.ISSUER_ACCOUNT],
            "verbs": ["create"],
        }
    ]
    binding = named(graph, "RoleBinding", name)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cert-manager", "namespace": "cert-manager"}]
    account = named(graph, "ServiceAccount", certificates.ISSUER_ACCOUNT)
    assert account["automountServiceAccountToken"] is False


def test_istio_csr_comes_from_its_pinned_chart_with_the_mesh_settings(graph: Graph) -> None:
    chart = release(graph).inputs
    assert (chart["chart"], chart["version"], chart["repositoryOpts"]["repo"]) == (
        "cert-manager-istio-csr",
        "v0.17.0",
        "https://charts.jetstack.io",
    )
    assert (chart["name"], chart["namespace"], chart["atomic"]) == ("istio-csr", certificates.NAMESPACE, True)
    app = chart["values"]["app"]
    assert app["tls"]["trustDomain"] == TRUST_DOMAIN
    assert app["certmanager"] == {
        "namespace": certificates.ISTIO_NAMESPACE,
        "issuer": {"enabled": True, "name": certificates.ISSUER, "kind": "Issuer", "group": "cert-manager.io"},
    }
    assert app["server"] == {"clusterID": "Kubernetes", "maxCertificateDuration": "24h"}
    # Agents dial the Service's name; its serving certificate carries exactly that name.
    assert app["tls"]["certificateDNSNames"] == ["cert-manager-istio-csr.istio-csr.svc"]
    assert graph.outputs["caAddress"] == "cert-manager-istio-csr.istio-csr.svc:443"
    assert chart["values"]["replicaCount"] == 2 and chart["values"]["podDisruptionBudget"] == {"enabled": True}


def test_the_values_are_the_ones_read_in_the_chart(graph: Graph) -> None:
    values = release(graph).inputs["values"]
    assert paths(values) == VERIFIED_VALUES
    assert not paths(values) & CHART_OWNED
    # The chart labels every object and pod itself: a second key would be a duplicate.
    assert not set(values["podLabels"]) & certificates.CHART_LABELS
    assert values["podLabels"]["cost-center"] == "cc-1"


def test_istio_csr_trusts_the_root_from_the_config_and_nothing_it_is_told(graph: Graph) -> None:
    values = release(graph).revealed_inputs["values"]
    anchor = named(graph, "ConfigMap", certificates.TRUST_ANCHOR_CONFIGMAP)
    assert anchor["metadata"]["namespace"] == certificates.NAMESPACE
    root = x509.load_pem_x509_certificate(anchor["data"][certificates.TRUST_ANCHOR_KEY].encode())
    assert root.subject == root.issuer  # the root, not the intermediate
    (volume,) = values["volumes"]
    (mount,) = values["volumeMounts"]
    assert volume == {"name": mount["name"], "configMap": {"name": certificates.TRUST_ANCHOR_CONFIGMAP}}
    assert mount["readOnly"] is True
    assert values["app"]["tls"]["rootCAFile"] == f"{mount['mountPath']}/{certificates.TRUST_ANCHOR_KEY}"


def test_the_pki_role_signs_exactly_the_names_istio_csr_requests(graph: Graph) -> None:
    """The names come from one place (certificates.signed_dns_names) for both sides; this
    checks them against what the chart requests: istiod's Certificate (certificate.yaml:
    `istiod.<app.istio.namespace>.svc` for the default revision, and the SPIFFE ID of
    `istiod-service-account`), and istio-csr's own (`app.tls.certificateDNSNames`)."""
    (role,) = [r for r in graph.resources if r.type == "vault:pkiSecret/secretBackendRole:SecretBackendRole"]
    app = release(graph).inputs["values"]["app"]
    requested = {f"istiod.{app['istio']['namespace']}.svc", *app["tls"]["certificateDNSNames"]}
    assert app["istio"]["revisions"] == ["default"]
    assert set(role.inputs["allowedDomains"]) == requested
    assert role.inputs["allowedUriSans"] == role_uri_sans(app["tls"]["trustDomain"])
    assert role.inputs["allowedUriSans"] == [f"spiffe://{TRUST_DOMAIN}/ns/*/sa/*"]
    for closed in ("allowSubdomains", "allowGlobDomains", "allowAnyName", "allowIpSans", "allowLocalhost"):
        assert role.inputs[closed] is False, closed
    assert role.inputs["allowWildcardCertificates"] is False and role.inputs["allowedUriSansTemplate"] is False
    assert (role.inputs["ttl"], role.inputs["maxTtl"]) == ("86400", "86400")


def test_the_namespace_admits_agents_and_monitoring_only(graph: Graph) -> None:
    namespace = named(graph, "Namespace", certificates.NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies_in = {
        p["metadata"]["name"]: p["spec"]
        for p in objects(graph, "NetworkPolicy")
        if p["metadata"]["namespace"] == certificates.NAMESPACE
    }
    assert set(policies_in) == {
        "default-deny",
        "allow-dns",
        "allow-within-namespace",
        "allow-egress-api-server-0",
        "allow-ingress-metrics",
        "allow-ingress-agents",
    }
    agents = policies_in["allow-ingress-agents"]
    assert agents["ingress"] == [
        {"from": [{"namespaceSelector": {}}], "ports": [{"port": certificates.GRPC_PORT, "protocol": "TCP"}]}
    ]
    metrics = policies_in["allow-ingress-metrics"]["ingress"][0]
    assert metrics["ports"] == [{"port": certificates.METRICS_PORT, "protocol": "TCP"}]
    # cert-manager's controller, and nothing else of its namespace, may reach Vault.
    vault = named(graph, "NetworkPolicy", "allow-egress-mesh-vault")
    assert vault["metadata"]["namespace"] == "cert-manager"
    assert vault["spec"]["podSelector"] == {"matchLabels": certificates.CERT_MANAGER_CONTROLLER}
    assert vault["spec"]["egress"][0]["ports"] == [{"port": 8200, "protocol": "TCP"}]


def test_istiod_is_told_to_leave_signing_to_istio_csr(graph: Graph) -> None:
    assert graph.outputs["istiodValues"] == {
        "global": {"caAddress": "cert-manager-istio-csr.istio-csr.svc:443"},
        "env": {"ENABLE_CA_SERVER": "false"},
        "meshConfig": {"trustDomain": TRUST_DOMAIN},
    }


def test_the_zero_trust_pack_finds_nothing(graph: Graph) -> None:
    report = policies.check(graph)
    findings = [(f.policy, f.urn.rsplit("::", 1)[-1], f.message) for f in report.outcome.violations]
    # The program declares no audit device; the stack's VaultConfiguration does.
    assert [f for f in findings if f[0] != "vault-audit-device"] == []


def test_a_private_vault_ca_is_handed_to_the_issuer(tmp_path: Path) -> None:
    ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    graph = synthesize(tmp_path / "program", vaultCa=ca, replicas=1)
    issuer = named(graph, "Issuer", certificates.ISSUER)
    assert base64.b64decode(issuer["spec"]["vault"]["caBundle"]).decode() == ca
    assert {r.status for r in kubernetes.validate(graph, KUBERNETES_VERSION, CRD_SCHEMAS)} == {VALID}
    assert release(graph).inputs["values"]["podDisruptionBudget"] == {"enabled": False}


def test_certificates_shorter_than_cert_manager_allows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="max_certificate_hours must be at least 1"):
        synthesize(tmp_path / "program", maxHours=0)
