"""ApiMonitors: what Prometheus scrapes of the API and the rules it evaluates for it.

A PodMonitor rather than a ServiceMonitor: with canary or blue-green two Services select
the API's pods (both point at the stable pods between releases), and a ServiceMonitor
would scrape every pod once per Service, doubling every rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.monitoring.rules import RuleArgs, groups
from components.monitoring.stack import SELECTED_LABEL

MONITORING_API = "monitoring.coreos.com/v1"
# Copied onto every series, so canary analysis can tell the new pods from the old.
POD_TARGET_LABELS = ["rollouts-pod-template-hash"]


@dataclass(frozen=True)
class ApiMonitorsArgs:
    # The API's namespace: the monitors live in it and scrape only it.
    namespace: str
    labels: dict[str, str]
    # The labels that select the API's pods.
    pod_selector: dict[str, str]
    rules: RuleArgs
    # In the mesh: the sidecar's port serving the app's metrics merged with its own, in
    # plaintext (it is the agent's own port, never captured, so STRICT mTLS leaves it).
    mesh_metrics_port: int | None = None


def metrics_endpoint(args: ApiMonitorsArgs) -> dict[str, object]:
    endpoint: dict[str, object] = {"port": "http", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    if args.mesh_metrics_port is not None:
        # The port is undeclared (the injected sidecar declares none for it): the target
        # is the app's declared port, its address rewritten to the sidecar's.
        endpoint["path"] = "/stats/prometheus"
        endpoint["relabelings"] = [
            {
                "sourceLabels": ["__meta_kubernetes_pod_ip"],
                "targetLabel": "__address__",
                "regex": "(.+)",
                "replacement": f"$1:{args.mesh_metrics_port}",
                "action": "replace",
            }
        ]
    return endpoint


class ApiMonitors(pulumi.ComponentResource):
    pod_monitor: k8s.apiextensions.CustomResource
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
                "podMetricsEndpoints": [metrics_endpoint(args)],
            },
            opts=child,
        )
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=MONITORING_API,
            kind="PrometheusRule",
            metadata={"name": name, **metadata},
            spec={"groups": groups(args.rules)},
            opts=child,
        )
        self.register_outputs({"namespace": args.namespace, "podMonitor": name, "prometheusRule": name})
