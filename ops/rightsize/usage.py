"""What the containers used over a window, and what they request now, read from
Prometheus: cAdvisor's usage (the kubelet's /metrics/cadvisor) and kube-state-metrics'
requests, limits, owners and nodes. Every query is an instant query at Prometheus's now
over the window (quantiles through a subquery), so its answer is one number per series.

A query that must answer and returns nothing is an error that names the query and what
it needs; the optional ones (throttling, OOM kills, node labels) leave a note instead."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.prometheus import NAMESPACE, Prometheus
from ops.steps import OpsError, PreconditionFailed

WINDOW = re.compile(r"^(\d{1,4})([mhdw])$")
_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# A day at least: one daily cycle of load, or a p95 says little.
MIN_WINDOW_SECONDS = 86400
MAX_WINDOW_SECONDS = 90 * 86400
# The rate's range and the subquery's step: 5 minutes, four scrapes at the usual 15 s
# interval with room for a missed one.
STEP = "5m"
KEY = ("namespace", "pod", "container")
# The taint the system pool carries (stacks/platforms.py SYSTEM_TAINTS), which
# kube-state-metrics exports without any allowlist.
SYSTEM_TAINT = "CriticalAddonsOnly"
INSTANCE_TYPE_LABELS = ("label_node_kubernetes_io_instance_type", "label_beta_kubernetes_io_instance_type")

Key = tuple[str, str, str]


def window_seconds(text: str) -> int:
    """'7d' -> seconds; PreconditionFailed outside a day to 90 days."""
    match = WINDOW.match(text)
    if not match:
        raise PreconditionFailed(f"--window {text!r}; expected a whole number and a unit m, h, d or w, such as 7d")
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if seconds < MIN_WINDOW_SECONDS:
        raise PreconditionFailed(
            f"--window {text} is too short; expected at least 1d (a daily cycle of load), 7d to see a week's"
        )
    if seconds > MAX_WINDOW_SECONDS:
        raise PreconditionFailed(f"--window {text} is longer than 90d; expected 1d to 90d")
    return seconds


@dataclass
class Container:
    """One container of one pod: usage over the window (None: no data) and what it asks now."""

    cpu_p95: float | None = None
    cpu_p99: float | None = None
    memory_peak: float | None = None
    throttled: float | None = None
    oom_killed: bool = False
    requests: dict[str, float] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)
    # Values Prometheus answered that are not usage (NaN, infinite, negative): said, not used.
    invalid: list[str] = field(default_factory=list)


@dataclass
class Usage:
    containers: dict[Key, Container]
    # (namespace, pod) -> (owner kind, owner name): the workload, through its ReplicaSet.
    owners: dict[tuple[str, str], tuple[str, str]]
    # (namespace, pod) -> node, and node -> (pool, instance type or None).
    pod_nodes: dict[tuple[str, str], str]
    nodes: dict[str, tuple[str, str | None]]
    # Seconds of history Prometheus holds within the window.
    covered_seconds: float
    notes: list[str] = field(default_factory=list)


def selector(namespaces: Sequence[str], containers: bool = True) -> str:
    for namespace in namespaces:
        if not NAMESPACE.fullmatch(namespace):
            raise PreconditionFailed(f"--namespace {namespace!r}; expected a Kubernetes namespace name")
    matchers = ['container!=""', 'container!="POD"'] if containers else []
    matchers.append(f'namespace=~"{"|".join(namespaces)}"' if namespaces else 'namespace!=""')
    return "{" + ",".join(matchers) + "}"


def queries(window: str, namespaces: Sequence[str]) -> dict[str, str]:
    """Every query by what it reads (tests answer them by this name)."""
    s, ksm = selector(namespaces), selector(namespaces, containers=False)
    by = "namespace, pod, container"
    rate = f"sum by ({by}) (rate(container_cpu_usage_seconds_total{s}[{STEP}]))"
    return {
        "coverage": f"time() - min(min_over_time(timestamp(container_memory_working_set_bytes{s})[{window}:1h]))",
        "cpu_p95": f"max by ({by}) (quantile_over_time(0.95, ({rate})[{window}:{STEP}]))",
        "cpu_p99": f"max by ({by}) (quantile_over_time(0.99, ({rate})[{window}:{STEP}]))",
        "memory_peak": f"max by ({by}) (max_over_time(container_memory_working_set_bytes{s}[{window}]))",
        "throttled": f"sum by ({by}) (increase(container_cpu_cfs_throttled_periods_total{s}[{window}])) / "
        f"sum by ({by}) (increase(container_cpu_cfs_periods_total{s}[{window}]))",
        "oom_killed": f"max by ({by}) (max_over_time("
        f'kube_pod_container_status_last_terminated_reason{{reason="OOMKilled",{ksm[1:-1]}}}[{window}]))',
        "requests": f"max by ({by}, resource) "
        f'(kube_pod_container_resource_requests{{resource=~"cpu|memory",namespace!=""}})',
        "limits": f"max by ({by}, resource) "
        f'(kube_pod_container_resource_limits{{resource=~"cpu|memory",namespace!=""}})',
        "pod_owners": 'max by (namespace, pod, owner_kind, owner_name) (kube_pod_owner{namespace!=""})',
        "replicaset_owners": "max by (namespace, replicaset, owner_kind, owner_name) "
        '(kube_replicaset_owner{namespace!=""})',
        "pod_nodes": 'max by (namespace, pod, node) (kube_pod_info{node!=""})',
        "nodes": "kube_node_info",
        "system_nodes": f'max by (node) (kube_node_spec_taint{{key="{SYSTEM_TAINT}"}})',
        "node_labels": "kube_node_labels",
    }


# What each query needs when it returns nothing; None: optional.
NEEDS = {
    "coverage": "cAdvisor's container metrics (the kubelet's /metrics/cadvisor scraped by Prometheus)",
    "cpu_p95": "cAdvisor's container_cpu_usage_seconds_total (the kubelet's /metrics/cadvisor scraped by Prometheus)",
    "memory_peak": "cAdvisor's container_memory_working_set_bytes (the kubelet's /metrics/cadvisor)",
    "requests": "kube-state-metrics (kube_pod_container_resource_requests) scraped by Prometheus",
    "nodes": "kube-state-metrics (kube_node_info)",
}


def read(prometheus: Prometheus, window: str, namespaces: Sequence[str], pool_label: str) -> Usage:
    texts = queries(window, namespaces)

    def ask(name: str) -> list[dict[str, Any]]:
        result = prometheus.vector(texts[name])
        if not result and name in NEEDS:
            scope = f" in namespace(s) {', '.join(namespaces)}" if namespaces else ""
            raise OpsError(f"Prometheus returned nothing for {name}{scope} ({texts[name]}); it needs {NEEDS[name]}")
        return result

    covered = _number(ask("coverage")[0])
    window_s = window_seconds(window)
    if covered is None or covered < MIN_WINDOW_SECONDS - 3600:
        hours = "no" if covered is None else f"{covered / 3600:.0f} h of"
        raise PreconditionFailed(
            f"Prometheus holds {hours} container history in the {window} window; expected at least a day "
            "(a daily cycle of load): wait, or check its retention"
        )
    usage = Usage({}, {}, {}, {}, covered_seconds=min(covered, window_s))
    if covered < 0.9 * window_s:
        usage.notes.append(
            f"Prometheus holds {covered / 86400:.1f} d of the {window} window (its retention or the cluster's age)"
        )
    containers: dict[Key, Container] = defaultdict(Container)
    for name in ("cpu_p95", "cpu_p99", "memory_peak", "throttled"):
        series = ask(name)
        if not series and name in ("cpu_p99", "throttled"):
            usage.notes.append(f"no {name.replace('_', ' ')} series: " + _optional(name))
        for item in series:
            key, value = _key(item), _number(item)
            if value is None or value < 0:
                containers[key].invalid.append(f"{name} {_raw(item)}")
                continue
            setattr(containers[key], name, value)
    for item in ask("oom_killed"):
        if (_number(item) or 0) > 0:
            containers[_key(item)].oom_killed = True
    for name in ("requests", "limits"):
        for item in ask(name):
            value, resource = _number(item), item.get("metric", {}).get("resource")
            if value is not None and value >= 0 and resource in ("cpu", "memory"):
                getattr(containers[_key(item)], name)[resource] = value
    usage.containers = dict(containers)
    usage.owners = _owners(ask("pod_owners"), ask("replicaset_owners"))
    if not usage.owners:
        usage.notes.append("no kube_pod_owner series: each pod is its own workload (kube-state-metrics needed)")
    usage.pod_nodes = {
        (m.get("namespace", ""), m.get("pod", "")): m.get("node", "") for m in _metrics(ask("pod_nodes"))
    }
    usage.nodes = _nodes(ask("nodes"), ask("system_nodes"), ask("node_labels"), pool_label, usage.notes)
    return usage


def _optional(name: str) -> str:
    return {
        "cpu_p99": "CPU limits are sized from the p95",
        "throttled": "CPU throttling is not checked (cAdvisor's container_cpu_cfs_* need CPU limits set)",
    }[name]


def _metrics(series: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [item.get("metric", {}) if isinstance(item.get("metric"), dict) else {} for item in series]


def _key(item: dict[str, Any]) -> Key:
    metric = item.get("metric") if isinstance(item.get("metric"), dict) else {}
    return tuple(str(metric.get(label, "")) for label in KEY)  # type: ignore[return-value]


def _raw(item: dict[str, Any]) -> str:
    value = item.get("value")
    return str(value[1]) if isinstance(value, list) and len(value) == 2 else repr(value)


def _number(item: dict[str, Any]) -> float | None:
    """The sample's value; None for what is not a finite number (Prometheus writes NaN, +Inf)."""
    value = item.get("value")
    if not isinstance(value, list) or len(value) != 2:
        return None
    try:
        number = float(value[1])
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _owners(pods: list[dict[str, Any]], replicasets: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, str]]:
    """A pod's workload: its owner, or its ReplicaSet's owner (a Deployment, an Argo Rollout)."""
    above = {
        (m.get("namespace", ""), m.get("replicaset", "")): (m.get("owner_kind", ""), m.get("owner_name", ""))
        for m in _metrics(replicasets)
        if m.get("owner_kind") not in (None, "", "<none>")
    }
    owners = {}
    for m in _metrics(pods):
        namespace, kind, name = m.get("namespace", ""), m.get("owner_kind", ""), m.get("owner_name", "")
        if kind in ("", "<none>"):
            continue
        workload = above.get((namespace, name), (kind, name)) if kind == "ReplicaSet" else (kind, name)
        owners[(namespace, m.get("pod", ""))] = workload
    return owners


def _nodes(
    info: list[dict[str, Any]],
    tainted: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    pool_label: str,
    notes: list[str],
) -> dict[str, tuple[str, str | None]]:
    """Each node's pool (its pool label's value; else `system` for the system pool's taint,
    `app` for the rest) and instance type (when kube-state-metrics exports the label)."""
    system = {m.get("node", "") for m in _metrics(tainted)}
    by_node = {m.get("node", ""): m for m in _metrics(labels)}
    label = "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", pool_label)
    nodes: dict[str, tuple[str, str | None]] = {}
    for m in _metrics(info):
        node = m.get("node", "")
        exported = by_node.get(node, {})
        pool = exported.get(label) or ("system" if node in system else "app")
        kind = next((exported[name] for name in INSTANCE_TYPE_LABELS if exported.get(name)), None)
        nodes[node] = (pool, kind)
    if nodes and all(kind is None for _, kind in nodes.values()):
        notes.append(
            "kube_node_labels has no instance-type label (kube-state-metrics' --metric-labels-allowlist="
            "nodes=[node.kubernetes.io/instance-type]): give today's pools with --current POOL=TYPE:COUNT"
        )
    return nodes
