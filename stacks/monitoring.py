"""Turns the typed stack config into monitoring arguments; shared by the roles that run the API."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pulumi

from components.delivery.argo_rollouts import NAMESPACE as ROLLOUTS_NAMESPACE
from components.monitoring.alerting import AlertingArgs
from components.monitoring.rules import RuleArgs
from components.monitoring.stack import GRAFANA_ADMIN_SECRET, MonitoringStackArgs
from components.vault import reloader
from stacks.heal import alert_healing
from stacks.model import WorkloadStack
from stacks.scaling import prometheus_clients
from stacks.workload import cluster_facts, ownership


def alerting_args(config: WorkloadStack) -> AlertingArgs:
    monitoring = config.monitoring
    channels = dict(monitoring.team_channels) or {config.team: f"#{config.team}-alerts"}
    return AlertingArgs(
        team_channels=channels,
        low_noise_channel=monitoring.low_noise_channel,
        healing=alert_healing(config, config.self_healing),
    )


def rule_args(config: WorkloadStack) -> RuleArgs:
    monitoring = config.monitoring
    return RuleArgs(
        namespace=config.app.namespace,
        team=config.team,
        runbook_base=monitoring.runbook_base,
        availability_slo=monitoring.availability_slo,
        latency_slo=monitoring.latency_slo,
        latency_threshold_seconds=monitoring.latency_threshold_seconds,
        escalate_after=monitoring.escalate_after,
        secret_expiry=tuple(
            (name, int(datetime.combine(expires, time(), UTC).timestamp()))
            for name, expires in sorted(config.secrets.expiry.items())
        ),
        secret_warning_days=config.secrets.warning_days,
    )


def query_namespaces(config: WorkloadStack) -> tuple[str, ...]:
    """Who asks Prometheus: the Rollouts controller runs canary and blue-green analyses,
    the canary judge (in the app's namespace) compares the two versions, and KEDA's
    operator reads the forecast it scales on."""
    delivery = config.delivery
    keda = prometheus_clients(config.predictive_scaling)
    if delivery.strategy == "rolling":
        return keda
    judged = delivery.strategy == "canary" and delivery.canary.judge is not None
    return (ROLLOUTS_NAMESPACE, *((config.app.namespace,) if judged else ()), *keda)


def monitoring_stack_args(config: WorkloadStack) -> MonitoringStackArgs:
    monitoring = config.monitoring
    return MonitoringStackArgs(
        owner=ownership(config),
        alerting=alerting_args(config),
        kube_prometheus_stack_version=monitoring.kube_prometheus_stack_chart_version,
        otel_collector_version=monitoring.otel_collector_chart_version,
        namespace=monitoring.namespace,
        retention=monitoring.retention,
        storage_size=monitoring.storage_size,
        prometheus_replicas=monitoring.prometheus_replicas,
        prometheus_resources=(
            (monitoring.prometheus_resources.requests.cpu, monitoring.prometheus_resources.requests.memory),
            (monitoring.prometheus_resources.limits.cpu, monitoring.prometheus_resources.limits.memory),
        ),
        alertmanager_replicas=monitoring.alertmanager_replicas,
        traces_endpoint=monitoring.traces_endpoint,
        cluster=cluster_facts(config),
        telemetry_namespaces=(config.app.namespace,),
        query_namespaces=query_namespaces(config),
        # Grafana sets its admin password at start: a rotated one needs a restart.
        grafana_annotations=reloader.annotations((GRAFANA_ADMIN_SECRET,), rollout=False),
        stack=pulumi.get_stack(),
    )
