"""`ops rightsize`: proposed requests, limits and node pools from Prometheus's usage and
the VPA's recommendations (a human table, or --format json)."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from ops import arguments as argtypes

CURRENT = re.compile(r"^([a-z0-9-]{1,63})=([a-z0-9][a-z0-9.-]{0,62}):(\d{1,3})$")


def register(groups: Any) -> None:
    command = groups.add_parser(
        "rightsize",
        help="propose container requests/limits and node pools from Prometheus usage and VPA recommendations",
        description="Reads each container's CPU p95/p99, peak memory, throttling and OOM kills over --window from "
        "Prometheus (cAdvisor and kube-state-metrics), and the VPA recommendations; proposes requests and limits, "
        "flags over- and under-provisioned containers, and the cheapest instance type and count per node pool "
        "from the price table (policies/cost/prices.yaml). Changes nothing.",
    )
    command.add_argument("--prometheus", required=True, metavar="URL", help="Prometheus's base URL")
    command.add_argument("--window", default="7d", help="usage window, 1d to 90d (7d)")
    command.add_argument(
        "--namespace", action="append", default=[], metavar="NS", help="only these namespaces (repeatable; all)"
    )
    source = command.add_mutually_exclusive_group()
    source.add_argument("--vpa-file", type=Path, metavar="FILE", help="`kubectl get vpa -A -o json` output")
    source.add_argument("--kubeconfig", type=Path, metavar="FILE", help="read the VPAs with this kubeconfig")
    source.add_argument("--in-cluster", action="store_true", help="read the VPAs as the pod's ServiceAccount")
    source.add_argument("--no-vpa", action="store_true", help="usage only")
    command.add_argument("--context", help="the kubeconfig context (its current one)")
    command.add_argument("--region", required=True, help="the cluster's region, as the price table names it")
    command.add_argument(
        "--types", action="append", default=[], metavar="GLOB", help="instance types to consider, e.g. 'm*' (all)"
    )
    command.add_argument("--arm", action="store_true", help="also consider arm64 types (the images are amd64)")
    command.add_argument(
        "--burstable", action="store_true", help="also consider burstable types (t3: CPU credits are not priced)"
    )
    command.add_argument(
        "--headroom", type=argtypes.number(0, 0.9), default=0.2, help="share of each node kept free, 0 to 0.9 (0.2)"
    )
    command.add_argument(
        "--min-nodes", type=argtypes.count(1, 100), default=2, metavar="N", help="nodes a pool keeps at least (2)"
    )
    command.add_argument(
        "--current",
        action="append",
        default=[],
        type=_current,
        metavar="POOL=TYPE:COUNT",
        help="what a pool runs today, where kube-state-metrics does not export node instance types",
    )
    command.add_argument("--spot", action="append", default=[], metavar="POOL", help="a pool on spot capacity")
    command.add_argument("--pool-label", default="node-role", help="the node label naming its pool (node-role)")
    command.add_argument("--app-namespace", default="project-ai", help="the API's namespace (project-ai)")
    command.add_argument("--app-container", default="api", help="the API's container (api)")
    command.add_argument("--format", choices=("table", "json"), default="table", help="(table)")
    command.add_argument(
        "--timeout-seconds",
        type=argtypes.seconds(1, 600),
        default=60.0,
        metavar="S",
        help="per Prometheus query and Kubernetes call (60: quantiles over a week take a while)",
    )
    command.set_defaults(run=_run)


def _current(value: str) -> tuple[str, str, int]:
    match = CURRENT.match(value)
    if not match:
        raise argparse.ArgumentTypeError(f"{value!r}; expected POOL=TYPE:COUNT such as app=m6i.xlarge:3")
    return match.group(1), match.group(2), int(match.group(3))


def _run(arguments: argparse.Namespace) -> int:
    from ops.prometheus import Prometheus
    from ops.rightsize import report, usage, vpa
    from ops.steps import PreconditionFailed
    from policies.cost import prices as price_table

    usage.window_seconds(arguments.window)
    namespaces = tuple(dict.fromkeys(arguments.namespace))
    usage.selector(namespaces)
    try:
        prices = price_table.load()
    except price_table.PriceError as problem:
        raise PreconditionFailed(str(problem)) from None
    options = report.Options(
        region=arguments.region,
        headroom=arguments.headroom,
        min_nodes=arguments.min_nodes,
        types=tuple(arguments.types),
        arm=arguments.arm,
        burstable=arguments.burstable,
        spot=tuple(arguments.spot),
        current={pool: (kind, count) for pool, kind, count in arguments.current},
        namespaces=namespaces,
        app_namespace=arguments.app_namespace,
        app_container=arguments.app_container,
    )
    report.cloud_of(prices, options.region)  # a wrong region is refused before any query
    if arguments.no_vpa:
        recommendations = vpa.Recommendations({}, ["VPA recommendations not read (--no-vpa)"])
    elif arguments.vpa_file is not None:
        recommendations = vpa.from_file(arguments.vpa_file)
    else:
        in_cluster = arguments.in_cluster or (arguments.kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ)
        recommendations = vpa.from_cluster(
            arguments.kubeconfig, arguments.context, in_cluster, namespaces, arguments.timeout_seconds
        )
    client = Prometheus(arguments.prometheus, timeout_seconds=arguments.timeout_seconds)
    try:
        observed = usage.read(client, arguments.window, namespaces, arguments.pool_label)
    finally:
        client.close()
    result = report.build(observed, recommendations, prices, options)
    result["window"] = arguments.window
    if arguments.format == "json":
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    """The report for a terminal: containers, pools, the config to apply, notes."""
    lines = [f"Right-sizing over {result['window']} in {result['region']} ({result['prices']})", ""]
    header = ("WORKLOAD", "CONTAINER", "PODS", "CPU P95", "MEM PEAK", "CPU REQ", "CPU LIM", "MEM REQ", "MEM LIM", "")
    rows = [header]
    for c in result["containers"]:
        u, now, new = c["usage"], c["current"], c["proposed"]
        rows.append(
            (
                f"{c['namespace']}/{c['kind'].lower()}/{c['workload']}",
                c["container"],
                str(c["replicas"]),
                "-" if u["cpuP95"] is None else _cpu(u["cpuP95"]),
                "-" if u["memoryPeakBytes"] is None else _memory(u["memoryPeakBytes"]),
                _change(now["requests"], new["requests"], "cpu"),
                _change(now["limits"], new["limits"], "cpu"),
                _change(now["requests"], new["requests"], "memory"),
                _change(now["limits"], new["limits"], "memory"),
                "; ".join([c["verdict"]] * (c["verdict"] != "ok") + c["flags"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows]
    lines += ["", "Node pools (monthly, USD):"]
    for pool in result["pools"]:
        current = pool["current"]
        now = (
            "unknown"
            if current is None
            else ", ".join(f"{n} x {t}" for t, n in current["nodes"].items())
            + (f" = {current['monthlyUsd']:,.2f}" if current["monthlyUsd"] is not None else " (unpriced)")
        )
        proposed = pool["proposed"]
        new = (
            pool.get("reason", "none")
            if proposed is None
            else f"{proposed['count']} x {proposed['type']} = {proposed['monthlyUsd']:,.2f} "
            f"(requests {proposed['cpuRequested']:.0%} CPU, {proposed['memoryRequested']:.0%} memory of usable)"
        )
        saving = f"; saves {pool['savingMonthlyUsd']:,.2f}" if "savingMonthlyUsd" in pool else ""
        spot = " (spot)" if pool["spot"] else ""
        lines.append(
            f"  {pool['pool']}{spot}: {pool['pods']} pods requesting {pool['requests']['cpu']:g} CPU, "
            f"{pool['requests']['memoryGib']:g} GiB; today {now}; proposed {new}{saving}"
        )
    if result["snippet"]:
        lines += ["", "Stack config (Pulumi.<stack>.yaml, under config:):", result["snippet"].rstrip()]
    lines += ["", "Policy: " + result["policy"]]
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)


def _cpu(cores: float) -> str:
    from ops.rightsize.quantity import cpu_text

    return cpu_text(cores)


def _memory(size: float) -> str:
    from ops.rightsize.quantity import memory_text

    return memory_text(size)


def _change(now: dict[str, str], new: dict[str, str], resource: str) -> str:
    before, after = now.get(resource, "-"), new.get(resource, "-")
    return after if before == after else f"{before}->{after}"
