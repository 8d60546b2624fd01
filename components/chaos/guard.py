"""SteadyStateGuard: `ops chaos guard` beside the API, the HTTP check every experiment's
Workflow asks while its fault runs (workflows.py).

An ops service (components/ops_service.py), the canary judge's shape: the ops image by
digest, non-root, read-only, no token, outside the mesh. In the app's namespace, denied
by default: the Chaos Mesh controller's pods alone may call it (they run the workflows'
StatusChecks), and it reaches Prometheus and DNS alone. Prometheus's namespace denies by
default too, so a policy there admits the guard's pods, and only them, on its port.

The alerts it watches are the API's burn-rate alerts, by name, as the monitoring rules
generate them (components/monitoring/rules.py `slo_alerts`), passed here by the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import ops_service
from components.labels import Ownership, kubernetes_labels
from components.network_policies import EgressRule
from components.ops_service import OPS_USER, Caller, OpsServiceSpec

core = k8s.core.v1
meta = k8s.meta.v1
networking = k8s.networking.v1

NAME = "chaos-steady-state-guard"
PORT = 8080
PATH = "/v1/steady-state"
# Prometheus slower than this is a 503: below the StatusCheck's own timeout (workflows.Timing).
PROMETHEUS_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class SteadyStateGuardArgs:
    owner: Ownership
    # The app's namespace: where the guard runs, and the namespace its alerts carry.
    namespace: str
    # The ops image, pinned by digest.
    image: str
    prometheus_address: str
    prometheus_namespace: str
    # The API's burn-rate alerts: any of them firing breaks the steady state.
    alerts: tuple[str, ...]
    # The Chaos Mesh controller's pods, its only caller.
    controller: Caller
    prometheus_port: int = 9090
    prometheus_labels: Mapping[str, str] = field(default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    # A pending alert breaks it too: its condition already holds, only its `for` has not passed.
    pending: bool = True
    node_local_dns: str | None = None
    # True where the namespace is enrolled in the mesh: the guard's pods stay out of it.
    meshed: bool = False
    # What must exist first (its namespace, Prometheus's); filled in by the caller.
    ready: tuple[pulumi.Resource, ...] = ()


def guard_selector(environment: str) -> dict[str, str]:
    """The guard's pods: what its Service selects and the controller's egress names."""
    return ops_service.service_selector(NAME, environment)


def guard_url(namespace: str) -> str:
    return f"http://{ops_service.service_host(NAME, namespace)}:{PORT}{PATH}"


def command(args: SteadyStateGuardArgs) -> tuple[str, ...]:
    alerts = [option for alert in args.alerts for option in ("--alert", alert)]
    pending = ("--pending",) if args.pending else ()
    return (
        "chaos",
        "guard",
        "--listen",
        f"0.0.0.0:{PORT}",
        "--prometheus",
        args.prometheus_address,
        "--namespace",
        args.namespace,
        "--timeout-seconds",
        str(PROMETHEUS_TIMEOUT_SECONDS),
        *pending,
        *alerts,
    )


def spec(args: SteadyStateGuardArgs) -> OpsServiceSpec:
    return OpsServiceSpec(
        name=NAME,
        component="chaos",
        image=args.image,
        args=command(args),
        port=PORT,
        caller=args.controller,
        prometheus=EgressRule(
            "prometheus",
            (args.prometheus_port,),
            namespace=args.prometheus_namespace,
            pod_labels=dict(args.prometheus_labels),
        ),
        run_as_user=OPS_USER,
        node_local_dns=args.node_local_dns,
        meshed=args.meshed,
    )


class SteadyStateGuard(pulumi.ComponentResource):
    service_account: core.ServiceAccount
    deployment: k8s.apps.v1.Deployment
    service: core.Service
    network_policies: dict[str, networking.NetworkPolicy]
    url: str

    def __init__(self, name: str, args: SteadyStateGuardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:chaos:SteadyStateGuard", name, None, opts)
        if not args.alerts:
            raise ValueError("the steady-state guard watches no alert; expected the API's burn-rate alerts")
        created = ops_service.create(self, name, args.namespace, args.owner, spec(args), args.ready)
        instance = f"{NAME}-{args.owner.environment}"
        labels = kubernetes_labels(args.owner, name=NAME, instance=instance, component="chaos")
        self.network_policies = {
            **created.network_policies,
            f"allow-ingress-{NAME}": ops_service.prometheus_admission(
                self,
                name,
                NAME,
                args.namespace,
                guard_selector(args.owner.environment),
                (args.prometheus_namespace, args.prometheus_labels, args.prometheus_port),
                labels,
                args.ready,
            ),
        }
        self.selector = created.selector
        self.service_account = created.service_account
        self.deployment, self.service = created.deployment, created.service
        self.url = guard_url(args.namespace)
        self.register_outputs({"serviceName": NAME, "url": self.url})
