"""Keda: the event-driven autoscaler, from its upstream Helm chart at a pinned version.

Its three pods and what each must reach (chart kedacore/keda, values.yaml):
- the operator: the API server, and Prometheus in the monitoring namespace (the scalers'
  queries); it serves the metrics server over gRPC inside the namespace;
- the metrics server: an aggregated API (v1beta1.external.metrics.k8s.io) the API server
  calls on the pod's HTTPS port, from outside the pod network like a webhook;
- the admission webhooks: the API server calls them to validate ScaledObjects.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels, ownership_labels
from components.monitoring.stack import PROMETHEUS_PORT, SELECTED_LABEL
from components.network_policies import EgressRule, IngressRule

CHART_REPOSITORY = "https://kedacore.github.io/charts"
CHART = "keda"
NAMESPACE = "keda"
# The metrics server's container port behind its Service (values service.portHttpsTarget).
METRICS_API_PORT = 6443
# The admission webhooks' port (values webhooks.port, empty: the binary's 9443).
WEBHOOK_PORT = 9443
# Each pod's Prometheus metrics (values prometheus.*.port).
METRICS_PORT = 8080
# Kinds KEDA may scale besides Deployments and StatefulSets, which the chart's role always
# covers: Argo Rollouts. The chart writes `<kind>/scale` into the role, so the resource's
# plural, not its kind. Unset, the chart grants `*/scale` on every group.
SCALED_KINDS = ({"apiGroup": "argoproj.io", "kind": "rollouts"},)


@dataclass(frozen=True)
class KedaArgs:
    owner: Ownership
    chart_version: str
    cluster: charts.Cluster
    namespace: str = NAMESPACE
    # Two of each where a stuck autoscaler costs the most (one operator leads; the metrics
    # server's second replica only shortens a failover).
    replicas: int = 1


def isolation(args: KedaArgs) -> charts.Isolation:
    # The API server calls the metrics server and the webhooks alike: from its endpoints.
    api_server = tuple(
        replace(rule, ports=(METRICS_API_PORT, WEBHOOK_PORT)) for rule in args.cluster.webhook_callers(WEBHOOK_PORT)
    )
    return charts.Isolation(
        cluster=args.cluster,
        ingress=(*api_server, IngressRule("metrics", (METRICS_PORT,), namespace=args.cluster.monitoring_namespace)),
        egress=(
            EgressRule(
                "prometheus",
                (PROMETHEUS_PORT,),
                namespace=args.cluster.monitoring_namespace,
                pod_labels={"app.kubernetes.io/name": "prometheus"},
            ),
        ),
    )


def values(args: KedaArgs) -> dict[str, object]:
    # The chart labels every object with app.kubernetes.io/{name,part-of,managed-by,
    # component} itself: only the cost labels are added, as a second key would clash.
    cost_labels = {k: v for k, v in ownership_labels(args.owner).items() if not k.startswith("app.kubernetes.io/")}
    resources = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    return {
        "crds": {"install": True},
        "additionalLabels": cost_labels,
        "operator": {"replicaCount": args.replicas},
        "metricsServer": {"replicaCount": args.replicas},
        "webhooks": {"replicaCount": args.replicas},
        "resources": {"operator": resources, "metricServer": resources, "webhooks": resources},
        "rbac": {"enabledCustomScaledRefKinds": True, "scaledRefKinds": list(SCALED_KINDS)},
        # No trigger authenticates with a Secret: KEDA reads none outside its namespace.
        "permissions": {
            "metricServer": {"restrict": {"secret": True}},
            "operator": {"restrict": {"secret": True}},
        },
        # The operator's metrics (scaler errors, metric values) to this project's Prometheus.
        "prometheus": {
            "operator": {
                "enabled": True,
                "serviceMonitor": {"enabled": True, "additionalLabels": SELECTED_LABEL},
            }
        },
    }


class Keda(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:scaling:Keda", name, None, opts)
        labels = kubernetes_labels(args.owner, name="keda", instance=name, component="autoscaling")
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation(args))
        # Waits until the operator runs, so ScaledObjects created next are reconciled.
        self.release = charts.release(
            f"{name}-release",
            "keda",
            charts.Chart(CHART, CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            values(args),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"namespace": self.namespace.metadata.name, "release": self.release.status})
