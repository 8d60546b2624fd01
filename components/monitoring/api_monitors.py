"""ApiMonitors: what Prometheus scrapes of the API and the rules it evaluates for it.

A PodMonitor rather than a ServiceMonitor: with canary or blue-green two Services select
the API's pods (both point at the stable pods between releases), and a ServiceMonitor
would scrape every pod once per Service, doubling every rate.

In the mesh the PodMonitor scrapes the sidecars, and the app's own metrics come through a
ServiceMonitor instead, because only a ServiceMonitor can present certificate files: it
selects one headless Service of its own that selects every API pod, so each pod is
still scraped once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.monitoring.rules import RuleArgs, groups
from components.monitoring.stack import SELECTED_LABEL

MONITORING_API = "monitoring.coreos.com/v1"
# The API's metrics Service in the mesh, and only it, carries this label.
MUTUAL_TLS_SCRAPE = {"monitoring.project-ai.dev/scrape": "mutual-tls"}
# Copied onto every series, so canary analysis can tell the new pods from the old.
POD_TARGET_LABELS = ["rollouts-pod-template-hash"]


@dataclass(frozen=True)
class MeshScrape:
    """The API in the mesh. Its metrics stay behind mutual TLS: Prometheus presents its
    own workload certificate (files its sidecar writes), so the pods' AuthorizationPolicy
    can name it. The sidecar's own metrics (Envoy's, for Kiali) come from its port."""

    # The directory in the Prometheus pod holding root-cert.pem, cert-chain.pem, key.pem.
    certificates: str
    sidecar_port: int = 15020


@dataclass(frozen=True)
class ApiMonitorsArgs:
    # The API's namespace: the monitors live in it and scrape only it.
    namespace: str
    labels: dict[str, str]
    # The labels that select the API's pods.
    pod_selector: dict[str, str]
    rules: RuleArgs
    mesh: MeshScrape | None = None


def app_endpoint() -> dict[str, object]:
    return {"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}


def sidecar_endpoint(mesh: MeshScrape) -> dict[str, object]:
    """The sidecar's port is undeclared (the injected container declares none for it):
    the target is the app's declared port, its address rewritten to the sidecar's."""
    return {
        **app_endpoint(),
        "path": "/stats/prometheus",
        "relabelings": [
            {
                "sourceLabels": ["__meta_kubernetes_pod_ip"],
                "targetLabel": "__address__",
                "regex": "(.+)",
                "replacement": f"$1:{mesh.sidecar_port}",
                "action": "replace",
            }
        ],
    }


def mutual_tls_endpoint(mesh: MeshScrape) -> dict[str, object]:
    """The app's /metrics through its sidecar, with Prometheus's mesh certificate. The
    sidecar's certificate names a SPIFFE identity and no host, so Prometheus cannot check
    it by name (Istio's documented setting): the pod's policy checks Prometheus instead."""
    return {
        **app_endpoint(),
        "scheme": "https",
        "tlsConfig": {
            "caFile": f"{mesh.certificates}/root-cert.pem",
            "certFile": f"{mesh.certificates}/cert-chain.pem",
            "keyFile": f"{mesh.certificates}/key.pem",
            "insecureSkipVerify": True,
        },
    }


class ApiMonitors(pulumi.ComponentResource):
    pod_monitor: k8s.apiextensions.CustomResource
    # In the mesh: the headless Service and the ServiceMonitor scraping the app's metrics.
    metrics_service: k8s.core.v1.Service | None
    service_monitor: k8s.apiextensions.CustomResource | None
    rules: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: ApiMonitorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:monitoring:ApiMonitors", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metadata = {"namespace": args.namespace, "labels": {**args.labels, **SELECTED_LABEL}}
        self.pod_monitor = k8s.apiextensions.CustomResource(
            f"{name}-pod-monitor",
            api_version=MONITORING_API,
            kind="PodMonitor",
            metadata={"name": name, **metadata},
            spec={
                "selector": {"matchLabels": args.pod_selector},
                "namespaceSelector": {"matchNames": [args.namespace]},
                "podTargetLabels": POD_TARGET_LABELS,
                "podMetricsEndpoints": [sidecar_endpoint(args.mesh) if args.mesh else app_endpoint()],
            },
            opts=child,
        )
        self.metrics_service = self.service_monitor = None
        if args.mesh is not None:
            self._mutual_tls_monitor(name, args, args.mesh, child)
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=MONITORING_API,
            kind="PrometheusRule",
            metadata={"name": name, **metadata},
            spec={"groups": groups(args.rules)},
            opts=child,
        )
        self.register_outputs({"namespace": args.namespace, "podMonitor": name, "prometheusRule": name})

    def _mutual_tls_monitor(
        self, name: str, args: ApiMonitorsArgs, mesh: MeshScrape, child: pulumi.ResourceOptions
    ) -> None:
        labels = {**args.labels, **MUTUAL_TLS_SCRAPE}
        self.metrics_service = k8s.core.v1.Service(
            f"{name}-metrics-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-metrics", namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                # Headless: Prometheus reads the pods' addresses, nothing is balanced.
                cluster_ip="None",
                selector=args.pod_selector,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", protocol="TCP")],
            ),
            opts=child,
        )
        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-service-monitor",
            api_version=MONITORING_API,
            kind="ServiceMonitor",
            metadata={"name": name, "namespace": args.namespace, "labels": {**args.labels, **SELECTED_LABEL}},
            spec={
                "selector": {"matchLabels": MUTUAL_TLS_SCRAPE},
                "namespaceSelector": {"matchNames": [args.namespace]},
                "podTargetLabels": POD_TARGET_LABELS,
                "endpoints": [mutual_tls_endpoint(mesh)],
            },
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.metrics_service])),
        )
