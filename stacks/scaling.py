"""`predictiveScaling` (PredictiveScalingConfig in stacks/model.py): KEDA scales the API on
the insight service's forecast, with current load and CPU as floors, and placeholder pods
hold node capacity ahead of forecast peaks (components/scaling). Off by default: the API
keeps its CPU HPA.

The API's replica bounds stay `app.replicas` (the rate limiter's fallback share relies
on the minimum, whichever autoscaler runs), its CPU target `app.autoscaling`.
"""

from __future__ import annotations

from components.monitoring.stack import prometheus_address
from components.scaling import HeadroomArgs, KedaArgs, PredictiveScalingArgs, ScaleTarget
from components.scaling.keda import NAMESPACE as KEDA_NAMESPACE
from components.workload.specs import scale_target
from stacks.model import PredictiveScalingConfig, WorkloadStack
from stacks.workload import cluster_facts, controller_replicas, ownership


def prometheus_clients(scaling: PredictiveScalingConfig) -> tuple[str, ...]:
    """The namespaces that query Prometheus for predictive scaling (MonitoringStackArgs'
    query_namespaces): KEDA's operator, where enabled."""
    return (KEDA_NAMESPACE,) if scaling.enabled else ()


def keda_args(config: WorkloadStack, scaling: PredictiveScalingConfig) -> KedaArgs:
    return KedaArgs(
        owner=ownership(config),
        chart_version=scaling.keda_chart_version,
        cluster=cluster_facts(config),
        replicas=controller_replicas(config),
    )


def predictive_scaling_args(config: WorkloadStack, scaling: PredictiveScalingConfig) -> PredictiveScalingArgs:
    app = config.app
    assert scaling.requests_per_replica is not None, "validated: required when enabled"
    headroom = scaling.headroom
    return PredictiveScalingArgs(
        owner=ownership(config),
        namespace=app.namespace,
        target=ScaleTarget(*scale_target(config.delivery.strategy), app.name),
        prometheus_address=prometheus_address(config.monitoring.namespace),
        min_replicas=app.replicas.min,
        max_replicas=app.replicas.max,
        requests_per_replica=scaling.requests_per_replica,
        target_cpu_utilization=app.autoscaling.target_cpu_utilization,
        scale_down_stabilization_seconds=app.autoscaling.scale_down_stabilization_seconds,
        forecast_window=f"{scaling.lead_time_minutes}m",
        forecast_max_age_seconds=scaling.forecast_max_age_seconds,
        polling_seconds=scaling.polling_seconds,
        fallback_failures=scaling.fallback_failures,
        headroom=HeadroomArgs(
            cpu=app.resources.requests.cpu,
            memory=app.resources.requests.memory,
            image=app.image.reference,
            run_as_user=app.run_as_user,
            margin=headroom.margin,
            max_replicas=headroom.max_replicas,
            monthly_cost_cap=headroom.monthly_cost_cap,
            pod_monthly_price=headroom.pod_monthly_price,
            meshed=config.mesh.enabled,
        )
        if headroom
        else None,
    )
