"""The node pool that holds a set of pods at the lowest price: for each instance type the
price table has in the region, the fewest nodes that pack the pods by CPU and memory
requests at once, then the cheapest type and count.

A node offers its instance's vCPU and memory less what the kubelet reserves (GKE's
published formula, which reserves a little more than the EKS AMI's defaults at these
sizes) and less the DaemonSets' requests, which run on every node; of that, `headroom`
stays free (rolling updates' surge, the HPA's next replica). Packing is first-fit
decreasing, then an exact search for one node fewer when the pods are few; a pool keeps
at least `min_nodes` for availability."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ops.rightsize.quantity import GI, MI

# An exact search for small pools, bounded: beyond it first-fit decreasing's answer stands.
EXACT_PODS = 12
EXACT_STEPS = 200_000
# AWS Graviton (arm64) types: a 'g' after the generation (m7g, c7g, r6g, t4g). The
# project's images are built for amd64 only (.github/workflows/images.yml).
ARM = re.compile(r"^[a-z]+\d+g[a-z]*\.")
# Burstable types (t3, t4g; GCE's shared-core e2-micro/small/medium): their list price
# buys a CPU baseline of 20-40%, and sustained use above it bills CPU credits the table
# does not price.
BURSTABLE = re.compile(r"^(t\d+[a-z]*\.|e2-(micro|small|medium)$)")


@dataclass(frozen=True)
class Pod:
    name: str
    cpu: float
    memory: float


@dataclass(frozen=True)
class NodeType:
    name: str
    vcpu: float
    memory_gib: float
    hourly: float


@dataclass(frozen=True)
class Fit:
    type: NodeType
    count: int
    hourly: float
    # Shares of the pool's usable capacity the pods request.
    cpu_share: float
    memory_share: float


class NoFit(ValueError):
    """No instance type can hold one of the pods."""


def is_arm(name: str) -> bool:
    return bool(ARM.match(name))


def is_burstable(name: str) -> bool:
    return bool(BURSTABLE.match(name))


def reserved(node: NodeType) -> tuple[float, float]:
    """(cores, bytes) the kubelet and the system keep, with the 100Mi eviction threshold."""
    cpu = _tiers(node.vcpu, ((1, 0.06), (1, 0.01), (2, 0.005), (math.inf, 0.0025)))
    gib = node.memory_gib
    memory = 255 * MI if gib < 1 else _tiers(gib, ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02))) * GI
    return cpu, memory + 100 * MI


def _tiers(amount: float, tiers: Sequence[tuple[float, float]]) -> float:
    total, left = 0.0, amount
    for size, share in tiers:
        part = min(left, size)
        total, left = total + part * share, left - part
        if left <= 0:
            break
    return total


def capacity(node: NodeType, daemons: tuple[float, float], headroom: float) -> tuple[float, float]:
    """(cores, bytes) one node offers the pods."""
    cpu, memory = reserved(node)
    usable = 1.0 - headroom
    return (
        (node.vcpu - cpu - daemons[0]) * usable,
        (node.memory_gib * GI - memory - daemons[1]) * usable,
    )


def nodes_needed(pods: Sequence[Pod], cap: tuple[float, float]) -> int | None:
    """The fewest nodes of capacity `cap` that hold every pod; None if one pod fits on none."""
    if cap[0] <= 0 or cap[1] <= 0 or any(p.cpu > cap[0] or p.memory > cap[1] for p in pods):
        return None
    if not pods:
        return 0
    items = sorted(((p.cpu / cap[0], p.memory / cap[1]) for p in pods), key=lambda s: (-max(s), -sum(s)))
    lower = max(math.ceil(round(sum(c for c, _ in items), 9)), math.ceil(round(sum(m for _, m in items), 9)), 1)
    bins: list[list[float]] = []
    for cpu, memory in items:
        for used in bins:
            if used[0] + cpu <= 1 + 1e-9 and used[1] + memory <= 1 + 1e-9:
                used[0] += cpu
                used[1] += memory
                break
        else:
            bins.append([cpu, memory])
    best = len(bins)
    if len(items) <= EXACT_PODS:
        while best > lower and _packs(items, best - 1):
            best -= 1
    return best


def _packs(items: Sequence[tuple[float, float]], count: int) -> bool:
    """Whether `items` fit in `count` unit bins (depth-first, an empty bin tried once)."""
    bins = [[0.0, 0.0] for _ in range(count)]
    steps = [0]

    def place(index: int) -> bool:
        if index == len(items):
            return True
        steps[0] += 1
        if steps[0] > EXACT_STEPS:
            raise TimeoutError
        cpu, memory = items[index]
        tried_empty = False
        for used in bins:
            empty = used[0] == 0.0 and used[1] == 0.0
            if empty and tried_empty:
                continue
            if used[0] + cpu <= 1 + 1e-9 and used[1] + memory <= 1 + 1e-9:
                used[0] += cpu
                used[1] += memory
                if place(index + 1):
                    return True
                used[0] -= cpu
                used[1] -= memory
            tried_empty = tried_empty or empty
        return False

    try:
        return place(0)
    except TimeoutError:
        return False


def cheapest(
    pods: Sequence[Pod],
    daemons: tuple[float, float],
    types: Sequence[NodeType],
    headroom: float,
    min_nodes: int,
) -> Fit:
    """The cheapest (type, count) that holds `pods`; ties go to fewer nodes, then the name."""
    fits = []
    for node in types:
        cap = capacity(node, daemons, headroom)
        needed = nodes_needed(pods, cap)
        if needed is None:
            continue
        count = max(needed, min_nodes)
        fits.append(
            Fit(
                node,
                count,
                count * node.hourly,
                sum(p.cpu for p in pods) / (count * cap[0]),
                sum(p.memory for p in pods) / (count * cap[1]),
            )
        )
    if not fits:
        largest = max(pods, key=lambda p: (p.cpu, p.memory)) if pods else None
        what = f"{largest.name} ({largest.cpu:g} cores, {largest.memory / GI:.2f} GiB)" if largest else "the DaemonSets"
        raise NoFit(f"no instance type offered holds {what} with the headroom and DaemonSets")
    return min(fits, key=lambda f: (round(f.hourly, 9), f.count, f.type.name))
