"""MeshPolicies: what the mesh allows in one application namespace (issue #17).

Deny by default, then name every caller by its SPIFFE principal (the identity in its
mTLS certificate, which the mesh-wide STRICT PeerAuthentication makes every caller
present):

- `allow-nothing`: an AuthorizationPolicy with an empty spec. It selects every workload
  of the namespace and allows no request, so a workload no other policy names refuses
  everything;
- `allow-ingress`: the ingress gateway's identity, to the API's port and paths only;
- `allow-metrics`: Prometheus's identity, to the metrics port's GET /metrics only
  (Prometheus scrapes as a mesh client: components/monitoring/stack.py, mesh_client);
- a DestinationRule for the API's host: Istio mutual TLS to it, connection-pool limits
  and outlier detection (a pod that keeps failing is taken out of the pool);
- with `routing`: a `Gateway` on the ingress gateway for the API's public host (the edge
  controller forwards there), and the `api` VirtualService bound to it and to the mesh,
  whose `primary` route sends everything to the stable subset (Argo Rollouts moves the
  weights, and adds header, cookie and mirror routes, during a canary).

Custom resources are written against the API versions of the schemas vendored in
preflight/crd-schemas (security.istio.io/v1, networking.istio.io/v1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.labels import Ownership, kubernetes_labels

SECURITY_API = "security.istio.io/v1"
NETWORKING_API = "networking.istio.io/v1"
ALLOW_NOTHING = "allow-nothing"


@dataclass(frozen=True)
class ConnectionPool:
    max_connections: int = 100
    connect_timeout: str = "5s"
    http1_max_pending_requests: int = 100
    http2_max_requests: int = 1000
    max_requests_per_connection: int = 0
    # Below the app's keep-alive (APP_KEEP_ALIVE_SECONDS, 75 s): the sidecar closes an idle
    # connection before the app would, never reusing one the app is closing.
    idle_timeout: str = "60s"


@dataclass(frozen=True)
class OutlierDetection:
    consecutive_5xx_errors: int = 5
    interval: str = "10s"
    base_ejection_time: str = "30s"
    max_ejection_percent: int = 50


@dataclass(frozen=True)
class MeshPoliciesArgs:
    owner: Ownership
    namespace: str
    # The API's pods (its selector labels) and its Service's host and port.
    api_selector: dict[str, str]
    api_host: str
    api_port: int
    # Paths the gateway may call (Istio's exact, `prefix*` or `*suffix` forms).
    api_paths: tuple[str, ...]
    # SPIFFE principals without `spiffe://` (`<trust domain>/ns/<ns>/sa/<account>`).
    ingress_principals: tuple[str, ...]
    metrics_port: int
    # Empty where the stack runs no monitoring: no allow-metrics policy then.
    prometheus_principals: tuple[str, ...] = ()
    api_methods: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    metrics_path: str = "/metrics"
    connection_pool: ConnectionPool = field(default_factory=ConnectionPool)
    outlier_detection: OutlierDetection = field(default_factory=OutlierDetection)
    # DestinationRule subsets (Argo Rollouts' stable and canary subsets, when it routes by subset).
    subsets: tuple[str, ...] = ()
    # What must exist before objects are created in the namespace (the Namespace).
    namespace_ready: tuple[pulumi.Resource, ...] = ()
    routing: Routing | None = None


@dataclass(frozen=True)
class FaultInjection:
    """Faults the sidecars inject on the `primary` route (resilience tests, outside
    production: the zero-trust pack refuses them there): a fixed delay before a share of
    requests, an immediate error status for another share."""

    delay_ms: int | None = None
    delay_percent: float | None = None
    abort_http_status: int | None = None
    abort_percent: float | None = None

    def spec(self) -> dict[str, Any]:
        fault: dict[str, Any] = {}
        if self.delay_ms is not None and self.delay_percent is not None:
            fault["delay"] = {"fixedDelay": f"{self.delay_ms}ms", "percentage": {"value": self.delay_percent}}
        if self.abort_http_status is not None and self.abort_percent is not None:
            fault["abort"] = {"httpStatus": self.abort_http_status, "percentage": {"value": self.abort_percent}}
        if not fault:
            raise ValueError("fault injection: expected a delay, an abort or both")
        return fault


@dataclass(frozen=True)
class Routing:
    """The API's public host through the ingress gateway, and its in-mesh route."""

    # The public host the edge controller forwards with (its Host header).
    hosts: tuple[str, ...]
    gateway_namespace: str
    # The gateway pods' labels (the `gateway` chart's `istio: <release without istio->`).
    gateway_selector: dict[str, str]
    gateway_port: int = 80
    # The API Service's port (the VirtualService routes to the Service, not the pods).
    service_port: int = 80
    # The VirtualService's names, as the Rollout refers to them.
    virtual_service: str = "api"
    route: str = "primary"
    # Faults on the route (never in production); None, none.
    fault: FaultInjection | None = None


def exact_principals(principals: tuple[str, ...], what: str) -> list[str]:
    if not principals:
        raise ValueError(f"{what}: at least one principal")
    for principal in principals:
        if "*" in principal or principal.startswith("spiffe://") or principal.count("/") != 4:
            raise ValueError(f"{what}: '{principal}' is not an exact '<trust domain>/ns/<ns>/sa/<account>'")
    return list(principals)


def ingress_policy_spec(args: MeshPoliciesArgs) -> dict[str, Any]:
    if not args.api_paths:
        raise ValueError("api_paths: at least one path")
    return {
        "selector": {"matchLabels": dict(args.api_selector)},
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": exact_principals(args.ingress_principals, "ingress_principals")}}],
                "to": [
                    {
                        "operation": {
                            "ports": [str(args.api_port)],
                            "paths": list(args.api_paths),
                            "methods": list(args.api_methods),
                        }
                    }
                ],
            }
        ],
    }


def metrics_policy_spec(args: MeshPoliciesArgs) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": dict(args.api_selector)},
        "action": "ALLOW",
        "rules": [
            {
                "from": [
                    {"source": {"principals": exact_principals(args.prometheus_principals, "prometheus_principals")}}
                ],
                "to": [
                    {
                        "operation": {
                            "ports": [str(args.metrics_port)],
                            "paths": [args.metrics_path],
                            "methods": ["GET"],
                        }
                    }
                ],
            }
        ],
    }


def gateway_name(args: MeshPoliciesArgs) -> str:
    return f"{args.namespace}-api"


def gateway_spec(args: MeshPoliciesArgs, routing: Routing) -> dict[str, Any]:
    return {
        "selector": dict(routing.gateway_selector),
        "servers": [
            {
                "port": {"number": routing.gateway_port, "name": "http", "protocol": "HTTP"},
                # Only this namespace's VirtualServices may bind these hosts.
                "hosts": [f"{args.namespace}/{host}" for host in routing.hosts],
            }
        ],
    }


def virtual_service_spec(args: MeshPoliciesArgs, routing: Routing) -> dict[str, Any]:
    """One named route to the stable subset (or the Service, without subsets)."""
    destination: dict[str, Any] = {"host": args.api_host, "port": {"number": routing.service_port}}
    if args.subsets:
        stable, *others = args.subsets
        route = [
            {"destination": {**destination, "subset": stable}, "weight": 100},
            *({"destination": {**destination, "subset": other}, "weight": 0} for other in others),
        ]
    else:
        route = [{"destination": destination}]
    # Argo Rollouts rewrites only the route's destinations and weights: the fault stays
    # on it through a canary, and its header and mirror routes go ahead of it.
    fault = {"fault": routing.fault.spec()} if routing.fault is not None else {}
    return {
        "hosts": [*routing.hosts, args.api_host],
        "gateways": [f"{routing.gateway_namespace}/{gateway_name(args)}", "mesh"],
        "http": [{"name": routing.route, "route": route, **fault}],
    }


def destination_rule_spec(args: MeshPoliciesArgs) -> dict[str, Any]:
    pool, outlier = args.connection_pool, args.outlier_detection
    spec: dict[str, Any] = {
        "host": args.api_host,
        "trafficPolicy": {
            "tls": {"mode": "ISTIO_MUTUAL"},
            "connectionPool": {
                "tcp": {"maxConnections": pool.max_connections, "connectTimeout": pool.connect_timeout},
                "http": {
                    "http1MaxPendingRequests": pool.http1_max_pending_requests,
                    "http2MaxRequests": pool.http2_max_requests,
                    "maxRequestsPerConnection": pool.max_requests_per_connection,
                    "idleTimeout": pool.idle_timeout,
                },
            },
            "outlierDetection": {
                "consecutive5xxErrors": outlier.consecutive_5xx_errors,
                "interval": outlier.interval,
                "baseEjectionTime": outlier.base_ejection_time,
                "maxEjectionPercent": outlier.max_ejection_percent,
            },
        },
    }
    if args.subsets:
        spec["subsets"] = [{"name": subset} for subset in args.subsets]
    return spec


def allow_nothing(
    name: str, namespace: pulumi.Input[str], labels: dict[str, str], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """An allow-nothing AuthorizationPolicy on its own: for a namespace with workloads
    that stays outside the mesh (none of its pods has a sidecar to enforce it today; it
    denies everything from the day one does)."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=SECURITY_API,
        kind="AuthorizationPolicy",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=ALLOW_NOTHING, namespace=namespace, labels=labels),
        spec={},
        opts=opts,
    )


class MeshPolicies(pulumi.ComponentResource):
    allow_nothing: k8s.apiextensions.CustomResource
    allow_ingress: k8s.apiextensions.CustomResource
    allow_metrics: k8s.apiextensions.CustomResource | None
    destination_rule: k8s.apiextensions.CustomResource
    gateway: k8s.apiextensions.CustomResource | None
    virtual_service: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, args: MeshPoliciesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:mesh:MeshPolicies", name, None, opts)
        labels = kubernetes_labels(args.owner, name="mesh-policies", instance=name, component="mesh")
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=list(args.namespace_ready))

        def resource(
            logical: str, api: str, kind: str, object_name: str, spec: dict[str, Any], namespace: str = args.namespace
        ) -> Any:
            return k8s.apiextensions.CustomResource(
                f"{name}-{logical}",
                api_version=api,
                kind=kind,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels),
                spec=spec,
                opts=in_namespace,
            )

        # An empty spec: every workload of the namespace, no request allowed.
        self.allow_nothing = resource(ALLOW_NOTHING, SECURITY_API, "AuthorizationPolicy", ALLOW_NOTHING, {})
        self.allow_ingress = resource(
            "allow-ingress", SECURITY_API, "AuthorizationPolicy", "allow-ingress", ingress_policy_spec(args)
        )
        self.allow_metrics = None
        if args.prometheus_principals:
            self.allow_metrics = resource(
                "allow-metrics", SECURITY_API, "AuthorizationPolicy", "allow-metrics", metrics_policy_spec(args)
            )
        self.destination_rule = resource(
            "destination-rule", NETWORKING_API, "DestinationRule", "api", destination_rule_spec(args)
        )
        self.gateway = self.virtual_service = None
        if args.routing is not None:
            routing = args.routing
            self.gateway = resource(
                "gateway",
                NETWORKING_API,
                "Gateway",
                gateway_name(args),
                gateway_spec(args, routing),
                namespace=routing.gateway_namespace,
            )
            self.virtual_service = resource(
                "virtual-service",
                NETWORKING_API,
                "VirtualService",
                routing.virtual_service,
                virtual_service_spec(args, routing),
            )
        self.register_outputs({"namespace": args.namespace, "allowNothing": ALLOW_NOTHING})
