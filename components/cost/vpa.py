"""Right-sizing: the Vertical Pod Autoscaler's recommender from its upstream chart at a
pinned version, and a VerticalPodAutoscaler in recommendation mode for the API and each
platform workload the project deploys. `python -m ops rightsize` reads what they
recommend (status.recommendation) beside the usage in Prometheus.

The chart is FairwindsOps/charts `vpa`: the kubernetes/autoscaler project's own chart
still says it is not ready for production use, and this one installs each component
alone, so the updater and the admission controller (which evict and mutate pods) are
not installed at all. Recommendation only, twice over: no component that acts, and
every VerticalPodAutoscaler says `updateMode: "Off"`.

A VerticalPodAutoscaler names the topmost controller of its pods that has a scale
subresource (the recommender refuses any other): a Deployment, an Argo Rollout, and for
the prometheus-operator's StatefulSets their Prometheus and Alertmanager objects. The
chart's target-reader role reads `*/scale` in every group, so Rollouts need no more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels, ownership_labels
from components.monitoring.stack import SELECTED_LABEL
from components.network_policies import IngressRule

CHART_REPOSITORY = "https://charts.fairwinds.com/stable"
CHART = "vpa"
RELEASE = "vpa"
NAMESPACE = "vpa"
API_VERSION = "autoscaling.k8s.io/v1"
# The recommender's metrics and health port (its container's `metrics`).
METRICS_PORT = 8942
# The recommender's Deployment and container (the chart's fullname and its name).
RECOMMENDER = f"{RELEASE}-recommender"
RECOMMENDER_CONTAINER = CHART
# Recommendation only: the VPA never evicts, resizes or sets requests at admission.
UPDATE_MODE = "Off"
RESOURCES = ("cpu", "memory")


@dataclass(frozen=True)
class Bounds:
    """What a recommendation may range over, per container: ({cpu, memory} at least, at most)."""

    min_allowed: Mapping[str, str]
    max_allowed: Mapping[str, str]


@dataclass(frozen=True)
class VpaTarget:
    """One workload the recommender watches: its topmost scalable controller, and the
    container the project sizes (others, such as mesh sidecars, are left out)."""

    # The VerticalPodAutoscaler's name and its logical name's suffix.
    name: str
    namespace: str
    api_version: str
    kind: str
    target_name: str
    container: str


@dataclass(frozen=True)
class RightSizingArgs:
    owner: Ownership
    chart_version: str
    cluster: charts.Cluster
    bounds: Bounds
    targets: tuple[VpaTarget, ...]
    namespace: str = NAMESPACE
    # What must exist before the VerticalPodAutoscalers (their targets' components).
    ready: tuple[pulumi.Resource, ...] = ()
    resources: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    )


def recommender_target(namespace: str) -> VpaTarget:
    """The recommender sizes itself too."""
    return VpaTarget("vpa-recommender", namespace, "apps/v1", "Deployment", RECOMMENDER, RECOMMENDER_CONTAINER)


def isolation(args: RightSizingArgs) -> charts.Isolation:
    # It reads the API server (pods, the metrics API, targets' scale) and nothing else;
    # Prometheus scrapes its metrics.
    return charts.Isolation(
        cluster=args.cluster,
        ingress=(IngressRule("metrics", (METRICS_PORT,), namespace=args.cluster.monitoring_namespace),),
    )


def values(args: RightSizingArgs) -> dict[str, Any]:
    # A single recommender: the chart grants it no lease for leader election, and a
    # restart only delays recommendations (they are kept in checkpoints).
    return {
        "fullnameOverride": RELEASE,
        "podLabels": ownership_labels(args.owner),
        "recommender": {
            "enabled": True,
            "replicaCount": 1,
            "revisionHistoryLimit": 3,
            "image": {"pullPolicy": "IfNotPresent"},
            "extraArgs": {"v": "2"},
            "resources": {kind: dict(amounts) for kind, amounts in args.resources.items()},
            "podMonitor": {"enabled": True, "labels": SELECTED_LABEL},
        },
        "updater": {"enabled": False},
        "admissionController": {"enabled": False, "generateCertificate": False},
        "metrics-server": {"enabled": False},
    }


def autoscaler_spec(target: VpaTarget, bounds: Bounds) -> dict[str, Any]:
    return {
        "targetRef": {"apiVersion": target.api_version, "kind": target.kind, "name": target.target_name},
        "updatePolicy": {"updateMode": UPDATE_MODE},
        "resourcePolicy": {
            "containerPolicies": [
                {
                    "containerName": target.container,
                    "controlledResources": list(RESOURCES),
                    "controlledValues": "RequestsAndLimits",
                    "minAllowed": dict(bounds.min_allowed),
                    "maxAllowed": dict(bounds.max_allowed),
                },
                # Containers the project does not size (sidecars): no recommendation.
                {"containerName": "*", "mode": "Off"},
            ]
        },
    }


class RightSizing(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    autoscalers: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: RightSizingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:cost:RightSizing", name, None, opts)
        labels = kubernetes_labels(args.owner, name=CHART, instance=name, component="right-sizing")
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation(args))
        # Waits until the recommender runs: its CRDs exist for the objects below.
        self.release = charts.release(
            f"{name}-release",
            RELEASE,
            charts.Chart(CHART, CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            values(args),
            pulumi.ResourceOptions(parent=self),
        )
        targets = _distinct((*args.targets, recommender_target(args.namespace)))
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.release, *args.ready])
        self.autoscalers = {
            f"{target.namespace}/{target.name}": k8s.apiextensions.CustomResource(
                f"{name}-{target.namespace}-{target.name}",
                api_version=API_VERSION,
                kind="VerticalPodAutoscaler",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=target.name, namespace=target.namespace, labels=labels),
                spec=autoscaler_spec(target, args.bounds),
                opts=after,
            )
            for target in targets
        }
        self.register_outputs({"namespace": self.namespace.metadata.name, "autoscalers": sorted(self.autoscalers)})


def _distinct(targets: Sequence[VpaTarget]) -> tuple[VpaTarget, ...]:
    """Each VerticalPodAutoscaler once: two for one name in one namespace would be one object."""
    seen: set[tuple[str, str]] = set()
    for target in targets:
        key = (target.namespace, target.name)
        if key in seen:
            raise ValueError(f"two VerticalPodAutoscalers named {target.name} in namespace {target.namespace}")
        seen.add(key)
    return tuple(targets)
