"""The fault each single experiment injects into the API's pods: its Chaos Mesh kind and
spec, as a Workflow's chaos template embeds it (no `duration`: the template's deadline
bounds it).

Every fault selects pods in the app's namespace alone, by the API's own labels: that is
the only namespace the controller may touch (clusterScoped: false). Destinations outside
that namespace (the database, the cache) are `externalTargets`, by host name: outside the
cluster they are the platform's endpoints; inside it (a laptop cluster's data namespace)
they are the Services' cluster names. Chaos Mesh refuses a pod selector for another
namespace in namespace-scoped mode (pkg/selector/generic/namespace/selector.go), and the
API's packets carry the Service's address inside its own network namespace, where the
fault is injected, so a name works where a selector cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

ZONE_LABEL = "topology.kubernetes.io/zone"
# Chaos Mesh's kinds, and the key each one's spec takes in a Workflow template.
TEMPLATE_KEYS = {
    "PodChaos": "podChaos",
    "NetworkChaos": "networkChaos",
    "HTTPChaos": "httpChaos",
    "DNSChaos": "dnsChaos",
    "TimeChaos": "timeChaos",
    "StressChaos": "stressChaos",
}


@dataclass(frozen=True)
class Targets:
    """The API as the faults find it."""

    # The app's namespace: every chaos object lives there and selects there.
    namespace: str
    # The API's pods (its Deployment's or Rollout's selector).
    selector: Mapping[str, str]
    # The API's container, and its HTTP port.
    container: str
    port: int
    # The zone whose nodes api-zone-loss takes down.
    zone: str
    # Host names the API reaches its database (writer, reader) and its cache at.
    database_hosts: tuple[pulumi.Input[str], ...]
    cache_hosts: tuple[pulumi.Input[str], ...]
    # Every name the API resolves for what lies outside its pods (api-dns-error).
    hostnames: tuple[pulumi.Input[str], ...]


@dataclass(frozen=True)
class Sizes:
    """How hard each fault hits, derived from the app's own timeouts and limits."""

    # Beyond the app's Redis timeout (a frozen cache) and its database statement and
    # connect timeouts (a frozen database).
    redis_delay: str
    database_delay: str
    # Packets dropped on the way to the database.
    loss_percent: int
    # Far past the latency SLO's threshold, on one pod: a slow upstream its callers (the
    # gateway's outlier detection and timeouts) must route around.
    http_delay: str
    clock_offset: str
    cpu_workers: int
    cpu_load: int
    # A share of the app container's memory limit; the stressor is the OOM killer's
    # first choice (oom_score_adj 1000), so pressure never costs the API its process.
    memory_size: str


def _pods(targets: Targets, **extra: Any) -> dict[str, Any]:
    return {"namespaces": [targets.namespace], "labelSelectors": dict(targets.selector), **extra}


def _one(targets: Targets) -> dict[str, Any]:
    return {"selector": _pods(targets), "mode": "one"}


def _all(targets: Targets) -> dict[str, Any]:
    return {"selector": _pods(targets), "mode": "all"}


def pod_kill(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return {"action": "pod-kill", **_one(targets), "gracePeriod": 0}


def container_kill(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return {"action": "container-kill", **_one(targets), "containerNames": [targets.container]}


def node_loss(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    # Half the API's pods fail at once: what a node's worth of them looks like.
    return {"action": "pod-failure", "selector": _pods(targets), "mode": "fixed-percent", "value": "50"}


def zone_loss(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    zone = {"nodeSelectors": {ZONE_LABEL: targets.zone}}
    return {"action": "pod-failure", "selector": _pods(targets, **zone), "mode": "all"}


def _network(targets: Targets, action: str, hosts: tuple[pulumi.Input[str], ...], **detail: Any) -> dict[str, Any]:
    return {"action": action, **_all(targets), "direction": "to", "externalTargets": list(hosts), **detail}


def redis_partition(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return _network(targets, "partition", targets.cache_hosts)


def redis_delay(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return _network(targets, "delay", targets.cache_hosts, delay={"latency": sizes.redis_delay})


def database_delay(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return _network(targets, "delay", targets.database_hosts, delay={"latency": sizes.database_delay})


def database_partition(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return _network(targets, "partition", targets.database_hosts)


def network_loss(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    loss = {"loss": str(sizes.loss_percent), "correlation": "25"}
    return _network(targets, "loss", targets.database_hosts, loss=loss)


def _http(targets: Targets, **action: Any) -> dict[str, Any]:
    # The API's versioned routes on one pod: probes (/readyz, /livez) are left alone, so
    # the pod stays in the load balancer and its callers must cope with it.
    return {**_one(targets), "target": "Request", "port": targets.port, "path": "/v*", **action}


def http_delay(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return _http(targets, delay=sizes.http_delay)


def http_abort(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return _http(targets, abort=True)


def dns_error(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    # Chaos Mesh fails every name when `patterns` is empty: never without them.
    if not targets.hostnames:
        raise ValueError("api-dns-error: no host names to fail; an empty pattern list would fail every lookup")
    return {"action": "error", **_all(targets), "patterns": list(targets.hostnames)}


def clock_skew(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    return {**_one(targets), "timeOffset": sizes.clock_offset, "containerNames": [targets.container]}


def cpu_stress(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    cpu = {"workers": sizes.cpu_workers, "load": sizes.cpu_load}
    return {**_all(targets), "containerNames": [targets.container], "stressors": {"cpu": cpu}}


def memory_stress(targets: Targets, sizes: Sizes) -> dict[str, Any]:
    memory = {"workers": 1, "size": sizes.memory_size, "oomScoreAdj": 1000}
    return {**_one(targets), "containerNames": [targets.container], "stressors": {"memory": memory}}


Builder = Callable[[Targets, Sizes], dict[str, Any]]
# Each single experiment's kind and fault.
FAULTS: dict[str, tuple[str, Builder]] = {
    "api-pod-kill": ("PodChaos", pod_kill),
    "api-container-kill": ("PodChaos", container_kill),
    "api-node-loss": ("PodChaos", node_loss),
    "api-zone-loss": ("PodChaos", zone_loss),
    "api-redis-partition": ("NetworkChaos", redis_partition),
    "api-redis-delay": ("NetworkChaos", redis_delay),
    "api-database-delay": ("NetworkChaos", database_delay),
    "api-database-partition": ("NetworkChaos", database_partition),
    "api-network-loss": ("NetworkChaos", network_loss),
    "api-http-delay": ("HTTPChaos", http_delay),
    "api-http-abort": ("HTTPChaos", http_abort),
    "api-dns-error": ("DNSChaos", dns_error),
    "api-clock-skew": ("TimeChaos", clock_skew),
    "api-cpu-stress": ("StressChaos", cpu_stress),
    "api-memory-stress": ("StressChaos", memory_stress),
}


def fault(name: str, targets: Targets, sizes: Sizes) -> tuple[str, dict[str, Any]]:
    """A single experiment's Chaos Mesh kind and spec."""
    kind, build = FAULTS[name]
    return kind, build(targets, sizes)


def hosts_needed(targets: Targets) -> list[str]:
    """What the targets lack for the faults that need them: one line each."""
    missing = []
    if not targets.database_hosts:
        missing.append("database hosts (api-database-delay, api-database-partition, api-network-loss)")
    if not targets.cache_hosts:
        missing.append("cache hosts (api-redis-partition, api-redis-delay)")
    if not targets.hostnames:
        missing.append("host names to fail (api-dns-error)")
    return missing


def selected(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pods a fault selects (for the checks that they are the API's own)."""
    return spec["selector"]
