"""IstioMesh: Istio on a cluster, from its official charts at one pinned version (issue #17).

**Sidecar mode, not ambient.** Argo Rollouts' Istio traffic routing shifts canary weight
by rewriting a VirtualService's routes over DestinationRule subsets, which sidecars
enforce at the caller; in ambient mode every L7 feature (VirtualService routing, HTTP
paths in an AuthorizationPolicy, outlier detection) needs a waypoint proxy per namespace
or service, and an L7 AuthorizationPolicy not bound to a waypoint is not enforced by
ztunnel at all (it fails closed to deny, or is silently L4-only). With sidecars, every
policy of `MeshPolicies` (paths, ports, principals) is enforced in the destination pod
itself, and mTLS identity is the pod's own ServiceAccount.

**Istio CNI.** Pod Security `restricted` forbids the `istio-init` container's NET_ADMIN
and NET_RAW. The `cni` chart's node agent (a privileged DaemonSet on the host network, in
a namespace of its own at Pod Security `privileged`) sets up each pod's traffic
redirection instead, and istiod is told so (`cni.enabled`): the injected pods then carry
only `istio-validation` and `istio-proxy`, both non-root with every capability dropped,
so application namespaces stay `restricted`.

What this component creates:

- `istio-system` (restricted, denied by default; every pod may reach istiod's xDS and
  injection ports, the API server its webhook): the `base` chart (CRDs, no pods) and
  `istiod`, whose workload certificates come from istio-csr
  (`certificates.istiod_values`), with the mesh's trust domain, REGISTRY_ONLY outbound
  traffic, Prometheus metrics and an OpenTelemetry tracing provider (an OTLP gRPC
  address from args);
- the Istio CNI node agent (`cni`) in its own privileged namespace;
- an ingress gateway (`gateway` chart) in its own restricted namespace, behind a
  ClusterIP Service unless args say otherwise: ingress-nginx stays the edge;
- in the root namespace: a mesh-wide STRICT PeerAuthentication, a Telemetry resource
  (metrics to Prometheus, traces to the collector at the sampling rate of args), and
  one ServiceEntry per declared upstream (the only hosts outside the mesh any sidecar
  may reach);
- Kiali (`kiali-server`), read-only and behind token or OpenID login, in a restricted
  namespace that reaches Prometheus and istiod only.

Application namespaces are enrolled by their own Namespace objects carrying
`enrolment_labels()` (so their pods are injected from the first one); `MeshPolicies`
(traffic.py) gives each its AuthorizationPolicies and DestinationRule.

Values were read in the charts at their pinned versions: istio/istio tag 1.30.3
(manifests/charts/{base,istio-control/istio-discovery,gateway,istio-cni}/values.yaml;
the charts take top-level values, `env` and not `pilot.env`), kiali/helm-charts tag
v2.29.0 (kiali-server/values.yaml, templates/configmap.yaml and deployment.yaml).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels, ownership_labels
from components.mesh import certificates
from components.network_policies import EgressRule, IngressRule

ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"
# Istio's latest stable release when this was written (tag 1.30.3, 2026-07-13).
ISTIO_CHART_VERSION = "1.30.3"
KIALI_REPOSITORY = "https://kiali.org/helm-charts"
KIALI_CHART = "kiali-server"
# kiali/helm-charts tag v2.29.0 (app v2.29.0).
KIALI_CHART_VERSION = "2.29.0"

NAMESPACE = certificates.ISTIO_NAMESPACE
GATEWAY_NAMESPACE = "istio-ingress"
GATEWAY_RELEASE = "istio-ingressgateway"
CNI_NAMESPACE = "istio-cni"
KIALI_NAMESPACE = "kiali"
# istiod's ports: xDS (plaintext is off: 15012 is mTLS), the injection and validation
# webhook (15017, the API server calls it), its monitoring port (15014).
XDS_PORT = 15012
WEBHOOK_PORT = 15017
MONITORING_PORT = 15014
KIALI_PORT = 20001
KIALI_METRICS_PORT = 9090
# The extension provider the Telemetry resource names for traces.
TRACING_PROVIDER = "otel-tracing"
METRICS_PROVIDER = "prometheus"
PROTOCOLS = ("HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO", "REDIS", "MYSQL")
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}


def enrolment_labels(revision: str | None = None) -> dict[str, str]:
    """What an application namespace carries to have its pods injected: the default
    revision's `istio-injection=enabled`, or `istio.io/rev=<revision>` for a revisioned
    control plane."""
    return {"istio.io/rev": revision} if revision else {"istio-injection": "enabled"}


def gateway_principal(trust_domain: str, namespace: str = GATEWAY_NAMESPACE, release: str = GATEWAY_RELEASE) -> str:
    """The ingress gateway's identity as AuthorizationPolicies name it (the chart's
    ServiceAccount is named after the release)."""
    return f"{trust_domain}/ns/{namespace}/sa/{release}"


@dataclass(frozen=True)
class Upstream:
    """A host outside the mesh that workloads may call (REGISTRY_ONLY refuses every other)."""

    # A host name, or an output that resolves to one (a platform's database endpoint).
    host: pulumi.Input[str]
    port: int
    protocol: str = "TLS"
    # DNS for hostnames; NONE passes the connection to its original address.
    resolution: Literal["DNS", "NONE", "STATIC"] = "DNS"
    # The ServiceEntry's name, where the host is not known before the run.
    name: str | None = None


@dataclass(frozen=True)
class TracingArgs:
    """The OpenTelemetry collector's OTLP gRPC receiver, and the share of requests traced."""

    service: str
    port: int = 4317
    sampling_percent: float = 1.0


@dataclass(frozen=True)
class KialiArgs:
    prometheus_url: str
    # Who may log in: ServiceAccount tokens (what a user sees is what the token may
    # read), or an OpenID provider (`openid` holds its settings: issuer_uri, client_id...).
    auth_strategy: Literal["token", "openid"] = "token"
    openid: Mapping[str, Any] = field(default_factory=dict)
    chart_version: str = KIALI_CHART_VERSION
    namespace: str = KIALI_NAMESPACE
    # Prometheus's namespace and port, for Kiali's egress.
    prometheus_namespace: str = "monitoring"
    prometheus_port: int = 9090


@dataclass(frozen=True)
class IstioMeshArgs:
    owner: Ownership
    cluster: charts.Cluster
    trust_domain: str
    tracing: TracingArgs
    chart_version: str = ISTIO_CHART_VERSION
    upstreams: tuple[Upstream, ...] = ()
    kiali: KialiArgs | None = None
    # Where istio-csr runs (MeshCertificates' namespace): istiod's CA address.
    istio_csr_namespace: str = certificates.NAMESPACE
    # Creates what istiod needs in its namespace before it starts (MeshCertificates:
    # its Issuer, and istio-csr, which issues istiod's serving certificate); istiod waits.
    setup: charts.NamespaceSetup | None = None
    # A revisioned control plane (`istio.io/rev`); None for the default revision.
    revision: str | None = None
    # The CNI chart's platform profile ("gke" puts the CNI binaries where GKE wants them).
    platform: Literal["gke", "eks"] | None = None
    replicas: int = 2
    gateway_service_type: Literal["ClusterIP", "LoadBalancer"] = "ClusterIP"
    gateway_service_annotations: Mapping[str, str] = field(default_factory=dict)
    # Where the gateway forwards to (the API's namespace and port).
    gateway_egress: tuple[EgressRule, ...] = ()
    namespace: str = NAMESPACE
    gateway_namespace: str = GATEWAY_NAMESPACE
    cni_namespace: str = CNI_NAMESPACE


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def mesh_config(args: IstioMeshArgs) -> dict[str, Any]:
    """istiod's `meshConfig`: REGISTRY_ONLY outbound, and the providers Telemetry names."""
    return {
        "trustDomain": args.trust_domain,
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        # The sidecar's port 15020 serves Envoy's and the agent's metrics; the app's are
        # scraped over mutual TLS (its pods carry no prometheus.io annotations to merge).
        "enablePrometheusMerge": True,
        "extensionProviders": [
            {"name": METRICS_PROVIDER, "prometheus": {}},
            {
                "name": TRACING_PROVIDER,
                "opentelemetry": {"service": args.tracing.service, "port": args.tracing.port},
            },
        ],
        "defaultProviders": {"metrics": [METRICS_PROVIDER], "tracing": [TRACING_PROVIDER]},
    }


def istiod_values(args: IstioMeshArgs) -> dict[str, Any]:
    """The istiod chart's values (top-level since the charts were flattened)."""
    own: dict[str, Any] = {
        "replicaCount": args.replicas,
        "autoscaleMin": args.replicas,
        "podLabels": ownership_labels(args.owner),
        "seccompProfile": RUNTIME_DEFAULT,
        # Injected pods leave traffic redirection to the CNI node agent (no istio-init).
        "cni": {"enabled": True},
        # Sidecars as native sidecars (restartable init containers, Kubernetes 1.29+): a
        # Job's pod (the migration, the smoke test) completes when its container does.
        "env": {"ENABLE_NATIVE_SIDECARS": "true"},
        "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "meshConfig": mesh_config(args),
        "global": {
            "istioNamespace": args.namespace,
            "proxy": {"seccompProfile": RUNTIME_DEFAULT},
            "defaultPodDisruptionBudget": {"enabled": args.replicas > 1},
        },
        # Gateways injected from istiod's gateway template.
        "gateways": {"seccompProfile": RUNTIME_DEFAULT},
    }
    if args.revision:
        own["revision"] = args.revision
    return deep_merge(own, certificates.istiod_values(args.trust_domain, args.istio_csr_namespace))


def gateway_values(args: IstioMeshArgs) -> dict[str, Any]:
    values: dict[str, Any] = {
        "replicaCount": args.replicas,
        "labels": ownership_labels(args.owner),
        # The chart's default, plus the seccomp profile restricted requires.
        "securityContext": {
            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
            "seccompProfile": RUNTIME_DEFAULT,
        },
        "service": {"type": args.gateway_service_type, "annotations": dict(args.gateway_service_annotations)},
        "autoscaling": {"enabled": True, "minReplicas": args.replicas, "maxReplicas": max(args.replicas, 5)},
        "podDisruptionBudget": {"minAvailable": 1} if args.replicas > 1 else {},
    }
    if args.revision:
        values["revision"] = args.revision
    return values


def cni_values(args: IstioMeshArgs) -> dict[str, Any]:
    values: dict[str, Any] = {
        "podLabels": ownership_labels(args.owner),
        "seccompProfile": RUNTIME_DEFAULT,
        # Lets the node agent's pods run at system-node-critical outside kube-system (GKE).
        "resourceQuotas": {"enabled": True},
        "global": {"istioNamespace": args.namespace},
    }
    if args.platform:
        values["global"]["platform"] = args.platform
    if args.revision:
        values["revision"] = args.revision
    return values


def kiali_values(args: IstioMeshArgs, kiali: KialiArgs) -> dict[str, Any]:
    auth: dict[str, Any] = {"strategy": kiali.auth_strategy}
    if kiali.auth_strategy == "openid":
        auth["openid"] = dict(kiali.openid)
    return {
        "auth": auth,
        "istio_namespace": args.namespace,
        "deployment": {
            "view_only_mode": True,
            "replicas": 1,
            "pod_labels": ownership_labels(args.owner),
            # Not in the mesh: its namespace is not enrolled.
            "pod_annotations": {"sidecar.istio.io/inject": "false"},
            "network_policy": {"enabled": False},
        },
        "external_services": {
            "prometheus": {"url": kiali.prometheus_url},
            "istio": {"root_namespace": args.namespace},
        },
    }


def peer_authentication_spec() -> dict[str, Any]:
    return {"mtls": {"mode": "STRICT"}}


def telemetry_spec(tracing: TracingArgs) -> dict[str, Any]:
    return {
        "metrics": [{"providers": [{"name": METRICS_PROVIDER}]}],
        "tracing": [{"providers": [{"name": TRACING_PROVIDER}], "randomSamplingPercentage": tracing.sampling_percent}],
    }


def service_entry_name(upstream: Upstream) -> str:
    if upstream.name:
        return upstream.name
    if not isinstance(upstream.host, str):
        raise ValueError("an upstream whose host is an output needs a name")
    return f"upstream-{upstream.host.replace('.', '-')}-{upstream.port}"[:63].strip("-")


def service_entry_spec(upstream: Upstream) -> dict[str, Any]:
    return {
        "hosts": [upstream.host],
        "location": "MESH_EXTERNAL",
        "resolution": upstream.resolution,
        "ports": [
            {
                "number": upstream.port,
                "name": f"{upstream.protocol.lower()}-{upstream.port}",
                "protocol": upstream.protocol,
            }
        ],
        "exportTo": ["*"],
    }


def _validate(args: IstioMeshArgs) -> None:
    if not 0 <= args.tracing.sampling_percent <= 100:
        raise ValueError(f"tracing.sampling_percent {args.tracing.sampling_percent} is not within 0..100")
    for upstream in args.upstreams:
        if isinstance(upstream.host, str) and "*" in upstream.host:
            raise ValueError(f"upstream {upstream.host}: a wildcard host opens egress to any name under it")
        if upstream.protocol not in PROTOCOLS:
            raise ValueError(
                f"upstream {upstream.name or upstream.host}: protocol {upstream.protocol}, expected one of {PROTOCOLS}"
            )
    if args.kiali is not None and args.kiali.auth_strategy not in ("token", "openid"):
        raise ValueError(f"kiali.auth_strategy {args.kiali.auth_strategy}: only token or openid (never anonymous)")


class IstioMesh(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    base: k8s.helm.v3.Release
    istiod: k8s.helm.v3.Release
    cni_namespace: k8s.core.v1.Namespace
    cni: k8s.helm.v3.Release
    gateway_namespace: k8s.core.v1.Namespace
    gateway: k8s.helm.v3.Release
    peer_authentication: k8s.apiextensions.CustomResource
    telemetry: k8s.apiextensions.CustomResource
    service_entries: list[k8s.apiextensions.CustomResource]
    kiali_namespace: k8s.core.v1.Namespace | None
    kiali: k8s.helm.v3.Release | None
    # The ingress gateway's SPIFFE principal (what MeshPolicies allows to the API).
    gateway_principal: str

    def __init__(self, name: str, args: IstioMeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:mesh:IstioMesh", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)
        labels = kubernetes_labels(args.owner, name="istio", instance=name, component="mesh")

        def chart(chart_name: str) -> charts.Chart:
            return charts.Chart(chart_name, ISTIO_REPOSITORY, args.chart_version)

        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(
                *args.cluster.webhook_callers(WEBHOOK_PORT),
                IngressRule("metrics", (MONITORING_PORT,), namespace=args.cluster.monitoring_namespace),
            ),
            # istiod reaches istio-csr for its own certificate's chain and nothing else.
            egress=(EgressRule("istio-csr", (certificates.GRPC_PORT,), namespace=args.istio_csr_namespace),),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        # Every pod's sidecar asks istiod for its configuration.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-namespace-allow-ingress-proxies",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="allow-ingress-proxies", namespace=args.namespace, labels=labels),
            spec=certificates.from_every_pod(XDS_PORT),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespace]),
        )
        prepared = args.setup(self.namespace) if args.setup else []
        self.base = charts.release(
            f"{name}-base",
            "istio-base",
            chart("base"),
            self.namespace.metadata.name,
            {"defaultRevision": args.revision or "default", "global": {"istioNamespace": args.namespace}},
            child,
        )

        self.cni_namespace = charts.namespace(
            f"{name}-cni-namespace",
            args.cni_namespace,
            labels,
            self,
            # A node agent on the host network: NetworkPolicies do not apply to it.
            charts.Isolation(cluster=args.cluster, pod_security="privileged"),
        )
        self.cni = charts.release(
            f"{name}-cni",
            "istio-cni",
            chart("cni"),
            self.cni_namespace.metadata.name,
            cni_values(args),
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.base])),
        )
        self.istiod = charts.release(
            f"{name}-istiod",
            "istiod",
            chart("istiod"),
            self.namespace.metadata.name,
            istiod_values(args),
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.base, self.cni, *prepared])),
        )
        after_istiod = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.istiod]))

        self.gateway_namespace = charts.namespace(
            f"{name}-gateway-namespace",
            args.gateway_namespace,
            labels,
            self,
            charts.Isolation(
                cluster=args.cluster,
                ingress=(
                    IngressRule("ingress-controller", (80, 443), namespace=args.cluster.ingress_namespace),
                    IngressRule("metrics", (15020,), namespace=args.cluster.monitoring_namespace),
                ),
                egress=(
                    EgressRule("istiod", (XDS_PORT,), namespace=args.namespace),
                    EgressRule("istio-csr", (certificates.GRPC_PORT,), namespace=args.istio_csr_namespace),
                    *args.gateway_egress,
                ),
            ),
        )
        self.gateway = charts.release(
            f"{name}-gateway",
            GATEWAY_RELEASE,
            chart("gateway"),
            self.gateway_namespace.metadata.name,
            gateway_values(args),
            after_istiod,
        )
        self.gateway_principal = gateway_principal(args.trust_domain, args.gateway_namespace)

        def resource(logical: str, api: str, kind: str, object_name: str, spec: dict[str, Any]) -> Any:
            return k8s.apiextensions.CustomResource(
                f"{name}-{logical}",
                api_version=api,
                kind=kind,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=args.namespace, labels=labels),
                spec=spec,
                opts=after_istiod,
            )

        self.peer_authentication = resource(
            "peer-authentication", "security.istio.io/v1", "PeerAuthentication", "default", peer_authentication_spec()
        )
        self.telemetry = resource(
            "telemetry", "telemetry.istio.io/v1", "Telemetry", "mesh-default", telemetry_spec(args.tracing)
        )
        self.service_entries = [
            resource(
                f"upstream-{index}",
                "networking.istio.io/v1",
                "ServiceEntry",
                service_entry_name(upstream),
                service_entry_spec(upstream),
            )
            for index, upstream in enumerate(args.upstreams)
        ]

        self.kiali_namespace, self.kiali = None, None
        if args.kiali is not None:
            self._kiali(name, args, args.kiali, after_istiod)

        self.register_outputs(
            {
                "namespace": self.namespace.metadata.name,
                "gatewayNamespace": self.gateway_namespace.metadata.name,
                "gatewayPrincipal": self.gateway_principal,
            }
        )

    def _kiali(self, name: str, args: IstioMeshArgs, kiali: KialiArgs, opts: pulumi.ResourceOptions) -> None:
        labels = kubernetes_labels(args.owner, name="kiali", instance=name, component="mesh-console")
        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(IngressRule("metrics", (KIALI_METRICS_PORT,), namespace=args.cluster.monitoring_namespace),),
            egress=(
                EgressRule("prometheus", (kiali.prometheus_port,), namespace=kiali.prometheus_namespace),
                EgressRule("istiod", (MONITORING_PORT, 8080), namespace=args.namespace),
            ),
        )
        self.kiali_namespace = charts.namespace(f"{name}-kiali-namespace", kiali.namespace, labels, self, isolation)
        self.kiali = charts.release(
            f"{name}-kiali",
            "kiali",
            charts.Chart(KIALI_CHART, KIALI_REPOSITORY, kiali.chart_version),
            self.kiali_namespace.metadata.name,
            kiali_values(args, kiali),
            opts,
        )
