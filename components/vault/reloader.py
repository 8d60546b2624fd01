"""Reloader: restarts the API's pods when their database or cache Secret changes (a new
URL needs new connection pools), and Grafana when its admin Secret does (Grafana reads
it at start), so a rotated credential synced by External Secrets reaches the running
pods. The app re-reads its other secret files itself.

From its upstream chart at a pinned version, watching Argo Rollouts too. It restarts by
annotating the pod template, which leaves the fields Pulumi owns untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels
from components.network_policies import IngressRule

CHART_REPOSITORY = "https://stakater.github.io/stakater-charts"
METRICS_PORT = 9090
# On a workload: the Secrets whose change restarts it.
RELOAD_SECRETS = "secret.reloader.stakater.com/reload"
# On an Argo Rollout: restart its pods in place instead of starting a new canary, since a
# new credential is not a new release.
ROLLOUT_STRATEGY = {"reloader.stakater.com/rollout-strategy": "restart"}


@dataclass(frozen=True)
class ReloaderArgs:
    owner: Ownership
    chart_version: str
    # The namespaces whose workloads it restarts: the API's, and monitoring's (Grafana,
    # for a rotated admin password). Only workloads annotated for a Secret restart.
    watched_namespaces: tuple[str, ...]
    cluster: charts.Cluster
    namespace: str = "reloader"


def namespace_selector(namespaces: tuple[str, ...]) -> str:
    """A set-based label selector. Reloader's flag splits its value at commas and joins
    the parts again with commas before parsing it, so the list survives whole."""
    return f"kubernetes.io/metadata.name in ({','.join(sorted(namespaces))})"


def annotations(secret_names: tuple[str, ...], rollout: bool) -> dict[str, str]:
    """What a workload carries so that Reloader restarts it on a change of these Secrets."""
    if not secret_names:
        return {}
    return {RELOAD_SECRETS: ",".join(secret_names), **(ROLLOUT_STRATEGY if rollout else {})}


class Reloader(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ReloaderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:Reloader", name, None, opts)
        labels = kubernetes_labels(args.owner, name="reloader", instance=name, component="secrets")
        isolation = charts.Isolation(
            cluster=args.cluster,
            ingress=(IngressRule("metrics", (METRICS_PORT,), namespace=args.cluster.monitoring_namespace),),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        self.release = charts.release(
            f"{name}-release",
            "reloader",
            charts.Chart("reloader", CHART_REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            {
                "reloader": {
                    "isArgoRollouts": True,
                    "reloadStrategy": "annotations",
                    "namespaceSelector": namespace_selector(args.watched_namespaces),
                    "ignoreConfigMaps": True,
                    "readOnlyRootFileSystem": True,
                    "deployment": {
                        "labels": labels,
                        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                    },
                },
            },
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"namespace": self.namespace.metadata.name})
