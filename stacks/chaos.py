"""Turns the typed `chaos` config into Chaos Mesh's and the experiments' args (and nothing
else), for the stacks that run the API with `chaos.enabled` (dev and staging by default;
the config refuses prod). components/api_deployment.py composes them after the API.

Choices made here, once:

- the faults' targets are the API's own pods (its selector, its container `api`, its
  port) in its namespace, the one namespace Chaos Mesh may touch;
- the database and the cache are host names: a region's platform endpoints (outside the
  cluster), a cluster stack's configured ones (its in-cluster Services);
- each fault's size follows from the app's own limits: delays past its Redis, database
  and latency bounds, stress within its container's limits;
- the steady state is the API's SLO: its burn-rate alerts as the monitoring rules name
  them, read from the same generator, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from urllib.parse import urlparse

import pulumi

from components.api_deployment import ChaosDeploymentArgs
from components.chaos import (
    ChaosExperimentsArgs,
    ChaosMeshArgs,
    GameDay,
    GuardPath,
    Sizes,
    SteadyStateGuardArgs,
    Targets,
    Timing,
    chaos_mesh,
    guard,
)
from components.labels import selector_labels
from components.monitoring.rules import slo_alerts
from components.monitoring.stack import prometheus_address
from components.network_policies import EgressRule
from components.ops_service import Caller
from components.vault.integration import CacheEndpoint, DatabaseEndpoint
from components.workload import AppServiceArgs
from stacks.mesh import cache_host
from stacks.model import ClusterStack, ImageConfig, WorkloadStack
from stacks.monitoring import rule_args
from stacks.quantities import parse_cpu, parse_memory
from stacks.workload import cluster_facts, controller_replicas, node_local_dns, ownership

# The API's container in its pods (components/workload/pod.py).
API_CONTAINER = "api"
# The app's own defaults (app/settings.py), where the stack's settings leave them.
REDIS_TIMEOUT_SECONDS = 0.25
DB_STATEMENT_TIMEOUT_SECONDS = 3.0
DB_CONNECT_TIMEOUT_SECONDS = 3.0
CLOCK_OFFSET = "-5m"
LOSS_PERCENT = 40
CPU_LOAD_PERCENT = 80


def _setting(config: WorkloadStack, name: str, default: float) -> float:
    try:
        return float(config.app.settings.get(name, default))
    except ValueError:
        return default  # the app refuses it at start; the fault keeps the default's size


def _milliseconds(seconds: float) -> str:
    return f"{math.ceil(seconds * 1000)}ms"


def sizes(config: WorkloadStack) -> Sizes:
    redis = _setting(config, "APP_REDIS_TIMEOUT_SECONDS", REDIS_TIMEOUT_SECONDS)
    statement = _setting(config, "APP_DB_STATEMENT_TIMEOUT_SECONDS", DB_STATEMENT_TIMEOUT_SECONDS)
    connect = _setting(config, "APP_DB_CONNECT_TIMEOUT_SECONDS", DB_CONNECT_TIMEOUT_SECONDS)
    limits = config.app.resources.limits
    return Sizes(
        # Eight times the Redis timeout: every call times out, the breaker opens.
        redis_delay=_milliseconds(8 * redis),
        # Twice the longest database bound: every connection and statement times out.
        database_delay=_milliseconds(2 * max(statement, connect)),
        loss_percent=LOSS_PERCENT,
        # Ten times the latency SLO's threshold.
        http_delay=_milliseconds(10 * config.monitoring.latency_threshold_seconds),
        clock_offset=CLOCK_OFFSET,
        cpu_workers=max(1, math.ceil(parse_cpu(limits.cpu))),
        cpu_load=CPU_LOAD_PERCENT,
        # Half the container's memory limit (decimal megabytes, as stress-ng's size takes them).
        memory_size=f"{int(parse_memory(limits.memory) / 2 / 10**6)}MB",
    )


def database_hosts(
    config: WorkloadStack, database: DatabaseEndpoint | None, other_databases: tuple[pulumi.Input[str], ...]
) -> tuple[pulumi.Input[str], ...]:
    if config.chaos.database_host is not None:
        return (config.chaos.database_host,)
    found: list[pulumi.Input[str]] = []
    if database is not None:
        found.append(database.engine.host)
        if database.reader_host is not None:
            found.append(database.reader_host)
    return (*found, *other_databases)


def cache_hosts(config: WorkloadStack, cache: CacheEndpoint | None) -> tuple[pulumi.Input[str], ...]:
    if config.chaos.cache_host is not None:
        return (config.chaos.cache_host,)
    if cache is not None and cache.url is not None:
        return (cache_host(cache),)
    if isinstance(config, ClusterStack) and config.cache_host is not None:
        return (config.cache_host,)
    return ()


def upstream_hosts(config: WorkloadStack) -> tuple[str, ...]:
    """The inference upstream's and the mesh's declared hosts."""
    inference = urlparse(config.app.settings.get("APP_UPSTREAM_URL", "echo"))
    found = [inference.hostname] if inference.scheme in ("http", "https") and inference.hostname else []
    return (*found, *(upstream.host for upstream in config.mesh.upstreams))


def zone(config: WorkloadStack) -> str:
    """The config's zone, else the first the stack declares (the model insists on one)."""
    return config.chaos.zone or config.known_zones()[0]


def guard_image(config: WorkloadStack) -> ImageConfig:
    image = config.chaos.guard_image or (config.delivery.canary.judge.image if config.delivery.canary.judge else None)
    if image is None:  # the model refuses this; a caller that skipped it gets the same words
        raise ValueError("chaos.guardImage: missing; expected the ops image by digest")
    return image


def burn_rate_alerts(config: WorkloadStack) -> tuple[str, ...]:
    """The API's SLO burn-rate alerts, by name, as the monitoring rules generate them."""
    return tuple(alert["alert"] for alert in slo_alerts(rule_args(config)))


def dns_server_egress() -> tuple[EgressRule, ...]:
    """The API's pods' lookups while DNSChaos points them at the chaos DNS server."""
    return tuple(
        EgressRule(
            f"chaos-dns-{protocol.lower()}",
            (chaos_mesh.DNS_SERVER_PORT,),
            protocol=protocol,
            namespace=chaos_mesh.NAMESPACE,
            pod_labels=dict(chaos_mesh.DNS_SERVER),
        )
        for protocol in ("UDP", "TCP")
    )


def chaos_args(
    config: WorkloadStack,
    api: AppServiceArgs,
    database: DatabaseEndpoint | None,
    cache: CacheEndpoint | None,
    other_databases: tuple[pulumi.Input[str], ...] = (),
) -> ChaosDeploymentArgs | None:
    chaos = config.chaos
    if not chaos.enabled:
        return None
    owner = ownership(config)
    prometheus = prometheus_address(config.monitoring.namespace)
    databases, caches = database_hosts(config, database, other_databases), cache_hosts(config, cache)
    targets = Targets(
        namespace=api.namespace,
        selector=selector_labels(api.name, f"{api.name}-{config.environment}"),
        container=API_CONTAINER,
        port=api.port,
        zone=zone(config),
        database_hosts=databases,
        cache_hosts=caches,
        hostnames=(*databases, *caches, *upstream_hosts(config)),
    )
    guard_args = SteadyStateGuardArgs(
        owner=owner,
        namespace=api.namespace,
        image=guard_image(config).reference,
        prometheus_address=prometheus,
        prometheus_namespace=config.monitoring.namespace,
        prometheus_port=urlparse(prometheus).port or 9090,
        alerts=burn_rate_alerts(config),
        controller=Caller("chaos-controller", chaos_mesh.NAMESPACE, chaos_mesh.CONTROLLER),
        node_local_dns=node_local_dns(config),
    )
    experiments = ChaosExperimentsArgs(
        owner=owner,
        targets=targets,
        sizes=sizes(config),
        timing=Timing(fault_seconds=chaos.fault_seconds, recovery_seconds=chaos.recovery_seconds),
        game_day=GameDay(
            cron=chaos.game_day,
            time_zone=chaos.time_zone,
            slot_minutes=chaos.slot_minutes,
            starting_deadline_seconds=chaos.starting_deadline_seconds,
            history_limit=chaos.history_limit,
        ),
        guard=guard_args,
    )
    mesh = ChaosMeshArgs(
        owner=owner,
        cluster=cluster_facts(config),
        target_namespace=api.namespace,
        guard=GuardPath(api.namespace, guard.guard_selector(config.environment), guard.PORT),
        time_zone=chaos.time_zone,
        chart_version=chaos.chart_version,
        replicas=controller_replicas(config),
    )
    return ChaosDeploymentArgs(mesh=mesh, experiments=experiments, api_egress=dns_server_egress())
