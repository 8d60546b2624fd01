"""`ops commitments`: per product and term, the hourly commitment that saves the most
over the usage history, its utilization, the monthly saving against all on-demand, the
break-even utilization and what happens if usage drops (a table, or --format json)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from ops import arguments as argtypes

# The commitment products by what they cover, per cloud (their names in prices.yaml).
PRODUCTS = {
    ("aws", "compute"): ("computeSavingsPlan", "ec2InstanceSavingsPlan"),
    ("aws", "database"): ("rdsReserved",),
    ("aws", "cache"): ("elasticacheReserved",),
    ("gcp", "compute"): ("computeCommittedUse",),
    ("gcp", "database"): ("cloudSqlCommittedUse",),
}
# EC2 Instance Savings Plans bind one family in one region: planned per family.
PER_FAMILY = ("ec2InstanceSavingsPlan",)


def register(groups: Any) -> None:
    command = groups.add_parser(
        "commitments",
        help="plan Savings Plans / reserved capacity / committed use from an hourly usage history",
        description=__doc__ + " The history is a timestamp,value CSV (on-demand USD per hour, or a node count with "
        "--instance-type) or Prometheus's node counts by instance type; at least 14 days, without gaps.",
    )
    command.add_argument(
        "file", type=Path, nargs="?", metavar="FILE.csv", help="timestamp,value at an interval dividing an hour"
    )
    command.add_argument("--region", required=True, help="where the usage runs, as the price table names it")
    command.add_argument("--usage", choices=("compute", "database", "cache"), default="compute", help="(compute)")
    command.add_argument("--instance-type", metavar="TYPE", help="FILE's values are counts of this type")
    command.add_argument("--prometheus", metavar="URL", help="read node counts by instance type instead of FILE")
    command.add_argument(
        "--days", type=argtypes.count(14, 365), default=30, metavar="N", help="history read from Prometheus (30)"
    )
    command.add_argument("--query", help="node counts by instance type (OpenCost's node_total_hourly_cost)")
    command.add_argument("--type-label", default="instance_type", help="the query's instance type label")
    command.add_argument("--product", action="append", default=[], help="only these products (all for --usage)")
    command.add_argument("--drop", type=argtypes.fraction, default=0.2, help="the usage drop to test, 0-1 (0.2)")
    command.add_argument("--format", choices=("table", "json"), default="table", help="(table)")
    command.add_argument(
        "--timeout-seconds", type=argtypes.seconds(1, 600), default=60.0, metavar="S", help="per query (60)"
    )
    command.set_defaults(run=_run)


def _run(arguments: argparse.Namespace) -> int:
    from ops.commitments import history, plan
    from ops.prometheus import Prometheus
    from ops.steps import PreconditionFailed
    from policies.cost import prices as price_table

    if (arguments.file is None) == (arguments.prometheus is None):
        raise PreconditionFailed("expected FILE.csv or --prometheus URL (one of them)")
    try:
        prices = price_table.load()
    except price_table.PriceError as problem:
        raise PreconditionFailed(str(problem)) from None
    cloud = _cloud(prices, arguments.region)
    products = PRODUCTS.get((cloud, arguments.usage))
    if not products:
        raise PreconditionFailed(f"the price table has no {cloud} commitment for {arguments.usage} usage")
    for product in arguments.product:
        if product not in products:
            raise PreconditionFailed(f"--product {product!r}; expected one of {', '.join(products)}")
    chosen = tuple(arguments.product) or products

    def price_of(kind: str) -> float:
        try:
            if arguments.usage == "database":
                return prices.database(cloud, arguments.region, kind)
            if arguments.usage == "cache":
                return prices.cache(cloud, arguments.region, kind)
            return prices.instance(cloud, arguments.region, kind).hourly
        except price_table.UnknownPrice as unknown:
            raise PreconditionFailed(str(unknown)) from None

    if arguments.file is not None:
        price = price_of(arguments.instance_type) if arguments.instance_type else None
        usage = history.from_csv(arguments.file, price)
    else:
        client = Prometheus(arguments.prometheus, timeout_seconds=arguments.timeout_seconds)
        try:
            usage = history.from_prometheus(
                client, arguments.query or history.DEFAULT_QUERY, arguments.type_label, arguments.days, price_of
            )
        finally:
            client.close()
    plans, notes = [], []
    for product in chosen:
        terms = prices.commitments[cloud][product]
        for term, discount in sorted(terms.items()):
            if product in PER_FAMILY and usage.by_type:
                plans += [
                    plan.plan(values, f"{product}:{family}", term, discount, prices.hours_per_month, arguments.drop)
                    for family, values in _families(usage.by_type).items()
                ]
            else:
                if product in PER_FAMILY:
                    notes.append(f"{product} binds one instance family: planned on the total, as if it were one")
                plans.append(plan.plan(usage.hourly, product, term, discount, prices.hours_per_month, arguments.drop))
    report = {
        "source": usage.source,
        "hours": len(usage.hourly),
        "region": arguments.region,
        "prices": prices.note,
        "plans": [_json(p, usage.unit_price) for p in plans],
        "notes": sorted(set(notes)),
    }
    print(json.dumps(report, indent=2, sort_keys=True) if arguments.format == "json" else table(report))
    return 0


def _cloud(prices: Any, region: str) -> str:
    from ops.steps import PreconditionFailed

    for cloud, regions in prices.instances.items():
        if region in regions:
            return cloud
    known = ", ".join(r for regions in prices.instances.values() for r in regions)
    raise PreconditionFailed(f"--region {region!r} is not in the price table; expected one of {known}")


def _families(by_type: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
    """USD/h per instance family (m6i.large and m6i.xlarge: m6i)."""
    families: dict[str, list[float]] = {}
    for kind, values in by_type.items():
        family = re.split(r"[.-]", kind, maxsplit=1)[0]
        column = families.setdefault(family, [0.0] * len(values))
        for i, value in enumerate(values):
            column[i] += value
    return {family: tuple(values) for family, values in sorted(families.items())}


def _json(p: Any, unit_price: float | None) -> dict[str, Any]:
    # Where the history counts nodes of one type: the commitment in nodes (reservations).
    nodes = {"coveredNodes": round(p.covered_hourly / unit_price, 3)} if unit_price else {}
    return {
        **nodes,
        "product": p.product,
        "term": p.term,
        "discount": p.discount,
        "coveredOnDemandHourlyUsd": round(p.covered_hourly, 4),
        "commitmentHourlyUsd": round(p.committed_hourly, 4),
        "utilization": round(p.utilization, 4),
        "coverage": round(p.coverage, 4),
        "onDemandMonthlyUsd": round(p.on_demand_monthly, 2),
        "savingMonthlyUsd": round(p.saving_monthly, 2),
        "savingShare": round(p.saving_share, 4),
        "breakEvenUtilization": round(p.break_even_utilization, 4),
        "ifUsageDrops": {
            "by": p.drop,
            "utilization": round(p.drop_utilization, 4),
            "savingMonthlyUsd": round(p.drop_saving_monthly, 2),
        },
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"Commitments from {report['hours']} hours of {report['source']} in {report['region']} ({report['prices']})",
        "",
    ]
    header = ("PRODUCT", "TERM", "COMMIT $/H", "COVERS $/H", "UTIL", "SAVES $/MO", "OF BILL", "BREAK-EVEN", "IF -X%")
    rows = [header]
    for p in report["plans"]:
        drop = p["ifUsageDrops"]
        rows.append(
            (
                p["product"],
                p["term"],
                f"{p['commitmentHourlyUsd']:.4f}",
                f"{p['coveredOnDemandHourlyUsd']:.4f}",
                f"{p['utilization']:.0%}",
                f"{p['savingMonthlyUsd']:,.2f}",
                f"{p['savingShare']:.0%}",
                f"{p['breakEvenUtilization']:.0%}",
                f"-{drop['by']:.0%}: util {drop['utilization']:.0%}, saves {drop['savingMonthlyUsd']:,.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if report["plans"]:
        lines += ["", f"On demand: {report['plans'][0]['onDemandMonthlyUsd']:,.2f} USD a month over the history."]
    lines += [
        "The commitment covers the usage reached in at least (1 - discount) of the hours; it pays off while "
        "used above the break-even utilization."
    ]
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)
