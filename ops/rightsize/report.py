"""The report: containers grouped into workloads with their proposals, and each node
pool's current and proposed capacity and monthly cost."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.rightsize import nodes as packing
from ops.rightsize import policy, quantity
from ops.rightsize.usage import Container, Usage
from ops.rightsize.vpa import Recommendations
from ops.steps import PreconditionFailed

# Pods that come and go (Jobs' pods) are not capacity a pool keeps.
TRANSIENT_OWNERS = ("Job",)


@dataclass(frozen=True)
class Options:
    region: str
    headroom: float = 0.2
    min_nodes: int = 2
    types: tuple[str, ...] = ()
    arm: bool = False
    burstable: bool = False
    spot: tuple[str, ...] = ()
    # pool -> (instance type, node count), where the operator says what runs today.
    current: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    namespaces: tuple[str, ...] = ()
    app_namespace: str = "project-ai"
    app_container: str = "api"


@dataclass
class Row:
    namespace: str
    kind: str
    workload: str
    container: str
    pool: str
    pods: list[str]
    usage: Container
    proposal: policy.Proposal
    vpa: Any


def build(usage: Usage, vpa: Recommendations, prices: Any, options: Options) -> dict[str, Any]:
    cloud = cloud_of(prices, options.region)
    notes = list(usage.notes) + list(vpa.notes)
    rows = _rows(usage, vpa, options)
    pools = _pools(usage, rows, prices, cloud, options, notes)
    app = next(
        (
            r
            for r in rows
            if r.namespace == options.app_namespace and r.container == options.app_container and r.kind != "Pod"
        ),
        None,
    )
    return {
        "window": None,
        "prices": prices.note,
        "region": options.region,
        "cloud": cloud,
        "policy": policy.POLICY.replace("\n", " "),
        "containers": [_row_json(r) for r in rows],
        "pools": pools,
        "snippet": snippet(app, pools),
        "notes": notes,
    }


def cloud_of(prices: Any, region: str) -> str:
    for cloud, regions in prices.instances.items():
        if region in regions:
            return cloud
    known = ", ".join(f"{c}:{r}" for c, regions in prices.instances.items() for r in regions)
    raise PreconditionFailed(f"--region {region!r} is not in the price table; expected one of {known}")


def _workload(usage: Usage, namespace: str, pod: str) -> tuple[str, str]:
    return usage.owners.get((namespace, pod), ("Pod", pod))


def _rows(usage: Usage, vpa: Recommendations, options: Options) -> list[Row]:
    grouped: dict[tuple[str, str, str, str], list[tuple[str, Container]]] = defaultdict(list)
    for (namespace, pod, container), observed in usage.containers.items():
        if options.namespaces and namespace not in options.namespaces:
            continue
        kind, name = _workload(usage, namespace, pod)
        if kind in TRANSIENT_OWNERS:
            continue
        grouped[(namespace, kind, name, container)].append((pod, observed))
    rows = []
    for (namespace, kind, name, container), members in sorted(grouped.items()):
        merged = _merge([observed for _, observed in members])
        recommendation = vpa.find(namespace, kind, name, container)
        running = sorted(pod for pod, observed in members if observed.requests)
        pools = sorted({_pool(usage, namespace, pod) for pod in running} or {"app"})
        rows.append(
            Row(
                namespace,
                kind,
                name,
                container,
                ",".join(pools),
                running,
                merged,
                policy.propose(merged, recommendation),
                recommendation,
            )
        )
    return rows


def _merge(members: Sequence[Container]) -> Container:
    """A workload's container over all its pods: the highest usage any pod saw (each pod's
    own p95 and peak), and the requests and limits the running pods have now."""
    merged = Container()
    for name in ("cpu_p95", "cpu_p99", "memory_peak", "throttled"):
        values = [getattr(m, name) for m in members if getattr(m, name) is not None]
        setattr(merged, name, max(values) if values else None)
    merged.oom_killed = any(m.oom_killed for m in members)
    for m in members:
        for resource, value in m.requests.items():
            merged.requests[resource] = max(value, merged.requests.get(resource, 0.0))
        for resource, value in m.limits.items():
            merged.limits[resource] = max(value, merged.limits.get(resource, 0.0))
        merged.invalid += m.invalid
    return merged


def _pool(usage: Usage, namespace: str, pod: str) -> str:
    node = usage.pod_nodes.get((namespace, pod))
    return usage.nodes.get(node, ("app", None))[0] if node else "app"


def _types(prices: Any, cloud: str, options: Options) -> list[packing.NodeType]:
    offered = [
        packing.NodeType(t.name, t.vcpu, t.memory_gib, t.hourly)
        for t in prices.instance_types(cloud, options.region)
        if (options.arm or not packing.is_arm(t.name))
        and (options.burstable or not packing.is_burstable(t.name))
        and (not options.types or any(fnmatch.fnmatchcase(t.name, p) for p in options.types))
    ]
    if not offered:
        raise PreconditionFailed(
            f"--types {' '.join(options.types)} matches no instance type the price table has in {options.region}"
        )
    return offered


def _pools(
    usage: Usage, rows: Sequence[Row], prices: Any, cloud: str, options: Options, notes: list[str]
) -> list[dict[str, Any]]:
    proposed = {
        (r.namespace, pod, r.container): r.proposal.requests for r in rows if r.kind != "DaemonSet" for pod in r.pods
    }
    pods: dict[str, list[packing.Pod]] = defaultdict(list)
    daemons: dict[str, dict[str, list[float]]] = defaultdict(dict)
    per_pod: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (namespace, pod, container), observed in usage.containers.items():
        if not observed.requests:
            continue  # not running now
        kind, name = _workload(usage, namespace, pod)
        if kind in TRANSIENT_OWNERS:
            continue
        pool = _pool(usage, namespace, pod)
        requests = proposed.get((namespace, pod, container), observed.requests)
        if kind == "DaemonSet":
            # Once per node: the DaemonSet's current requests (charts the project does not size).
            key = f"{namespace}/{name}/{container}"
            held = daemons[pool].setdefault(key, [0.0, 0.0])
            held[0] = max(held[0], observed.requests.get("cpu", 0.0))
            held[1] = max(held[1], observed.requests.get("memory", 0.0))
            continue
        total = per_pod[(pool, f"{namespace}/{pod}")]
        total[0] += requests.get("cpu", 0.0)
        total[1] += requests.get("memory", 0.0)
    for (pool, name), (cpu, memory) in per_pod.items():
        pods[pool].append(packing.Pod(name, cpu, memory))
    inventory: dict[str, dict[str | None, int]] = defaultdict(lambda: defaultdict(int))
    for pool, kind in usage.nodes.values():
        inventory[pool][kind] += 1
    types = _types(prices, cloud, options)
    report = []
    for pool in sorted(set(pods) | set(inventory) | set(options.current)):
        overhead = (
            sum(c for c, _ in daemons[pool].values()),
            sum(m for _, m in daemons[pool].values()),
        )
        discount = prices.spot(cloud) if pool in options.spot else 0.0
        members = pods.get(pool, [])
        entry: dict[str, Any] = {
            "pool": pool,
            "pods": len(members),
            "requests": {
                "cpu": round(sum(p.cpu for p in members), 3),
                "memoryGib": _gib(sum(p.memory for p in members)),
            },
            "daemonSetsPerNode": {"cpu": round(overhead[0], 3), "memoryGib": _gib(overhead[1])},
            "spot": pool in options.spot,
            "current": _current(pool, inventory.get(pool, {}), prices, cloud, options, discount, notes),
        }
        try:
            fit = packing.cheapest(members, overhead, types, options.headroom, options.min_nodes)
        except packing.NoFit as problem:
            entry["proposed"], entry["reason"] = None, str(problem)
            notes.append(f"pool {pool}: {problem}")
        else:
            monthly = prices.monthly(fit.hourly) * (1 - discount)
            entry["proposed"] = {
                "type": fit.type.name,
                "count": fit.count,
                "monthlyUsd": round(monthly, 2),
                "cpuRequested": round(fit.cpu_share, 3),
                "memoryRequested": round(fit.memory_share, 3),
            }
            if entry["current"] and entry["current"]["monthlyUsd"] is not None:
                entry["savingMonthlyUsd"] = round(entry["current"]["monthlyUsd"] - monthly, 2)
        report.append(entry)
    return report


def _current(
    pool: str,
    counted: Mapping[str | None, int],
    prices: Any,
    cloud: str,
    options: Options,
    discount: float,
    notes: list[str],
) -> dict[str, Any] | None:
    from policies.cost.prices import UnknownPrice

    if pool in options.current:
        kind, count = options.current[pool]
        counted = {kind: count}
    if not counted:
        return None
    hourly: float | None = 0.0
    for kind, count in counted.items():
        try:
            if kind is None:
                raise UnknownPrice("instance type not exported")
            hourly = None if hourly is None else hourly + count * prices.instance(cloud, options.region, kind).hourly
        except UnknownPrice as unknown:
            notes.append(f"pool {pool}: today's cost unknown: {unknown}")
            hourly = None
    return {
        "nodes": {str(kind or "unknown"): count for kind, count in sorted(counted.items(), key=lambda i: str(i[0]))},
        "monthlyUsd": None if hourly is None else round(prices.monthly(hourly) * (1 - discount), 2),
    }


def _gib(size: float) -> float:
    return round(size / quantity.GI, 3)


def _amounts(values: Mapping[str, float]) -> dict[str, str]:
    shown = {}
    if "cpu" in values:
        shown["cpu"] = quantity.cpu_text(values["cpu"])
    if "memory" in values:
        shown["memory"] = quantity.memory_text(values["memory"])
    return shown


def _row_json(row: Row) -> dict[str, Any]:
    u = row.usage
    return {
        "namespace": row.namespace,
        "kind": row.kind,
        "workload": row.workload,
        "container": row.container,
        "pool": row.pool,
        "replicas": len(row.pods),
        "usage": {
            "cpuP95": _round(u.cpu_p95),
            "cpuP99": _round(u.cpu_p99),
            "memoryPeakBytes": _round(u.memory_peak, 0),
            "throttledRatio": _round(u.throttled),
            "oomKilled": u.oom_killed,
        },
        "current": {"requests": _amounts(u.requests), "limits": _amounts(u.limits)},
        "vpa": None
        if row.vpa is None
        else {
            "name": row.vpa.vpa,
            "target": _amounts(row.vpa.target),
            "lowerBound": _amounts(row.vpa.lower_bound),
            "upperBound": _amounts(row.vpa.upper_bound),
            "uncappedTarget": _amounts(row.vpa.uncapped_target),
        },
        "proposed": {"requests": _amounts(row.proposal.requests), "limits": _amounts(row.proposal.limits)},
        "verdict": row.proposal.verdict,
        "flags": row.proposal.flags,
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def snippet(app: Row | None, pools: Sequence[Mapping[str, Any]]) -> str:
    """The stack config to apply (Pulumi.<stack>.yaml): the API's resources and the pools."""
    lines = []
    if (
        app is not None
        and {"cpu", "memory"} <= set(app.proposal.requests)
        and {"cpu", "memory"} <= set(app.proposal.limits)
    ):
        requests, limits = _amounts(app.proposal.requests), _amounts(app.proposal.limits)
        lines += [
            "  projectai:app:",
            "    resources:",
            f'      requests: {{cpu: "{requests["cpu"]}", memory: "{requests["memory"]}"}}',
            f'      limits: {{cpu: "{limits["cpu"]}", memory: "{limits["memory"]}"}}',
        ]
    keys = {"app": "appPool", "system": "systemPool"}
    shown = [p for p in pools if p["pool"] in keys and p.get("proposed")]
    if shown:
        lines.append("  projectai:platform:")
        for pool in shown:
            proposed = pool["proposed"]
            count = proposed["count"]
            lines.append(
                f"    {keys[pool['pool']]}: {{types: [{proposed['type']}], min: {count}, desired: {count}, "
                f"max: {max(count * 2, count + 1)}}}"
            )
    return "\n".join(lines) + ("\n" if lines else "")
