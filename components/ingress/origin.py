"""EdgeOrigin: what a region's cluster needs to be an origin of the Cloudflare edge.

- ingress-nginx from its upstream chart, behind a LoadBalancer that admits Cloudflare's
  published IPv4 ranges only (`loadBalancerSourceRanges`), with NetworkPolicies that
  admit the same ranges (v4 and v6) to the controller's ports. The client's address is
  taken from `CF-Connecting-IP` only when the connection comes from those ranges
  (`enable-real-ip`, `proxy-real-ip-cidr`); the app keeps trusting the controller's pods
  alone (APP_TRUSTED_PROXIES), which pass that address on in X-Forwarded-For.
- Cloudflare's Authenticated Origin Pulls CA in a Secret of the controller's namespace:
  the API's Ingress names it (`auth-tls-secret`, `auth-tls-verify-client: on`), so only
  a client certificate Cloudflare's edge presents gets through.
- cert-manager from its upstream chart (with its CRDs), and a ClusterIssuer that answers
  ACME DNS-01 challenges through Cloudflare's API, with a token External Secrets syncs
  from Vault into cert-manager's namespace (`setup`). The regional hostname's DNS record
  is not made here: the edge stack owns it (proxied), and DNS-01 only writes the
  transient `_acme-challenge` TXT records.

The data it rests on (the ranges, the CA) is vendored in `data/`, with its source. Both
charts' pods pass Pod Security `restricted` on the charts' own security contexts, which
the values here leave alone (verified against the pinned charts: `data/README.md`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels, ownership_labels
from components.network_policies import EgressRule, IngressRule

DATA = Path(__file__).parent / "data"
_RANGES = json.loads((DATA / "cloudflare-ips.json").read_text())
CLOUDFLARE_IPV4: tuple[str, ...] = tuple(_RANGES["ipv4"])
CLOUDFLARE_IPV6: tuple[str, ...] = tuple(_RANGES["ipv6"])
ORIGIN_PULL_CA = (DATA / "cloudflare-origin-pull-ca.pem").read_text()

INGRESS_NGINX_REPOSITORY = "https://kubernetes.github.io/ingress-nginx"
CERT_MANAGER_REPOSITORY = "https://charts.jetstack.io"
CONTROLLER_SERVICE = "ingress-nginx-controller"
# The Secret the API's Ingress verifies client certificates against (key `ca.crt`).
ORIGIN_PULL_SECRET = "cloudflare-origin-pull-ca"
# Where cert-manager's DNS-01 self-check asks whether the TXT record is visible.
DNS01_RESOLVERS = ("1.1.1.1", "1.0.0.1")
CONTROLLER_PORTS = (80, 443)
CONTROLLER_WEBHOOK_PORT = 8443
CONTROLLER_METRICS_PORT = 10254
CERT_MANAGER_WEBHOOK_PORT = 10250
CERT_MANAGER_METRICS_PORT = 9402


@dataclass(frozen=True)
class AcmeIssuerArgs:
    """A ClusterIssuer on an ACME server, solving DNS-01 in a Cloudflare zone."""

    name: str
    email: str
    server: str
    # The zones the solver answers for (the regional hostname's).
    dns_zones: tuple[str, ...]
    # The Secret (in cert-manager's namespace) and key holding the Cloudflare API token
    # (Zone:DNS:Edit and Zone:Zone:Read on those zones).
    token_secret: str
    token_key: str


@dataclass(frozen=True)
class EdgeOriginArgs:
    owner: Ownership
    cluster: charts.Cluster
    ingress_nginx_chart_version: str
    cert_manager_chart_version: str
    class_name: str
    replicas: int
    issuer: AcmeIssuerArgs
    # The API the controller forwards to.
    app_namespace: str
    app_port: int
    # Cloud-specific annotations of the controller's LoadBalancer Service.
    service_annotations: dict[str, str]
    # Cloudflare's ranges: the only sources admitted, and the only ones whose
    # CF-Connecting-IP is believed. The LoadBalancer gets the IPv4 ones (its address is IPv4).
    cloudflare_ipv4: tuple[str, ...] = CLOUDFLARE_IPV4
    cloudflare_ipv6: tuple[str, ...] = CLOUDFLARE_IPV6
    origin_pull_ca: str = ORIGIN_PULL_CA
    cert_manager_namespace: str = "cert-manager"
    # Creates what cert-manager's namespace needs before its pods start (the token's
    # ExternalSecret); the release waits for it.
    setup: charts.NamespaceSetup | None = None


def controller_config(args: EdgeOriginArgs) -> dict[str, str]:
    """The controller's ConfigMap: the real client address from CF-Connecting-IP, believed
    only from Cloudflare's ranges; X-Forwarded-* from clients are never believed."""
    return {
        "enable-real-ip": "true",
        "forwarded-for-header": "CF-Connecting-IP",
        "proxy-real-ip-cidr": ",".join((*args.cloudflare_ipv4, *args.cloudflare_ipv6)),
        "use-forwarded-headers": "false",
        "server-tokens": "false",
        "ssl-protocols": "TLSv1.2 TLSv1.3",
    }


def client_certificate_annotations(controller_namespace: str) -> dict[str, str]:
    """What an Ingress carries so that the controller accepts only Cloudflare's client
    certificate (Authenticated Origin Pulls)."""
    return {
        "nginx.ingress.kubernetes.io/auth-tls-secret": f"{controller_namespace}/{ORIGIN_PULL_SECRET}",
        "nginx.ingress.kubernetes.io/auth-tls-verify-client": "on",
        "nginx.ingress.kubernetes.io/auth-tls-verify-depth": "1",
    }


def cluster_issuer_spec(issuer: AcmeIssuerArgs) -> dict[str, object]:
    return {
        "acme": {
            "server": issuer.server,
            "email": issuer.email,
            "privateKeySecretRef": {"name": f"{issuer.name}-account-key"},
            "solvers": [
                {
                    "selector": {"dnsZones": list(issuer.dns_zones)},
                    "dns01": {
                        "cloudflare": {
                            "apiTokenSecretRef": {"name": issuer.token_secret, "key": issuer.token_key},
                        }
                    },
                }
            ],
        }
    }


class EdgeOrigin(pulumi.ComponentResource):
    ingress_namespace: k8s.core.v1.Namespace
    origin_pull_ca: k8s.core.v1.Secret
    ingress_nginx: k8s.helm.v3.Release
    cert_manager_namespace: k8s.core.v1.Namespace
    cert_manager: k8s.helm.v3.Release
    cluster_issuer: k8s.apiextensions.CustomResource
    # Where the controller's load balancer answers: its DNS name (AWS) or address (GCP),
    # once the cloud assigned one. The edge's record for the regional hostname points here.
    address: pulumi.Output[str | None]

    def __init__(self, name: str, args: EdgeOriginArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:ingress:EdgeOrigin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._ingress_nginx(name, args, child)
        self._cert_manager(name, args, child)
        self.register_outputs(
            {
                "ingressNamespace": self.ingress_namespace.metadata.name,
                "clusterIssuer": self.cluster_issuer.metadata["name"],
                "address": self.address,
            }
        )

    def _ingress_nginx(self, name: str, args: EdgeOriginArgs, child: pulumi.ResourceOptions) -> None:
        namespace = args.cluster.ingress_namespace
        labels = kubernetes_labels(args.owner, name="ingress-nginx", instance=name, component="ingress")
        cloudflare = (*args.cloudflare_ipv4, *args.cloudflare_ipv6)
        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(
                # Only Cloudflare's edge (the LoadBalancer keeps client addresses: Local policy).
                *(IngressRule(f"cloudflare-{i}", CONTROLLER_PORTS, cidr=cidr) for i, cidr in enumerate(cloudflare)),
                *args.cluster.webhook_callers(CONTROLLER_WEBHOOK_PORT),
                IngressRule("metrics", (CONTROLLER_METRICS_PORT,), namespace=args.cluster.monitoring_namespace),
            ),
            egress=(EgressRule("api", (args.app_port,), namespace=args.app_namespace),),
        )
        self.ingress_namespace = charts.namespace(f"{name}-ingress-namespace", namespace, labels, self, isolation)
        in_namespace = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.ingress_namespace]))
        self.origin_pull_ca = k8s.core.v1.Secret(
            f"{name}-origin-pull-ca",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ORIGIN_PULL_SECRET, namespace=namespace, labels=labels),
            type="Opaque",
            # Public: Cloudflare's CA certificate, not a key.
            string_data={"ca.crt": args.origin_pull_ca},
            immutable=True,
            opts=in_namespace,
        )
        self.ingress_nginx = charts.release(
            f"{name}-ingress-nginx",
            "ingress-nginx",
            charts.Chart("ingress-nginx", INGRESS_NGINX_REPOSITORY, args.ingress_nginx_chart_version),
            self.ingress_namespace.metadata.name,
            {
                "controller": {
                    "replicaCount": args.replicas,
                    "ingressClass": args.class_name,
                    "ingressClassResource": {"name": args.class_name, "enabled": True, "default": False},
                    # Ownership only: the chart's own selector labels stay the chart's.
                    "labels": ownership_labels(args.owner),
                    "podLabels": ownership_labels(args.owner),
                    "config": controller_config(args),
                    "service": {
                        "type": "LoadBalancer",
                        # Keeps the client's (Cloudflare's) address, which the source
                        # ranges, the NetworkPolicies and the real-IP check rely on.
                        "externalTrafficPolicy": "Local",
                        "loadBalancerSourceRanges": list(args.cloudflare_ipv4),
                        "annotations": args.service_annotations,
                    },
                    "metrics": {"enabled": True},
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                    "admissionWebhooks": {"enabled": True},
                },
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.origin_pull_ca])),
        )
        # The chart's controller Service (`<release>-controller`), read once the release is up.
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            f"{namespace}/{CONTROLLER_SERVICE}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.ingress_nginx]),
        )
        self.address = service.status.apply(_load_balancer_address)

    def _cert_manager(self, name: str, args: EdgeOriginArgs, child: pulumi.ResourceOptions) -> None:
        namespace = args.cert_manager_namespace
        labels = kubernetes_labels(args.owner, name="cert-manager", instance=name, component="certificates")
        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(
                *args.cluster.webhook_callers(CERT_MANAGER_WEBHOOK_PORT),
                IngressRule("metrics", (CERT_MANAGER_METRICS_PORT,), namespace=args.cluster.monitoring_namespace),
            ),
            egress=(
                # The ACME server and Cloudflare's API.
                EgressRule("https", (443,), cidr="0.0.0.0/0"),
                # The DNS-01 self-check asks public resolvers only.
                *(
                    EgressRule(f"dns01-{i}-{protocol.lower()}", (53,), protocol=protocol, cidr=f"{resolver}/32")
                    for i, resolver in enumerate(DNS01_RESOLVERS)
                    for protocol in ("UDP", "TCP")
                ),
            ),
        )
        self.cert_manager_namespace = charts.namespace(
            f"{name}-cert-manager-namespace", namespace, labels, self, isolation
        )
        prepared = args.setup(self.cert_manager_namespace) if args.setup else []
        self.cert_manager = charts.release(
            f"{name}-cert-manager",
            "cert-manager",
            charts.Chart("cert-manager", CERT_MANAGER_REPOSITORY, args.cert_manager_chart_version),
            self.cert_manager_namespace.metadata.name,
            {
                "crds": {"enabled": True, "keep": True},
                "replicaCount": args.replicas,
                "podLabels": ownership_labels(args.owner),
                "dns01RecursiveNameservers": ",".join(f"{resolver}:53" for resolver in DNS01_RESOLVERS),
                "dns01RecursiveNameserversOnly": True,
                "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                "webhook": {"replicaCount": args.replicas},
                "prometheus": {"enabled": True},
            },
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=prepared)),
        )
        issuer = args.issuer
        self.cluster_issuer = k8s.apiextensions.CustomResource(
            f"{name}-cluster-issuer",
            api_version="cert-manager.io/v1",
            kind="ClusterIssuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=issuer.name, labels=labels),
            spec=cluster_issuer_spec(issuer),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.cert_manager, *prepared])),
        )


def _load_balancer_address(status: k8s.core.v1.outputs.ServiceStatus | None) -> str | None:
    ingress = status.load_balancer.ingress if status and status.load_balancer else None
    if not ingress:
        return None
    return ingress[0].hostname or ingress[0].ip
