"""One pool per origin region, each probed on its readiness path; a load balancer on the
global hostname that steers each geography to its nearest region and fails over in a
declared order; proxied DNS records."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_cloudflare as cloudflare

# The last resort, when every monitor says down: it has no monitor of its own, so it is
# never marked down; it sends to every region at once, and what a dead region cannot
# answer the edge Worker turns into the maintenance response.
FALLBACK_POOL = "last-resort"


@dataclass(frozen=True)
class EdgeOrigin:
    """A region, from its contract: where its ingress answers, and what proves it ready."""

    key: str  # the region's stack name: what the pool tables name
    hostname: pulumi.Input[str]
    health_path: pulumi.Input[str]
    # Where the region's ingress load balancer answers (a DNS name on AWS, an address on
    # GCP): the regional hostname's record points there. None: no record.
    address: pulumi.Input[str | None] | None = None


@dataclass(frozen=True)
class MonitorSettings:
    expected_codes: str
    interval_seconds: int
    timeout_seconds: int
    retries: int
    consecutive_down: int
    consecutive_up: int
    check_regions: tuple[str, ...]


@dataclass(frozen=True)
class GlobalLoadBalancerArgs:
    account_id: str
    zone_id: pulumi.Input[str]
    hostname: str
    # In default failover order: the order of geographies no table names.
    origins: tuple[EdgeOrigin, ...]
    steering: str  # geo, dynamic_latency or off
    region_pools: Mapping[str, tuple[str, ...]]
    country_pools: Mapping[str, tuple[str, ...]]
    monitor: MonitorSettings
    # Name prefix of pools and monitors: they are account-wide, shared by every zone.
    prefix: str = "project-ai"


def record_type(address: str | None) -> str:
    """A for an IPv4 address, AAAA for IPv6, else CNAME (a load balancer's DNS name)."""
    try:
        return "A" if ipaddress.ip_address(address or "").version == 4 else "AAAA"
    except ValueError:
        return "CNAME"


def _origin(origin: EdgeOrigin) -> cloudflare.LoadBalancerPoolOriginArgs:
    # An origin's address must reach the origin directly, never a hostname Cloudflare
    # proxies (the regional names are): the region's ingress load balancer. Its ingress
    # routes and holds a certificate for the regional hostname only: the Host header
    # (and so SNI) is that name, whatever the client asked for.
    return cloudflare.LoadBalancerPoolOriginArgs(
        name=origin.key,
        address=origin.address,
        enabled=True,
        weight=1,
        header=cloudflare.LoadBalancerPoolOriginHeaderArgs(hosts=[origin.hostname]),
    )


class GlobalLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: GlobalLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:edge:GlobalLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.monitor
        self.monitors: dict[str, cloudflare.LoadBalancerMonitor] = {}
        self.pools: dict[str, cloudflare.LoadBalancerPool] = {}
        for origin in args.origins:
            self.monitors[origin.key] = cloudflare.LoadBalancerMonitor(
                f"{name}-{origin.key}",
                account_id=args.account_id,
                description=f"{args.prefix} {origin.key} readiness",
                type="https",
                method="GET",
                port=443,
                path=origin.health_path,
                header={"Host": [origin.hostname]},
                expected_codes=settings.expected_codes,
                follow_redirects=False,
                allow_insecure=False,
                interval=settings.interval_seconds,
                timeout=settings.timeout_seconds,
                retries=settings.retries,
                consecutive_down=settings.consecutive_down,
                consecutive_up=settings.consecutive_up,
                opts=child,
            )
            self.pools[origin.key] = cloudflare.LoadBalancerPool(
                f"{name}-{origin.key}",
                account_id=args.account_id,
                name=f"{args.prefix}-{origin.key}",
                description=f"{args.prefix}: the {origin.key} region's ingress",
                enabled=True,
                minimum_origins=1,
                origins=[_origin(origin)],
                monitor=self.monitors[origin.key].id,
                check_regions=list(settings.check_regions),
                opts=child,
            )
        self.fallback = cloudflare.LoadBalancerPool(
            f"{name}-{FALLBACK_POOL}",
            account_id=args.account_id,
            name=f"{args.prefix}-{FALLBACK_POOL}",
            description=f"{args.prefix}: every region, unmonitored; used only when every pool is down",
            enabled=True,
            minimum_origins=1,
            origins=[_origin(origin) for origin in args.origins],
            origin_steering=cloudflare.LoadBalancerPoolOriginSteeringArgs(policy="random"),
            opts=child,
        )

        def ids(order: tuple[str, ...]) -> list[pulumi.Output[str]]:
            return [self.pools[key].id for key in order]

        self.load_balancer = cloudflare.LoadBalancer(
            name,
            zone_id=args.zone_id,
            name=args.hostname,
            description=f"{args.prefix}: {args.steering} steering over {', '.join(o.key for o in args.origins)}",
            enabled=True,
            proxied=True,
            steering_policy=args.steering,
            default_pools=ids(tuple(o.key for o in args.origins)),
            region_pools={region: ids(order) for region, order in args.region_pools.items()},
            country_pools={country: ids(order) for country, order in args.country_pools.items()},
            fallback_pool=self.fallback.id,
            # No affinity: a client's next request may land on another region, and must
            # be able to (the API keeps no session state in a region).
            session_affinity="none",
            # Where a pool fails mid-request, the next pool is tried at once.
            adaptive_routing=cloudflare.LoadBalancerAdaptiveRoutingArgs(failover_across_pools=True),
            opts=child,
        )
        # The global name also as a record, for when the load balancer is disabled: the
        # primary region then serves, still proxied. Every regional name is proxied
        # too, so an origin's address never shows in DNS.
        self.records = [
            cloudflare.DnsRecord(
                f"{name}-global",
                zone_id=args.zone_id,
                name=args.hostname,
                type="CNAME",
                content=args.origins[0].hostname,
                ttl=1,
                proxied=True,
                comment="load balancer fallback: the primary region",
                opts=child,
            )
        ]
        # Each regional hostname, proxied, at its ingress load balancer: the pools'
        # origins, and what cert-manager's certificate names. A region whose load
        # balancer has no address yet fails `up` here: bring the regions up first.
        for origin in args.origins:
            if origin.address is None:
                continue
            address = pulumi.Output.from_input(origin.address)
            self.records.append(
                cloudflare.DnsRecord(
                    f"{name}-{origin.key}",
                    zone_id=args.zone_id,
                    name=origin.hostname,
                    type=address.apply(record_type),
                    content=address,
                    ttl=1,
                    proxied=True,
                    comment=f"the {origin.key} region's ingress",
                    opts=child,
                )
            )
        self.register_outputs(
            {
                "loadBalancerId": self.load_balancer.id,
                "pools": {key: pool.id for key, pool in self.pools.items()},
                "fallbackPool": self.fallback.id,
            }
        )
