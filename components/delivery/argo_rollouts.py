"""ArgoRollouts: the controller, from its upstream Helm chart at a pinned version."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels
from components.network_policies import EgressRule, IngressRule

CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
METRICS_PORT = 8090
PROMETHEUS_PORT = 9090
NAMESPACE = "argo-rollouts"
# The controller's pods (the chart's name label; the dashboard, the other pod, is off).
CONTROLLER_LABELS = {"app.kubernetes.io/name": "argo-rollouts"}


@dataclass(frozen=True)
class ArgoRolloutsArgs:
    owner: Ownership
    chart_version: str
    cluster: charts.Cluster
    namespace: str = NAMESPACE
    # Two controllers (one leads) where a stuck rollout costs the most.
    replicas: int = 1
    # Where else the controller calls, besides Prometheus (a web metric provider: the judge).
    egress: tuple[EgressRule, ...] = ()


class ArgoRollouts(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ArgoRolloutsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:delivery:ArgoRollouts", name, None, opts)
        labels = kubernetes_labels(args.owner, name="argo-rollouts", instance=name, component="delivery")
        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(IngressRule("metrics", (METRICS_PORT,), namespace=args.cluster.monitoring_namespace),),
            egress=(
                EgressRule(
                    "prometheus",
                    (PROMETHEUS_PORT,),
                    namespace=args.cluster.monitoring_namespace,
                    pod_labels={"app.kubernetes.io/name": "prometheus"},
                ),
                *args.egress,
            ),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        # Waits until the controller runs, so Rollouts created next are reconciled.
        self.release = charts.release(
            f"{name}-release",
            "argo-rollouts",
            charts.Chart("argo-rollouts", CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            {
                "installCRDs": True,
                "controller": {
                    "replicas": args.replicas,
                    "metrics": {"enabled": True},
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "512Mi"},
                    },
                },
                # The kubectl plugin is the interface; no dashboard to expose.
                "dashboard": {"enabled": False},
                "podLabels": labels,
            },
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"namespace": self.namespace.metadata.name, "release": self.release.status})
