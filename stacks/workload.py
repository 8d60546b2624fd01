"""Turns the typed stack config into AppService arguments; shared by every stack role
that runs the API."""

from __future__ import annotations

from urllib.parse import urlparse

from components.charts import Cluster
from components.delivery import AnalysisArgs, BlueGreenArgs, CanaryArgs, DeliveryArgs, judge
from components.delivery.argo_rollouts import NAMESPACE as ROLLOUTS_NAMESPACE
from components.delivery.argo_rollouts import PROMETHEUS_PORT
from components.delivery.args import JudgeArgs
from components.labels import Ownership
from components.monitoring.stack import prometheus_address
from components.workload import AppServiceArgs, Compute, EgressRule, IngressArgs
from stacks.model import CLUSTER_POD_CIDR, AwsRegionStack, GcpRegionStack, StackBase, WorkloadStack


def ownership(config: StackBase) -> Ownership:
    return Ownership(team=config.team, cost_center=config.cost_center, environment=config.environment)


def controller_replicas(config: StackBase) -> int:
    """Platform controllers run two replicas (one leads) where a stuck one costs the most."""
    return 2 if config.environment == "prod" else 1


def node_local_dns(config: WorkloadStack) -> str | None:
    return str(config.network.node_local_dns) if config.network.node_local_dns else None


def cluster_facts(config: WorkloadStack) -> Cluster:
    return Cluster(
        kubernetes_version=config.kubernetes.version,
        node_local_dns=node_local_dns(config),
        monitoring_namespace=config.monitoring.namespace,
        ingress_namespace=config.ingress.controller_namespace,
        api_server_cidrs=tuple(config.api_server_cidrs),
    )


def ingress_controller_cidrs(config: WorkloadStack) -> list[str]:
    """Where the ingress controller's pods get their addresses: the stack's own setting,
    else the region's platform (pods take VPC addresses on EKS, the pods' secondary
    range on GKE), else a laptop cluster's pod range."""
    if config.ingress.controller_cidrs:
        return list(config.ingress.controller_cidrs)
    if isinstance(config, GcpRegionStack):
        return [config.platform.pods_cidr]
    if isinstance(config, AwsRegionStack):
        return [config.platform.cidr]  # EKS pods take VPC addresses
    return [CLUSTER_POD_CIDR]


def judge_egress(config: WorkloadStack) -> tuple[EgressRule, ...]:
    """The Rollouts controller's way to the judge (a web metric provider), where there is one."""
    if config.delivery.strategy != "canary" or config.delivery.canary.judge is None:
        return ()
    port = JudgeArgs.port
    return (
        EgressRule(
            judge.NAME, (port,), namespace=config.app.namespace, pod_labels=judge.judge_selector(config.environment)
        ),
    )


def analysis_prometheus(config: WorkloadStack) -> str:
    """The Prometheus the analysis (and the judge) query: the config's, else the stack's own."""
    return config.delivery.prometheus_address or prometheus_address(config.monitoring.namespace)


def judge_args(config: WorkloadStack) -> JudgeArgs | None:
    """The statistical judge, where `delivery.canary.judge` is configured."""
    judge = config.delivery.canary.judge
    if judge is None:
        return None
    return JudgeArgs(
        image=judge.image.reference,
        rollouts_namespace=ROLLOUTS_NAMESPACE,
        prometheus_namespace=config.monitoring.namespace,
        prometheus_port=urlparse(analysis_prometheus(config)).port or PROMETHEUS_PORT,
        replicas=controller_replicas(config),
    )


def delivery_args(config: WorkloadStack) -> DeliveryArgs:
    delivery = config.delivery
    analysis = delivery.analysis
    return DeliveryArgs(
        strategy=delivery.strategy,
        analysis=AnalysisArgs(
            prometheus_address=analysis_prometheus(config),
            min_success_rate=analysis.min_success_rate,
            max_p99_latency_seconds=analysis.max_p99_latency_seconds,
            interval_seconds=analysis.interval_seconds,
            count=analysis.count,
            failure_limit=analysis.failure_limit,
            inconclusive_limit=analysis.inconclusive_limit,
        ),
        canary=CanaryArgs(
            weights=tuple(delivery.canary.weights),
            pause_seconds=delivery.canary.pause_seconds,
            mirror_percent=delivery.canary.mirror_percent,
            mirror_steps=delivery.canary.mirrored_steps(),
            judge=judge_args(config),
        ),
        blue_green=BlueGreenArgs(
            auto_promotion=delivery.blue_green.auto_promotion,
            scale_down_delay_seconds=delivery.blue_green.scale_down_delay_seconds,
            smoke_test_secret_name=delivery.smoke_test_secret_name,
            smoke_test_image=image.reference if (image := config.smoke_test_image()) else None,
        ),
        rollback_window_revisions=delivery.rollback_window_revisions,
        migration_deadline_seconds=delivery.migration_deadline_seconds,
    )


def app_service_args(config: WorkloadStack) -> AppServiceArgs:
    app, ingress = config.app, config.ingress
    return AppServiceArgs(
        owner=ownership(config),
        name=app.name,
        namespace=app.namespace,
        image=app.image.reference,
        version=app.image.version,
        ingress=IngressArgs(
            host=ingress.host,
            class_name=ingress.class_name,
            tls_secret_name=ingress.tls_secret_name,
            cluster_issuer=ingress.cluster_issuer,
            controller_namespace=ingress.controller_namespace,
        ),
        min_replicas=app.replicas.min,
        max_replicas=app.replicas.max,
        requests=Compute(cpu=app.resources.requests.cpu, memory=app.resources.requests.memory),
        limits=Compute(cpu=app.resources.limits.cpu, memory=app.resources.limits.memory),
        port=app.port,
        run_as_user=app.run_as_user,
        target_cpu_utilization=app.autoscaling.target_cpu_utilization,
        scale_down_stabilization_seconds=app.autoscaling.scale_down_stabilization_seconds,
        pre_stop_seconds=app.pre_stop_seconds,
        shutdown_seconds=app.shutdown_seconds,
        max_unavailable=app.max_unavailable,
        cluster=cluster_facts(config),
        egress=tuple(
            EgressRule(
                name=endpoint.name,
                ports=tuple(endpoint.ports),
                protocol=endpoint.protocol,
                cidr=endpoint.cidr,
                except_cidrs=tuple(endpoint.except_cidrs),
                namespace=endpoint.namespace,
                pod_labels=dict(endpoint.pod_labels),
            )
            for endpoint in config.network.egress
        ),
        delivery=delivery_args(config),
        settings={
            "APP_ENVIRONMENT": config.environment,
            "LOG_LEVEL": app.log_level,
            "APP_TRUSTED_PROXIES": ",".join(ingress_controller_cidrs(config)),
            "APP_SHUTDOWN_GRACE_SECONDS": str(app.drain_seconds),
            # With Redis down each replica enforces its share: the autoscaler's floor.
            "APP_RATE_LIMIT_FALLBACK_REPLICAS": str(app.replicas.min),
            **app.settings,
        },
    )
