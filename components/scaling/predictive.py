"""PredictiveScaling: the API scaled by KEDA ahead of load, and node capacity held ahead of
forecast peaks.

The API's ScaledObject replaces the CPU HPA (AppService creates none then). The HPA KEDA
makes from it computes replicas per trigger and takes the highest, so:
- the forecast peak of requests/s over the next lead time, divided by what one replica
  serves, scales out before the load arrives;
- the current request rate, by the same divisor, is a floor when the forecast is low;
- CPU utilisation, the old HPA's rule, is a floor when requests get heavier.
A forecast counts only while the forecaster is fresh (its last success within
`forecast_max_age_seconds`): a frozen one stops counting, so it cannot hold replicas up,
and the floors take over. Prometheus unreachable is KEDA's `fallback`: after a few
failures each Prometheus trigger asks for the current replicas (at least the minimum),
so an outage never drops capacity; CPU still scales out.

Headroom: placeholder pods, sized like an API pod, at PriorityClass value -10. That is
cluster-autoscaler's expendable cutoff (--expendable-pods-priority-cutoff, default -10):
pods below it never make the autoscaler add a node, pods at it do, and every pod of
priority 0 or more preempts them. So pending placeholders add nodes ahead of a forecast
peak, and API pods scheduled later take their place at once instead of waiting for a
node. Their count is the forecast peak (plus a margin) in API pods beyond the replicas
the API runs now, at most what the cost cap buys; with no fresh forecast it is zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pulumi
import pulumi_kubernetes as k8s

from components.api_metrics import PROBE_ROUTES, REQUESTS
from components.hardening import container_security, pod_security
from components.labels import Ownership, kubernetes_labels
from components.ops_service import NO_SIDECAR
from components.workload.specs import behavior

core = k8s.core.v1
meta = k8s.meta.v1

KEDA_API = "keda.sh/v1alpha1"
# The insight service's series (its contract): the highest requests/s forecast over the
# next window, and when it last completed a cycle.
FORECAST_PEAK = "projectai_forecast_peak"
LAST_SUCCESS = "projectai_insight_last_success_timestamp_seconds"
SIGNAL = "requests_per_second"
# kube-state-metrics' view of an HPA: what the scale target runs now.
HPA_REPLICAS = "kube_horizontalpodautoscaler_status_current_replicas"
# The window the current request rate is averaged over: a few scrapes, so one missed
# scrape does not empty it.
RATE_WINDOW = "2m"
# cluster-autoscaler's expendable-pods cutoff: the lowest priority that still adds nodes.
HEADROOM_PRIORITY = -10
# A placeholder's idle process: ends on SIGTERM (as PID 1 it would ignore it otherwise).
IDLE = "import signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); signal.pause()"
# Its liveness: the interpreter starts. Nothing else can fail in a process that waits.
ALIVE = ["python", "-S", "-c", ""]


@dataclass(frozen=True)
class ScaleTarget:
    """What KEDA scales: the API's Deployment, or its Argo Rollout (which has the scale
    subresource KEDA uses, like a Deployment)."""

    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class HeadroomArgs:
    # One placeholder's requests, an API pod's: it holds the room one replica needs.
    cpu: str
    memory: str
    # The API's own image (pinned, from the allowed registry), idling: no other image to
    # mirror, and nodes pull it ahead of the API pods that replace the placeholders.
    image: str
    run_as_user: int
    # The share of the forecast peak held beyond it: room for the forecast's error.
    margin: float
    max_replicas: int
    # USD per month: the cap, and one placeholder's share of a node, as if it ran all month.
    monthly_cost_cap: float
    pod_monthly_price: float
    # The API's namespace is in the mesh: placeholders stay out (they serve nothing).
    meshed: bool = False

    @property
    def replica_cap(self) -> int:
        """The most placeholders: the configured maximum, or fewer if the cost cap buys fewer."""
        affordable = int(Decimal(str(self.monthly_cost_cap)) // Decimal(str(self.pod_monthly_price)))
        return min(self.max_replicas, affordable)


@dataclass(frozen=True)
class PredictiveScalingArgs:
    owner: Ownership
    # The API's namespace: the ScaledObjects and placeholders live there.
    namespace: str
    target: ScaleTarget
    prometheus_address: str
    min_replicas: int
    max_replicas: int
    # Requests/s one API replica serves at its target: the divisor of both request triggers.
    requests_per_replica: float
    target_cpu_utilization: int
    scale_down_stabilization_seconds: int
    # The forecast peak's window label (the lead time), e.g. "15m".
    forecast_window: str
    forecast_max_age_seconds: int
    polling_seconds: int = 15
    # Consecutive failed queries before KEDA's fallback applies.
    fallback_failures: int = 3
    headroom: HeadroomArgs | None = None

    @property
    def autoscaler_name(self) -> str:
        """The HPA KEDA creates for the API, named here so the headroom query can read it."""
        return f"keda-hpa-{self.target.name}"


def forecast_query(args: PredictiveScalingArgs) -> str:
    """The forecast peak of requests/s, only while the forecaster is fresh (else no value,
    which KEDA reads as 0)."""
    namespace = f'namespace="{args.namespace}"'
    peak = f'max({FORECAST_PEAK}{{{namespace},signal="{SIGNAL}",window="{args.forecast_window}"}})'
    fresh = f"(time() - max({LAST_SUCCESS}{{{namespace}}}) < {args.forecast_max_age_seconds})"
    return f"{peak} and on() {fresh}"


def current_load_query(args: PredictiveScalingArgs) -> str:
    """The API's request rate now, as the alerts count it (probes and scrapes aside)."""
    return f'sum(rate({REQUESTS}{{namespace="{args.namespace}",route!~"{PROBE_ROUTES}"}}[{RATE_WINDOW}]))'


def headroom_query(args: PredictiveScalingArgs, headroom: HeadroomArgs) -> str:
    """Placeholders wanted: API pods the forecast peak (plus margin) needs, at most the
    API's maximum, beyond the replicas it runs now; never negative."""
    needed = f"ceil(({forecast_query(args)}) * {1 + headroom.margin:g} / {args.requests_per_replica:g})"
    running = f'max({HPA_REPLICAS}{{namespace="{args.namespace}",horizontalpodautoscaler="{args.autoscaler_name}"}})'
    return f"clamp_min(clamp_max({needed}, {args.max_replicas}) - {running}, 0)"


def prometheus_trigger(name: str, address: str, query: str, threshold: float) -> dict[str, object]:
    # AverageValue: replicas = ceil(value / threshold), and KEDA's fallback needs it.
    return {
        "type": "prometheus",
        "name": name,
        "metricType": "AverageValue",
        "metadata": {"serverAddress": address, "query": query, "threshold": f"{threshold:g}"},
    }


def api_scaled_object(args: PredictiveScalingArgs) -> dict[str, object]:
    threshold = args.requests_per_replica
    return {
        "scaleTargetRef": {"apiVersion": args.target.api_version, "kind": args.target.kind, "name": args.target.name},
        "pollingInterval": args.polling_seconds,
        "minReplicaCount": args.min_replicas,
        "maxReplicaCount": args.max_replicas,
        "fallback": {
            "failureThreshold": args.fallback_failures,
            "replicas": args.min_replicas,
            "behavior": "currentReplicasIfHigher",
        },
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": args.autoscaler_name,
                "behavior": behavior(args.scale_down_stabilization_seconds),
            }
        },
        "triggers": [
            prometheus_trigger("forecast", args.prometheus_address, forecast_query(args), threshold),
            prometheus_trigger("current-load", args.prometheus_address, current_load_query(args), threshold),
            {
                "type": "cpu",
                "name": "cpu",
                "metricType": "Utilization",
                "metadata": {"value": str(args.target_cpu_utilization)},
            },
        ],
    }


def headroom_scaled_object(args: PredictiveScalingArgs, headroom: HeadroomArgs, name: str) -> dict[str, object]:
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "pollingInterval": args.polling_seconds,
        # Zero placeholders until a forecast peak exceeds what the API runs; held this
        # long after the last one, as the API's replicas are.
        "minReplicaCount": 0,
        "cooldownPeriod": args.scale_down_stabilization_seconds,
        "maxReplicaCount": headroom.replica_cap,
        # Prometheus unreachable: no placeholders (the API's own triggers hold its pods).
        "fallback": {"failureThreshold": args.fallback_failures, "replicas": 0},
        "triggers": [prometheus_trigger("headroom", args.prometheus_address, headroom_query(args, headroom), 1)],
    }


def placeholder_pod(headroom: HeadroomArgs, priority_class: object) -> core.PodSpecArgs:
    resources = {"cpu": headroom.cpu, "memory": headroom.memory}
    return core.PodSpecArgs(
        priority_class_name=priority_class,
        # Preempted pods go at once: the API pod waiting for their room starts sooner.
        termination_grace_period_seconds=0,
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=pod_security(headroom.run_as_user),
        containers=[
            core.ContainerArgs(
                name="placeholder",
                image=headroom.image,
                image_pull_policy="IfNotPresent",
                command=["python", "-S", "-c", IDLE],
                resources=core.ResourceRequirementsArgs(requests=resources, limits=resources),
                security_context=container_security(headroom.run_as_user),
                liveness_probe=core.ProbeArgs(
                    exec_=core.ExecActionArgs(command=ALIVE), period_seconds=60, timeout_seconds=5
                ),
                readiness_probe=core.ProbeArgs(
                    exec_=core.ExecActionArgs(command=ALIVE), period_seconds=60, timeout_seconds=5
                ),
            )
        ],
    )


class PredictiveScaling(pulumi.ComponentResource):
    scaled_object: k8s.apiextensions.CustomResource
    priority_class: k8s.scheduling.v1.PriorityClass | None
    placeholders: k8s.apps.v1.Deployment | None
    headroom_scaled_object: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, args: PredictiveScalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:scaling:PredictiveScaling", name, None, opts)
        labels = kubernetes_labels(
            args.owner, name=args.target.name, instance=f"{args.target.name}-{args.owner.environment}", component="api"
        )
        child = pulumi.ResourceOptions(parent=self)
        self.scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-api",
            api_version=KEDA_API,
            kind="ScaledObject",
            metadata=meta.ObjectMetaArgs(name=args.target.name, namespace=args.namespace, labels=labels),
            spec=api_scaled_object(args),
            opts=child,
        )
        self.priority_class = self.placeholders = self.headroom_scaled_object = None
        if args.headroom is not None:
            self._headroom(name, args, args.headroom, child)
        self.register_outputs({"scaledObject": self.scaled_object.metadata["name"]})

    def _headroom(
        self, name: str, args: PredictiveScalingArgs, headroom: HeadroomArgs, child: pulumi.ResourceOptions
    ) -> None:
        if headroom.replica_cap < 1:
            raise ValueError(
                f"headroom: a cost cap of {headroom.monthly_cost_cap:g} USD a month buys no placeholder at "
                f"{headroom.pod_monthly_price:g} USD each, and max_replicas is {headroom.max_replicas}"
            )
        placeholder = f"{args.target.name}-headroom"
        instance = f"{placeholder}-{args.owner.environment}"
        labels = kubernetes_labels(args.owner, name=placeholder, instance=instance, component="headroom")
        selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
        # Cluster-scoped: named after the namespace, so two stacks on a cluster do not clash.
        self.priority_class = k8s.scheduling.v1.PriorityClass(
            f"{name}-headroom-priority",
            metadata=meta.ObjectMetaArgs(name=f"{args.namespace}-headroom", labels=labels),
            value=HEADROOM_PRIORITY,
            global_default=False,
            # Placeholders wait for room; they never take it from anything.
            preemption_policy="Never",
            description="Placeholder pods holding node capacity ahead of forecast peaks; any workload preempts them.",
            opts=child,
        )
        self.placeholders = k8s.apps.v1.Deployment(
            f"{name}-headroom",
            metadata=meta.ObjectMetaArgs(name=placeholder, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # Zero until KEDA asks; KEDA owns the count from then on (ignore_changes).
                replicas=0,
                selector=meta.LabelSelectorArgs(match_labels=selector),
                template=core.PodTemplateSpecArgs(
                    metadata=meta.ObjectMetaArgs(labels={**labels, **(NO_SIDECAR if headroom.meshed else {})}),
                    spec=placeholder_pod(headroom, self.priority_class.metadata.name),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec.replicas"]),
        )
        self.headroom_scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-headroom-scaler",
            api_version=KEDA_API,
            kind="ScaledObject",
            metadata=meta.ObjectMetaArgs(name=placeholder, namespace=args.namespace, labels=labels),
            spec=headroom_scaled_object(args, headroom, placeholder),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.placeholders]),
        )
