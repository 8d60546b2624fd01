"""The two tests the judge runs, on the aggregates Prometheus keeps.

- Latency: the Mann–Whitney U test on histogram bucket counts. A request's latency is
  known only to its bucket, so each request is its bucket's rank: ties within a bucket
  get the midrank, and the variance carries the tie correction. This is the test scipy's
  `mannwhitneyu(..., method="asymptotic")` runs on the expanded samples (the tests check
  that), without expanding a million requests into a million numbers.
- Errors: the two-proportion z-test on error and request counts.

Both are one-sided: the question is only whether the canary is worse.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class RankTest:
    u: float
    z: float
    # One-sided: the chance of a shift this large towards slower if there were none.
    p_value: float
    # P(canary slower) + P(tie) / 2: 0.5 is no difference (the common-language effect size).
    superiority: float


def rank_test(canary: Sequence[int], baseline: Sequence[int]) -> RankTest:
    """Is the canary's distribution over the same ordered buckets shifted up?"""
    if len(canary) != len(baseline):
        raise ValueError(f"bucket counts differ in length: {len(canary)} and {len(baseline)}")
    n1, n2 = sum(canary), sum(baseline)
    if n1 == 0 or n2 == 0:
        raise ValueError("each side needs at least one sample")
    total = n1 + n2
    rank_sum, below, ties = 0.0, 0, 0.0
    for x, y in zip(canary, baseline, strict=True):
        tied = x + y
        rank_sum += x * (below + (tied + 1) / 2.0)
        below += tied
        ties += tied**3 - tied
    u = rank_sum - n1 * (n1 + 1) / 2.0
    mean = n1 * n2 / 2.0
    variance = n1 * n2 / 12.0 * ((total + 1) - ties / (total * (total - 1)))
    if variance <= 0:  # every request in one bucket: no evidence either way
        return RankTest(u, 0.0, 0.5, 0.5)
    # Continuity correction, towards the null, as scipy's `use_continuity`.
    z = (u - mean - 0.5) / math.sqrt(variance)
    return RankTest(u, z, normal_sf(z), u / (n1 * n2))


@dataclass(frozen=True)
class ProportionTest:
    z: float
    p_value: float
    # The canary's error rate minus the baseline's.
    difference: float


def proportion_test(canary_errors: int, canary_total: int, baseline_errors: int, baseline_total: int) -> ProportionTest:
    """Is the canary's error rate higher than the baseline's?"""
    for errors, total in ((canary_errors, canary_total), (baseline_errors, baseline_total)):
        if total <= 0 or not 0 <= errors <= total:
            raise ValueError(f"{errors} errors of {total} requests is not a proportion")
    rate_c, rate_b = canary_errors / canary_total, baseline_errors / baseline_total
    pooled = (canary_errors + baseline_errors) / (canary_total + baseline_total)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / canary_total + 1 / baseline_total))
    if spread == 0:  # no errors anywhere, or nothing but errors: no difference to see
        return ProportionTest(0.0, 0.5, rate_c - rate_b)
    z = (rate_c - rate_b) / spread
    return ProportionTest(z, normal_sf(z), rate_c - rate_b)
