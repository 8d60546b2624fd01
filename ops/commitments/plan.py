"""The commitment that maximizes the net saving over an hourly usage history.

Usage u_t is on-demand USD per hour. A commitment covering c USD/h of on-demand usage
costs c x (1 - d) every hour, used or not (d: the product's discount). Over T hours the
saving against all on-demand is

    S(c) = sum_t min(u_t, c) - T c (1 - d),

concave and piecewise linear in c, with slope #{t: u_t > c} - T (1 - d). It rises while
more than (1 - d) of the hours use more than c, so the optimum is the classic result:
commit up to the usage level that is reached in at least (1 - d) of the hours, the
ceil(T d)-th smallest hourly usage (the lower end where the slope is zero on a segment,
which saves as much with less at risk). tests/ops/test_commitments.py checks it against
a brute-force search."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def optimum(usage: Sequence[float], discount: float) -> float:
    """The on-demand USD/h to cover: the ceil(T d)-th smallest hour (0 without a discount)."""
    if not usage or discount <= 0:
        return 0.0
    rank = math.ceil(round(len(usage) * discount, 9))
    return sorted(usage)[max(rank, 1) - 1]


def saving(usage: Sequence[float], covered: float, discount: float) -> float:
    """USD saved over the whole history by committing to cover `covered` USD/h."""
    return sum(min(u, covered) for u in usage) - len(usage) * covered * (1 - discount)


@dataclass(frozen=True)
class Plan:
    product: str
    term: str
    discount: float
    # On-demand USD/h the commitment covers, and what it costs per hour (the Savings
    # Plan's commitment; a reservation's effective hourly rate).
    covered_hourly: float
    committed_hourly: float
    utilization: float
    coverage: float
    on_demand_monthly: float
    saving_monthly: float
    saving_share: float
    break_even_utilization: float
    # The same commitment if usage fell by `drop`.
    drop: float
    drop_utilization: float
    drop_saving_monthly: float


def plan(usage: Sequence[float], product: str, term: str, discount: float, hours_per_month: float, drop: float) -> Plan:
    hours = len(usage)
    covered = optimum(usage, discount)
    total = sum(usage)
    used = sum(min(u, covered) for u in usage)
    lower = [u * (1 - drop) for u in usage]
    per_month = hours_per_month / hours
    return Plan(
        product=product,
        term=term,
        discount=discount,
        covered_hourly=covered,
        committed_hourly=covered * (1 - discount),
        utilization=used / (hours * covered) if covered else 0.0,
        coverage=used / total if total else 0.0,
        on_demand_monthly=total * per_month,
        saving_monthly=saving(usage, covered, discount) * per_month,
        saving_share=saving(usage, covered, discount) / total if total else 0.0,
        break_even_utilization=1 - discount,
        drop=drop,
        drop_utilization=sum(min(u, covered) for u in lower) / (hours * covered) if covered else 0.0,
        drop_saving_monthly=saving(lower, covered, discount) * per_month,
    )
