"""Third-party systems from their upstream Helm charts: one way to install a pinned chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import network_policies
from components.labels import pod_security_labels

# Creates what must exist in a component's namespace before its pods start (the Secrets
# they read), once the namespace exists; the component waits for what it returns.
NamespaceSetup = Callable[[k8s.core.v1.Namespace], list[pulumi.Resource]]


@dataclass(frozen=True)
class Chart:
    name: str
    repository: str
    version: str


@dataclass(frozen=True)
class Cluster:
    """What every platform component needs to know of the cluster it installs into."""

    kubernetes_version: str
    # A node-local DNS cache's address, allowed beside the cluster DNS service.
    node_local_dns: str | None
    monitoring_namespace: str
    ingress_namespace: str
    # The API server's endpoints: what controllers call, and where webhook calls come from.
    api_server_cidrs: tuple[str, ...]

    def webhook_callers(self, port: int) -> tuple[network_policies.IngressRule, ...]:
        """The API server calling an admission webhook on `port`: from outside the pod
        network, so by its endpoints' ranges."""
        return tuple(
            network_policies.IngressRule(f"webhook-{index}", (port,), cidr=cidr)
            for index, cidr in enumerate(self.api_server_cidrs)
        )


@dataclass(frozen=True)
class Isolation:
    """What a chart's namespace admits: its Pod Security level, and the only traffic its
    pods may send and receive (DNS, the API server and each other are always allowed)."""

    cluster: Cluster
    pod_security: str = "restricted"
    ingress: tuple[network_policies.IngressRule, ...] = ()
    egress: tuple[network_policies.EgressRule, ...] = ()
    # Prometheus scrapes pods in every namespace.
    egress_every_pod: bool = False


def namespace(
    logical_name: str, name: str, labels: dict[str, str], parent: pulumi.Resource, isolation: Isolation
) -> k8s.core.v1.Namespace:
    """The namespace a platform component's chart installs into, denied by default."""
    created = k8s.core.v1.Namespace(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name,
            labels={**labels, **pod_security_labels(isolation.cluster.kubernetes_version, isolation.pod_security)},
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    every_pod: dict[str, str] = {}
    specs = {
        "default-deny": network_policies.default_deny(),
        "allow-dns": network_policies.egress_to_dns(every_pod, isolation.cluster.node_local_dns),
        "allow-within-namespace": network_policies.within_namespace(every_pod),
        **{
            f"allow-egress-api-server-{index}": network_policies.egress_to(
                network_policies.EgressRule("api-server", network_policies.API_SERVER_PORTS, cidr=cidr), every_pod
            )
            for index, cidr in enumerate(isolation.cluster.api_server_cidrs)
        },
        **{f"allow-ingress-{r.name}": network_policies.ingress_from(r, every_pod) for r in isolation.ingress},
        **{f"allow-egress-{r.name}": network_policies.egress_to(r, every_pod) for r in isolation.egress},
    }
    if isolation.egress_every_pod:
        specs["allow-egress-every-pod"] = network_policies.egress_to_every_pod(every_pod)
    for policy, spec in specs.items():
        k8s.networking.v1.NetworkPolicy(
            f"{logical_name}-{policy}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=policy, namespace=name, labels=labels),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[created]),
        )
    return created


def release(
    logical_name: str,
    release_name: str,
    chart: Chart,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A Helm release at the chart's pinned version. Atomic: a failed install or upgrade
    rolls back, and Pulumi waits until the chart's workloads are ready, so what depends on
    it (CRDs, controllers) exists when it is created."""
    return k8s.helm.v3.Release(
        logical_name,
        name=release_name,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        atomic=True,
        values=values,
        opts=opts,
    )
