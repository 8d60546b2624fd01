"""The `edge` role: Cloudflare in front of every production region.

Reads each origin region's contract (a missing region or output fails here first), and
turns `projectai:edge` into the edge components: the hardened zone, the global load
balancer, security rules and cache rules.
"""

from __future__ import annotations

import math

import pulumi

from app.settings import RouteLimit, Settings
from components.edge.cache import EdgeCache, EdgeCacheArgs
from components.edge.load_balancing import EdgeOrigin, GlobalLoadBalancer, GlobalLoadBalancerArgs, MonitorSettings
from components.edge.security import EdgeSecurity, EdgeSecurityArgs, RateLimit, host_scope
from components.edge.worker import EdgeWorker, EdgeWorkerArgs
from components.edge.zone import ZoneHardening, ZoneHardeningArgs
from stacks import contract
from stacks.model import EdgeRateLimitConfig, EdgeStack

# What the API serves (app/main.py, app/api): versioned paths, and its OpenAPI document.
VERSIONED_PREFIXES = ("/v1/", "/v2/")
PUBLIC_PATHS = ("/openapi.json",)
# HEAD is answered as GET (app/middleware HeadAsGet).
METHODS = ("GET", "HEAD", "POST")


def app_limits() -> tuple[RouteLimit, RouteLimit]:
    """The app's own defaults (app/settings.py): the most generous per-key route limit,
    and the per-address limit."""
    fields = Settings.model_fields
    per_route = [fields["rate_limit_default"].default, *fields["rate_limits"].default.values()]
    most = max(per_route, key=lambda limit: limit.per_second * 3600 + limit.burst)
    return most, fields["rate_limit_per_ip"].default


def edge_limit(app: RouteLimit, config: EdgeRateLimitConfig) -> RateLimit:
    """`margin` times the most the app admits in one period: a full bucket, then the refill."""
    admitted = app.burst + app.per_second * config.period_seconds
    return RateLimit(
        requests=math.ceil(config.margin * admitted),
        period_seconds=config.period_seconds,
        mitigation_seconds=config.mitigation_seconds,
    )


def build(config: EdgeStack) -> None:
    edge = config.edge
    # ingressAddress is null until a region's load balancer has one: read, not required.
    contracts = {stack: contract.read_region_contract(stack) for stack in edge.origins}
    origins = tuple(
        EdgeOrigin(
            key=stack,
            hostname=values[contract.INGRESS_HOSTNAME],
            health_path=values[contract.HEALTH_PATH_OUTPUT],
            address=values[contract.INGRESS_ADDRESS],
        )
        for stack, values in contracts.items()
    )
    zone = ZoneHardening("edge", ZoneHardeningArgs(account_id=edge.account_id, zone=edge.zone))
    monitor = edge.monitor
    balancer = GlobalLoadBalancer(
        "edge",
        GlobalLoadBalancerArgs(
            account_id=edge.account_id,
            zone_id=zone.zone_id,
            hostname=edge.hostname,
            origins=origins,
            steering=edge.steering,
            region_pools={key: tuple(order) for key, order in edge.region_pools.items()},
            country_pools={key: tuple(order) for key, order in edge.country_pools.items()},
            monitor=MonitorSettings(
                expected_codes=monitor.expected_codes,
                interval_seconds=monitor.interval_seconds,
                timeout_seconds=monitor.timeout_seconds,
                retries=monitor.retries,
                consecutive_down=monitor.consecutive_down,
                consecutive_up=monitor.consecutive_up,
                check_regions=tuple(monitor.check_regions),
            ),
        ),
    )
    # Every rule covers the global name and the regional ones (api.<region>.<zone>).
    scope = host_scope(edge.hostname, edge.zone)
    per_key, per_address = app_limits()
    security = EdgeSecurity(
        "edge",
        EdgeSecurityArgs(
            zone_id=zone.zone_id,
            scope=scope,
            versioned_prefixes=VERSIONED_PREFIXES,
            public_paths=PUBLIC_PATHS,
            methods=METHODS,
            per_key=edge_limit(per_key, edge.rate_limits) if edge.rate_limits.by_api_key else None,
            per_address=edge_limit(per_address, edge.rate_limits),
            plan=edge.plan,
        ),
    )
    EdgeCache(
        "edge",
        EdgeCacheArgs(
            zone_id=zone.zone_id,
            scope=scope,
            versioned_prefixes=VERSIONED_PREFIXES,
            docs_paths=PUBLIC_PATHS,
            cacheable_gets=tuple(edge.cacheable_gets),
            cacheable_seconds=edge.cacheable_seconds,
        ),
    )
    # In front of the load balancer on the global hostname (edge/worker): request ids,
    # the key's shape, GET /v1/models per key hash, the maintenance answer.
    worker = EdgeWorker(
        "edge",
        EdgeWorkerArgs(account_id=edge.account_id, zone_id=zone.zone_id, hostname=edge.hostname),
    )
    pulumi.export("hostname", edge.hostname)
    pulumi.export("workerRoute", worker.route_pattern)
    pulumi.export("origins", [{"stack": stack, **values} for stack, values in contracts.items()])
    pulumi.export("zoneId", zone.zone_id)
    pulumi.export("dnssecDs", zone.dnssec.ds)
    pulumi.export("loadBalancerId", balancer.load_balancer.id)
    pulumi.export("pools", {key: pool.id for key, pool in balancer.pools.items()})
    pulumi.export("rateLimitRules", security.rate_limits.id)
