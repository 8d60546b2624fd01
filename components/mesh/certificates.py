"""MeshCertificates: the mesh's workload certificates, signed by Vault (issue #17).

Istio's agents (sidecars, gateways) send their CSRs to istio-csr instead of istiod's own
CA. istio-csr checks each CSR against the caller's ServiceAccount token (a SPIFFE URI
SAN for that account, nothing else) and turns it into a cert-manager CertificateRequest
for a Vault `Issuer`, which cert-manager signs through the PKI role of `MeshPki`
(components/vault/pki.py): `<mount>/sign/<role>`, after logging in as the Issuer's own
ServiceAccount. What this component creates:

- in the Istio namespace: the Issuer's ServiceAccount (no token of its own), a Role
  that lets cert-manager's controller request tokens for that one account and nothing
  else, and the Vault `Issuer`;
- istio-csr's namespace (Pod Security restricted, denied by default): every pod of the
  cluster may reach istio-csr's gRPC port (every meshed pod asks it for certificates),
  the monitoring namespace its metrics; it talks to the API server only;
- the trust anchor (the root the intermediate chains to) in a ConfigMap that istio-csr
  reads as its root CA file, so the mesh's trust is pinned to it and not taken from the
  first answer it gets; istio-csr publishes it to every namespace (`istio-ca-root-cert`);
- istio-csr from its upstream chart (jetstack `cert-manager-istio-csr`), with the trust
  domain, the Issuer, its serving certificate's DNS name, and the longest workload
  certificate it asks for;
- optionally, cert-manager's controller's egress to Vault (a NetworkPolicy in
  cert-manager's namespace, selecting its controller pods).

istiod itself is configured elsewhere (components/mesh/istio.py): `istiod_values()`
here gives what it needs to take its certificates from istio-csr.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import charts, network_policies
from components.labels import Ownership, kubernetes_labels, ownership_labels
from components.network_policies import EgressRule, IngressRule
from components.vault.args import Consumer

ISTIO_CSR_REPOSITORY = "https://charts.jetstack.io"
ISTIO_CSR_CHART = "cert-manager-istio-csr"
# The version whose values.yaml and templates the values below were checked against.
ISTIO_CSR_CHART_VERSION = "v0.17.0"
RELEASE = "istio-csr"
# The chart names its Deployment, Service and ServiceAccount after itself.
SERVICE = ISTIO_CSR_CHART
SERVICE_PORT = 443
GRPC_PORT = 6443
METRICS_PORT = 9402
ISTIO_NAMESPACE = "istio-system"
NAMESPACE = "istio-csr"
ISSUER = "mesh-vault"
ISSUER_ACCOUNT = "mesh-vault-issuer"
# cert-manager's controller, as its chart (release `cert-manager`) names it.
CERT_MANAGER = Consumer(service_account="cert-manager", namespace="cert-manager")
CERT_MANAGER_CONTROLLER = {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
TRUST_ANCHOR_CONFIGMAP = "mesh-trust-anchor"
TRUST_ANCHOR_KEY = "root-ca.pem"
TRUST_ANCHOR_DIRECTORY = "/var/run/secrets/istio-csr/trust-anchor"
# Labels the chart sets itself on every object and pod (a second one is a duplicate key).
CHART_LABELS = frozenset(
    {"app", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"}
)


def istiod_dns_name(istio_namespace: str = ISTIO_NAMESPACE) -> str:
    """istiod's serving certificate (the chart's `istiod` Certificate, default revision)."""
    return f"istiod.{istio_namespace}.svc"


def istio_csr_dns_name(namespace: str = NAMESPACE) -> str:
    """istio-csr's own serving certificate: the name agents dial."""
    return f"{SERVICE}.{namespace}.svc"


def signed_dns_names(istio_namespace: str = ISTIO_NAMESPACE, namespace: str = NAMESPACE) -> tuple[str, ...]:
    """Every DNS name the PKI role must sign, and no other."""
    return (istiod_dns_name(istio_namespace), istio_csr_dns_name(namespace))


def ca_address(namespace: str = NAMESPACE) -> str:
    """Where Istio's agents send CSRs (`global.caAddress`)."""
    return f"{istio_csr_dns_name(namespace)}:{SERVICE_PORT}"


def issuer_audience(istio_namespace: str = ISTIO_NAMESPACE, issuer: str = ISSUER) -> str:
    """The audience cert-manager puts in every token it requests for an Issuer; the
    Vault login role accepts only it, so no other token of the account logs in."""
    return f"vault://{istio_namespace}/{issuer}"


def spiffe_id(trust_domain: str, namespace: str, service_account: str) -> str:
    """A workload's identity as Istio writes it in its certificate's URI SAN."""
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def istiod_values(trust_domain: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    """What istiod's chart (istio/istiod 1.24+, top-level values) needs to leave signing
    to istio-csr: agents send CSRs there, istiod's own CA server is off, and the mesh's
    trust domain is the one the PKI role allows. istiod picks its serving certificate
    from the `istiod-tls` Secret istio-csr's chart requests (mounted by the stock chart)."""
    return {
        "global": {"caAddress": ca_address(namespace)},
        "env": {"ENABLE_CA_SERVER": "false"},
        "meshConfig": {"trustDomain": trust_domain},
    }


@dataclass(frozen=True)
class VaultIssuerArgs:
    """cert-manager's way to the PKI role."""

    # Vault's address as cert-manager's pods reach it.
    server: str
    # `<mount>/sign/<role>` (MeshPki.sign_path).
    sign_path: pulumi.Input[str]
    # The stack's cluster auth mount (Kubernetes or JWT auth: both take `role` and `jwt`).
    auth_mount: pulumi.Input[str]
    # The login role bound to ISSUER_ACCOUNT (MeshPki's login role).
    role: pulumi.Input[str]
    # Vault Enterprise namespace.
    namespace: str | None = None
    # Vault's TLS CA (PEM), where its certificate is not publicly trusted.
    ca_bundle: str | None = None


@dataclass(frozen=True)
class MeshCertificatesArgs:
    owner: Ownership
    cluster: charts.Cluster
    istio_csr_chart_version: str
    trust_domain: str
    vault: VaultIssuerArgs
    # The root the intermediate chains to (PEM): the mesh's only trust anchor.
    trust_anchor: pulumi.Input[str]
    # The longest workload certificate istio-csr asks for (the PKI role's own limit).
    max_certificate_hours: int = 24
    replicas: int = 1
    istio_namespace: str = ISTIO_NAMESPACE
    namespace: str = NAMESPACE
    cert_manager: Consumer = CERT_MANAGER
    # Istio's cluster ID (istiod's `global.multiCluster.clusterName`, "Kubernetes" unset).
    cluster_id: str = "Kubernetes"
    # What must exist before anything is created in the Istio namespace (the Namespace
    # itself, where this program creates it).
    istio_namespace_ready: tuple[pulumi.Resource, ...] = ()
    # cert-manager's controller's way to Vault, where its namespace denies egress.
    cert_manager_vault_egress: EgressRule | None = None


def issuer_spec(args: MeshCertificatesArgs) -> dict[str, Any]:
    vault_args = args.vault
    spec: dict[str, Any] = {
        "server": vault_args.server,
        "path": vault_args.sign_path,
        "auth": {
            "kubernetes": {
                "role": vault_args.role,
                "mountPath": pulumi.Output.concat("/v1/auth/", vault_args.auth_mount),
                # cert-manager requests a 10-minute token for this account, for this
                # Issuer's audience, at each login.
                "serviceAccountRef": {"name": ISSUER_ACCOUNT},
            }
        },
    }
    if vault_args.namespace:
        spec["namespace"] = vault_args.namespace
    if vault_args.ca_bundle:
        spec["caBundle"] = base64.b64encode(vault_args.ca_bundle.encode()).decode()
    return {"vault": spec}


def istio_csr_values(args: MeshCertificatesArgs) -> dict[str, Any]:
    """The chart's values (cert-manager-istio-csr v0.17.0 values.yaml)."""
    labels = {key: value for key, value in ownership_labels(args.owner).items() if key not in CHART_LABELS}
    return {
        "replicaCount": args.replicas,
        "podLabels": labels,
        "app": {
            "certmanager": {
                # CertificateRequests go where the Issuer is.
                "namespace": args.istio_namespace,
                "issuer": {"enabled": True, "name": ISSUER, "kind": "Issuer", "group": "cert-manager.io"},
            },
            "tls": {
                "trustDomain": args.trust_domain,
                "rootCAFile": f"{TRUST_ANCHOR_DIRECTORY}/{TRUST_ANCHOR_KEY}",
                "certificateDNSNames": [istio_csr_dns_name(args.namespace)],
            },
            "server": {
                "clusterID": args.cluster_id,
                "maxCertificateDuration": f"{args.max_certificate_hours}h",
            },
            "istio": {"namespace": args.istio_namespace, "revisions": ["default"]},
            "controller": {"leaderElectionNamespace": args.istio_namespace},
        },
        "volumes": [{"name": "trust-anchor", "configMap": {"name": TRUST_ANCHOR_CONFIGMAP}}],
        "volumeMounts": [{"name": "trust-anchor", "mountPath": TRUST_ANCHOR_DIRECTORY, "readOnly": True}],
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "podDisruptionBudget": {"enabled": args.replicas > 1},
    }


def from_every_pod(port: int) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Any pod of the cluster, on one port: every meshed pod asks for its certificate."""
    networking, meta = k8s.networking.v1, k8s.meta.v1
    return networking.NetworkPolicySpecArgs(
        pod_selector=meta.LabelSelectorArgs(),
        policy_types=["Ingress"],
        ingress=[
            networking.NetworkPolicyIngressRuleArgs(
                from_=[networking.NetworkPolicyPeerArgs(namespace_selector=meta.LabelSelectorArgs())],
                ports=network_policies.ports([port]),
            )
        ],
    )


class MeshCertificates(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    trust_anchor: k8s.core.v1.ConfigMap
    issuer_account: k8s.core.v1.ServiceAccount
    issuer: k8s.apiextensions.CustomResource
    release: k8s.helm.v3.Release
    # Where agents send CSRs (istiod's `global.caAddress`).
    ca_address: str

    def __init__(self, name: str, args: MeshCertificatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:mesh:MeshCertificates", name, None, opts)
        if args.max_certificate_hours < 1:
            raise ValueError("max_certificate_hours must be at least 1: cert-manager refuses shorter certificates")
        child = pulumi.ResourceOptions(parent=self)
        labels = kubernetes_labels(args.owner, name="istio-csr", instance=name, component="certificates")
        in_istio = pulumi.ResourceOptions(parent=self, depends_on=list(args.istio_namespace_ready))

        self.issuer_account = k8s.core.v1.ServiceAccount(
            f"{name}-issuer-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ISSUER_ACCOUNT, namespace=args.istio_namespace, labels=labels),
            # cert-manager requests short-lived tokens for it; no pod runs as it.
            automount_service_account_token=False,
            opts=in_istio,
        )
        token_role = k8s.rbac.v1.Role(
            f"{name}-issuer-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{ISSUER_ACCOUNT}-token", namespace=args.istio_namespace, labels=labels
            ),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""],
                    resources=["serviceaccounts/token"],
                    resource_names=[ISSUER_ACCOUNT],
                    verbs=["create"],
                )
            ],
            opts=in_istio,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-issuer-token",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{ISSUER_ACCOUNT}-token", namespace=args.istio_namespace, labels=labels
            ),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=f"{ISSUER_ACCOUNT}-token"
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount",
                    name=args.cert_manager.service_account,
                    namespace=args.cert_manager.namespace,
                )
            ],
            opts=pulumi.ResourceOptions.merge(in_istio, pulumi.ResourceOptions(depends_on=[token_role])),
        )
        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version="cert-manager.io/v1",
            kind="Issuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ISSUER, namespace=args.istio_namespace, labels=labels),
            spec=issuer_spec(args),
            opts=pulumi.ResourceOptions.merge(
                in_istio, pulumi.ResourceOptions(depends_on=[self.issuer_account, binding])
            ),
        )
        if args.cert_manager_vault_egress is not None:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-cert-manager-vault",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="allow-egress-mesh-vault", namespace=args.cert_manager.namespace, labels=labels
                ),
                spec=network_policies.egress_to(args.cert_manager_vault_egress, CERT_MANAGER_CONTROLLER),
                opts=child,
            )

        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(IngressRule("metrics", (METRICS_PORT,), namespace=args.cluster.monitoring_namespace),),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        k8s.networking.v1.NetworkPolicy(
            f"{name}-namespace-allow-ingress-agents",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-ingress-agents", namespace=args.namespace, labels=labels),
            spec=from_every_pod(GRPC_PORT),
            opts=in_namespace,
        )
        self.trust_anchor = k8s.core.v1.ConfigMap(
            f"{name}-trust-anchor",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=TRUST_ANCHOR_CONFIGMAP, namespace=args.namespace, labels=labels),
            # Public: the root's certificate, not a key.
            data={TRUST_ANCHOR_KEY: args.trust_anchor},
            opts=in_namespace,
        )
        self.release = charts.release(
            f"{name}-istio-csr",
            RELEASE,
            charts.Chart(ISTIO_CSR_CHART, ISTIO_CSR_REPOSITORY, args.istio_csr_chart_version),
            self.namespace.metadata.name,
            istio_csr_values(args),
            # Not ready until the Issuer has signed its serving certificate.
            pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.issuer, self.trust_anchor, *args.istio_namespace_ready])
            ),
        )
        self.ca_address = ca_address(args.namespace)
        self.register_outputs(
            {
                "namespace": self.namespace.metadata.name,
                "issuer": self.issuer.metadata["name"],
                "caAddress": self.ca_address,
            }
        )
