"""ChaosMesh: Chaos Mesh on a cluster, from its upstream chart at one pinned version, able
to touch the app's namespace and nothing else (issue #18).

**Scoped to one namespace.** `clusterScoped: false` with `controllerManager.targetNamespace`
set to the app's namespace: the chart binds the controller's and the dashboard's
target-namespace roles (pods, chaos objects) there with RoleBindings instead of
ClusterRoleBindings, and the controller selects pods only there (a selector naming any
other namespace is refused). What stays cluster-wide is read-only: nodes (api-zone-loss
selects by node labels), persistent volumes, and access reviews.

**The dashboard** runs with `securityMode: true`: every user signs in with a Kubernetes
token and sees and does only what that token may (the dashboard checks each request
with an access review). Its Service is a ClusterIP, with no Ingress: reach it with
`kubectl port-forward`, which takes cluster credentials first. The component adds a
read-only identity for it in the app's namespace (`chaos-dashboard-viewer`, Role
`chaos-mesh-viewer`), whose short-lived tokens are for looking, not for changing.

**chaos-daemon is privileged.** It enters the API's pods' namespaces from the host (host
PID, the container runtime's socket, /sys) to inject network, HTTP, time and stress
faults, so its namespace is Pod Security `privileged`, under a reviewed waiver
(policies/waivers.yaml), default-deny like every other, allowing only what its pods need:
DNS, the API server, each other, the API server's webhook calls, the controller's
StatusChecks to the steady-state guard, and the app's pods' lookups on the chaos DNS
server (DNSChaos points them there), which forwards what it does not fail to the node's
resolver.

The runtime is containerd on its default socket (EKS, GKE and kind all run it).

Values were read in chaos-mesh/chaos-mesh tag v2.8.3, helm/chaos-mesh/values.yaml and
templates/{controller-manager-rbac,controller-manager-deployment,chaos-daemon-daemonset,
chaos-dashboard-deployment,chaos-dashboard-rbac,dns-deployment,dns-service}.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import charts
from components.labels import Ownership, kubernetes_labels, label_value
from components.network_policies import namespace_selector, ports

meta = k8s.meta.v1
networking = k8s.networking.v1
rbac = k8s.rbac.v1
core = k8s.core.v1

REPOSITORY = "https://charts.chaos-mesh.org"
CHART = "chaos-mesh"
# The newest patch of the 2.8 line (tag v2.8.3, 2026-06-09), whose CRDs the vendored
# schemas are (preflight/crd-schemas/chaos-mesh.org).
CHART_VERSION = "2.8.3"
NAMESPACE = "chaos-mesh"
RELEASE = "chaos-mesh"
# The chart's defaults: the controller's webhook port (controllerManager.env.WEBHOOK_PORT),
# the chaos DNS server's pod port (its Service maps 53 to it).
WEBHOOK_PORT = 10250
DNS_SERVER_PORT = 5353
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
# pod-failure swaps a pod's images for this one; the chart's default is a moving tag of a
# frozen registry (gcr.io/google-containers/pause:latest).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# The chart's labels on its pods (templates/_helpers.tpl: chaos-mesh.selectors, plus the component).
CHART_SELECTOR = {"app.kubernetes.io/name": CHART, "app.kubernetes.io/instance": RELEASE}
DASHBOARD_VIEWER = "chaos-dashboard-viewer"
READ = ("get", "list", "watch")
VIEWER_ROLE = "chaos-mesh-viewer"
# Every kind this project declares, and what the workflows create from them.
CHAOS_RESOURCES = (
    "podchaos",
    "networkchaos",
    "httpchaos",
    "dnschaos",
    "timechaos",
    "stresschaos",
    "iochaos",
    "schedules",
    "workflows",
    "workflownodes",
    "statuschecks",
)


def component_selector(component: str) -> dict[str, str]:
    return {**CHART_SELECTOR, "app.kubernetes.io/component": component}


CONTROLLER = component_selector("controller-manager")
DNS_SERVER = component_selector("chaos-dns-server")


@dataclass(frozen=True)
class GuardPath:
    """Where the controller's StatusChecks go: the steady-state guard's pods and port."""

    namespace: str
    labels: dict[str, str]
    port: int


@dataclass(frozen=True)
class ChaosMeshArgs:
    owner: Ownership
    cluster: charts.Cluster
    # The one namespace Chaos Mesh may touch: the app's.
    target_namespace: str
    guard: GuardPath
    # The controller's and the dashboard's time zone (the Schedules carry theirs anyway).
    time_zone: str = "UTC"
    chart_version: str = CHART_VERSION
    namespace: str = NAMESPACE
    # Controller replicas (one leads; the chart's default is three).
    replicas: int = 1
    runtime: str = "containerd"
    socket_path: str = CONTAINERD_SOCKET
    # What must exist first (the target namespace: the chart binds its roles there, and
    # the dashboard's viewer lives there); filled in by the caller.
    target_namespace_ready: tuple[pulumi.Resource, ...] = ()


def values(args: ChaosMeshArgs) -> dict[str, Any]:
    """The chart's values (helm/chaos-mesh/values.yaml at v2.8.3)."""
    # Beside the chart's own labels (which hold app.kubernetes.io/*): who owns and pays.
    custom = {key: label_value(value) for key, value in _ownership(args.owner).items()}
    return {
        "clusterScoped": False,
        "customLabels": custom,
        "timezone": args.time_zone,
        # pprof stays off: nothing scrapes profiles here.
        "enableProfiling": False,
        "controllerManager": {
            "targetNamespace": args.target_namespace,
            "replicaCount": args.replicas,
            "allowHostNetworkTesting": False,
            "service": {"type": "ClusterIP"},
            "podChaos": {"podFailure": {"pauseImage": PAUSE_IMAGE}},
        },
        "chaosDaemon": {
            "runtime": args.runtime,
            "socketPath": args.socket_path,
            "privileged": True,
            "hostNetwork": False,
            # The controller talks to the daemons over mutual TLS (the chart's certificates).
            "mtls": {"enabled": True},
        },
        "dashboard": {
            "create": True,
            "securityMode": True,
            "gcpSecurityMode": {"enabled": False},
            "service": {"type": "ClusterIP"},
            "ingress": {"enabled": False},
            "persistentVolume": {"enabled": False},
        },
        # DNSChaos needs it.
        "dnsServer": {"create": True},
        # The cluster's Prometheus is the monitoring stack's.
        "prometheus": {"create": False},
    }


def _ownership(owner: Ownership) -> dict[str, str]:
    return {"team": owner.team, "cost-center": owner.cost_center, "environment": owner.environment}


def _both(port: int) -> list[networking.NetworkPolicyPortArgs]:
    return ports([port], "UDP") + ports([port], "TCP")


def extra_policies(args: ChaosMeshArgs) -> dict[str, networking.NetworkPolicySpecArgs]:
    """What the namespace's own pods need beyond its isolation (charts.namespace), each
    for the pods that need it."""
    guard = networking.NetworkPolicyPeerArgs(
        namespace_selector=namespace_selector(args.guard.namespace),
        pod_selector=meta.LabelSelectorArgs(match_labels=dict(args.guard.labels)),
    )
    app_pods = networking.NetworkPolicyPeerArgs(namespace_selector=namespace_selector(args.target_namespace))
    anywhere = networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr="0.0.0.0/0"))
    return {
        # The workflows' StatusChecks: the controller asks the steady-state guard.
        "allow-controller-to-steady-state-guard": networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=CONTROLLER),
            policy_types=["Egress"],
            egress=[networking.NetworkPolicyEgressRuleArgs(to=[guard], ports=ports([args.guard.port]))],
        ),
        # DNSChaos points the app's pods at the chaos DNS server.
        "allow-dns-server-clients": networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=DNS_SERVER),
            policy_types=["Ingress"],
            ingress=[networking.NetworkPolicyIngressRuleArgs(from_=[app_pods], ports=_both(DNS_SERVER_PORT))],
        ),
        # It forwards every name it does not fail to the node's resolver (dnsPolicy:
        # Default), whose address is the platform's (the VPC's, the metadata server, a
        # laptop's Docker): port 53 anywhere, for the DNS server's pods alone.
        "allow-dns-server-upstream": networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(match_labels=DNS_SERVER),
            policy_types=["Egress"],
            egress=[networking.NetworkPolicyEgressRuleArgs(to=[anywhere], ports=_both(53))],
        ),
    }


def viewer_rules() -> list[rbac.PolicyRuleArgs]:
    return [
        rbac.PolicyRuleArgs(api_groups=["chaos-mesh.org"], resources=list(CHAOS_RESOURCES), verbs=list(READ)),
        rbac.PolicyRuleArgs(api_groups=[""], resources=["pods", "events"], verbs=list(READ)),
    ]


class ChaosMesh(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    network_policies: dict[str, networking.NetworkPolicy]
    viewer: core.ServiceAccount

    def __init__(self, name: str, args: ChaosMeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:chaos:ChaosMesh", name, None, opts)
        if args.target_namespace == args.namespace:
            raise ValueError(f"Chaos Mesh's target namespace is its own ({args.namespace}); expected the app's")
        labels = kubernetes_labels(args.owner, name="chaos-mesh", instance=name, component="chaos")
        isolation = charts.Isolation(
            cluster=args.cluster,
            # chaos-daemon: host PID, host paths, privileged (a reviewed waiver says why).
            pod_security="privileged",
            ingress=args.cluster.webhook_callers(WEBHOOK_PORT),
        )
        self.namespace = charts.namespace(f"{name}-namespace", args.namespace, labels, self, isolation)
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        self.network_policies = {
            policy: networking.NetworkPolicy(
                f"{name}-{policy}",
                metadata=meta.ObjectMetaArgs(name=policy, namespace=args.namespace, labels=labels),
                spec=spec,
                opts=in_namespace,
            )
            for policy, spec in extra_policies(args).items()
        }
        # The chart binds its roles in the target namespace: it must exist first.
        ready = [self.namespace, *self.network_policies.values(), *args.target_namespace_ready]
        self.release = charts.release(
            f"{name}-release",
            RELEASE,
            charts.Chart(CHART, REPOSITORY, args.chart_version),
            self.namespace.metadata.name,
            values(args),
            pulumi.ResourceOptions(parent=self, depends_on=ready),
        )
        self._viewer(name, args, labels)
        self.register_outputs({"namespace": self.namespace.metadata.name, "targetNamespace": args.target_namespace})

    def _viewer(self, name: str, args: ChaosMeshArgs, labels: dict[str, str]) -> None:
        """A read-only dashboard login in the app's namespace."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.target_namespace_ready))

        def metadata(object_name: str) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=object_name, namespace=args.target_namespace, labels=labels)

        self.viewer = core.ServiceAccount(
            f"{name}-dashboard-viewer",
            metadata=metadata(DASHBOARD_VIEWER),
            automount_service_account_token=False,
            opts=opts,
        )
        role = rbac.Role(f"{name}-viewer-role", metadata=metadata(VIEWER_ROLE), rules=viewer_rules(), opts=opts)
        rbac.RoleBinding(
            f"{name}-viewer-binding",
            metadata=metadata(VIEWER_ROLE),
            role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name),
            subjects=[
                rbac.SubjectArgs(kind="ServiceAccount", name=self.viewer.metadata.name, namespace=args.target_namespace)
            ],
            opts=opts,
        )
