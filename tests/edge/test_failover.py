"""Failover proof: from the load balancer prod-global declares, which region serves each
geography, for every combination of healthy and failed regions.

Everything is read from the synthesized graph: the load balancer's steering tables (pool
ids), the pools (their origins' addresses and monitors) and the region contracts the
edge read (where each address is, on which cloud). Cloudflare's geo steering sends a
client to the first healthy pool of its country's list, else its region's, else the
default list; when no pool of the list is healthy, to the fallback pool.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from preflight.graph import Graph, Resource
from preflight.synth import Synthesizer
from stacks.model import CLOUDFLARE_REGIONS

LOAD_BALANCER = "cloudflare:index/loadBalancer:LoadBalancer"
POOL = "cloudflare:index/loadBalancerPool:LoadBalancerPool"
MONITOR = "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor"
RECORD = "cloudflare:index/dnsRecord:DnsRecord"

# Where users are, and the region nearest them (by published inter-region latency: the
# US east coast, Europe, the central US across the Pacific). Independent of the stack
# file: a table there that sent Europe to the US would fail here.
NEAREST = {
    "ENAM": "us-east-1",
    "WNAM": "us-central1",
    "NSAM": "us-east-1",
    "SSAM": "us-east-1",
    "WEU": "eu-west-1",
    "EEU": "eu-west-1",
    "ME": "eu-west-1",
    "NAF": "eu-west-1",
    "SAF": "eu-west-1",
    "SAS": "eu-west-1",
    "SEAS": "us-central1",
    "NEAS": "us-central1",
    "OC": "us-central1",
}


@dataclass(frozen=True)
class Pool:
    id: str
    name: str
    regions: tuple[str, ...]  # the regions its origins are in
    monitored: bool


@dataclass(frozen=True)
class Edge:
    orders: dict[str, list[Pool]]  # geography (region code or country) -> pools, in failover order
    fallback: Pool
    regions: dict[str, str]  # region -> cloud
    balancer: dict[str, Any]


def derive(graph: Graph) -> Edge:
    contracts = graph.outputs["origins"]
    by_address = {origin["ingressHostname"]: origin["region"] for origin in contracts}
    (balancer,) = [r for r in graph.resources if r.type == LOAD_BALANCER]
    monitors = {r.id for r in graph.resources if r.type == MONITOR}

    def pool(resource: Resource) -> Pool:
        # The Host header names the region; the address is its ingress load balancer.
        regions = tuple(by_address[origin["header"]["hosts"][0]] for origin in resource.inputs["origins"])
        return Pool(resource.id or "", resource.inputs["name"], regions, resource.inputs.get("monitor") in monitors)

    pools = {r.id: pool(r) for r in graph.resources if r.type == POOL}
    inputs = balancer.inputs

    def resolved(ids: list[str]) -> list[Pool]:
        return [pools[pool_id] for pool_id in ids]

    orders = {
        region: resolved(inputs.get("regionPools", {}).get(region, inputs["defaultPools"]))
        for region in CLOUDFLARE_REGIONS
    }
    orders |= {country: resolved(ids) for country, ids in inputs.get("countryPools", {}).items()}
    orders["default"] = resolved(inputs["defaultPools"])
    return Edge(
        orders=orders,
        fallback=pools[inputs["fallbackPool"]],
        regions={origin["region"]: origin["cloud"] for origin in contracts},
        balancer=inputs,
    )


def served(edge: Edge, geography: str, healthy: frozenset[str]) -> Pool:
    """The pool Cloudflare sends `geography` to when only `healthy` regions pass their monitors."""
    for pool in edge.orders[geography]:
        if pool.monitored and set(pool.regions) <= healthy:
            return pool
    return edge.fallback


@pytest.fixture(scope="module")
def edge(project_synthesizer: Synthesizer) -> Edge:
    return derive(project_synthesizer.synthesize("prod-global"))


def health_states(edge: Edge) -> list[frozenset[str]]:
    regions = sorted(edge.regions)
    return [
        frozenset(region for region, up in zip(regions, state, strict=True) if up)
        for state in itertools.product((True, False), repeat=len(regions))
    ]


def test_three_regions_on_two_clouds_and_eight_states(edge: Edge) -> None:
    assert edge.regions == {"us-east-1": "aws", "eu-west-1": "aws", "us-central1": "gcp"}
    assert len(health_states(edge)) == 8


def test_steering_is_geo_without_affinity_and_proxied(edge: Edge) -> None:
    assert edge.balancer["steeringPolicy"] == "geo"
    assert edge.balancer["sessionAffinity"] == "none"
    assert edge.balancer["proxied"] is True
    assert set(edge.balancer["regionPools"]) == set(CLOUDFLARE_REGIONS)


def test_every_pool_but_the_fallback_is_one_monitored_region(edge: Edge) -> None:
    for geography, order in edge.orders.items():
        assert all(pool.monitored and len(pool.regions) == 1 for pool in order), geography
        assert sorted(pool.regions[0] for pool in order) == sorted(edge.regions), geography


@pytest.mark.parametrize("geography", [*CLOUDFLARE_REGIONS, "MX", "default"])
def test_each_geography_is_served_by_the_first_healthy_region_in_its_order(edge: Edge, geography: str) -> None:
    order = [pool.regions[0] for pool in edge.orders[geography]]
    for healthy in health_states(edge):
        pool = served(edge, geography, healthy)
        if healthy:
            # A healthy region serves; the first of the order that is healthy, and no other.
            assert pool is not edge.fallback, (geography, healthy)
            (region,) = pool.regions
            assert region in healthy
            assert region == next(r for r in order if r in healthy)
            assert all(r not in healthy for r in order[: order.index(region)])
        else:
            assert pool is edge.fallback


@pytest.mark.parametrize("geography", list(NEAREST))
def test_nearest_region_first_then_the_other_cloud(edge: Edge, geography: str) -> None:
    everyone = frozenset(edge.regions)
    nearest = served(edge, geography, everyone).regions[0]
    assert nearest == NEAREST[geography]
    # With the nearest down, the geography moves to the other cloud: a cloud-wide outage
    # never sends it to a second region of the cloud that just failed.
    second = served(edge, geography, everyone - {nearest}).regions[0]
    assert edge.regions[second] != edge.regions[nearest]
    # And with the nearest cloud entirely down, the other cloud's region serves.
    cloud_down = frozenset(r for r in everyone if edge.regions[r] != edge.regions[nearest])
    assert served(edge, geography, cloud_down).regions[0] == second


def test_mexico_overrides_its_region(edge: Edge) -> None:
    everyone = frozenset(edge.regions)
    assert served(edge, "MX", everyone).regions[0] == "us-central1"
    assert served(edge, "MX", everyone - {"us-central1"}).regions[0] == "us-east-1"


def test_all_down_goes_to_the_last_resort_with_every_region(edge: Edge) -> None:
    for geography in edge.orders:
        pool = served(edge, geography, frozenset())
        assert pool is edge.fallback
    # Unmonitored, so never marked down itself; every region's origin, so whichever
    # region still answers (or the Worker's maintenance response) serves.
    assert not edge.fallback.monitored
    assert sorted(edge.fallback.regions) == sorted(edge.regions)
    assert edge.fallback not in [pool for order in edge.orders.values() for pool in order]


def test_no_pool_origin_is_a_hostname_cloudflare_proxies(project_synthesizer: Synthesizer) -> None:
    """An origin must reach the region directly: a proxied name would route back into Cloudflare."""
    graph = project_synthesizer.synthesize("prod-global")
    proxied = {r.inputs["name"] for r in graph.resources if r.type == RECORD and r.inputs.get("proxied")}
    origins = [o for r in graph.resources if r.type == POOL for o in r.inputs["origins"]]
    assert origins and not [o for o in origins if o.get("address") in proxied]
