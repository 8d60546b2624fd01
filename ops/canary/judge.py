"""The verdict: pass, fail or inconclusive, from the canary's and the baseline's samples
over the same window.

- Too few requests on either side: inconclusive (Argo Rollouts pauses the rollout for a
  human rather than promote on no evidence).
- Fail when a test is significant at `alpha` (halved: two tests, Bonferroni) and the
  effect is large enough to matter: a rank shift beyond `min_superiority`, or an error
  rate higher by `min_error_increase`. With a million requests even a harmless
  difference is "significant"; the effect size keeps such a canary passing.
- Otherwise pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ops.canary.stats import proportion_test, rank_test

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Arm:
    """One version's requests over the window: latency bucket counts (in the histogram's
    order, +Inf last), requests and errors."""

    buckets: tuple[int, ...]
    requests: int
    errors: int
    # The buckets' upper bounds, where known: arms are compared bucket by bucket only
    # when they bucket alike (a release that changed its histogram is not comparable).
    bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.01
    min_requests: int = 200
    # P(canary slower) above 0.5 by at least this: 0.56 means the canary's request is the
    # slower of a random pair 56% of the time.
    min_superiority: float = 0.06
    # An error rate higher by at least this (absolute): 0.005 is half a percentage point.
    min_error_increase: float = 0.005


@dataclass(frozen=True)
class Verdict:
    verdict: str
    reasons: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons), **self.details}


def judge(canary: Arm, baseline: Arm, thresholds: Thresholds) -> Verdict:
    alpha = thresholds.alpha / 2  # two tests
    reasons: list[str] = []
    details: dict[str, Any] = {
        "requests": {"canary": canary.requests, "baseline": baseline.requests},
        "errors": {"canary": canary.errors, "baseline": baseline.errors},
    }
    if canary.bounds and baseline.bounds and canary.bounds != baseline.bounds:
        return Verdict(INCONCLUSIVE, ("the two versions bucket latency differently; compare by hand",), details)
    if len(canary.buckets) != len(baseline.buckets):
        return Verdict(INCONCLUSIVE, ("the two versions report different latency buckets",), details)
    fewest = min(canary.requests, baseline.requests, sum(canary.buckets), sum(baseline.buckets))
    if fewest < thresholds.min_requests:
        return Verdict(
            INCONCLUSIVE,
            (f"{fewest} requests on one side, fewer than the {thresholds.min_requests} needed",),
            details,
        )
    latency = rank_test(canary.buckets, baseline.buckets)
    details["latency"] = {"p_value": latency.p_value, "superiority": round(latency.superiority, 4)}
    if latency.p_value < alpha and latency.superiority >= 0.5 + thresholds.min_superiority:
        reasons.append(
            f"latency: the canary is slower (P(slower) {latency.superiority:.3f}, p {latency.p_value:.2g} < {alpha:g})"
        )
    errors = proportion_test(canary.errors, canary.requests, baseline.errors, baseline.requests)
    details["error_rate"] = {"p_value": errors.p_value, "difference": round(errors.difference, 6)}
    if errors.p_value < alpha and errors.difference >= thresholds.min_error_increase:
        reasons.append(f"errors: the canary fails more (+{errors.difference:.4f}, p {errors.p_value:.2g} < {alpha:g})")
    return Verdict(FAIL if reasons else PASS, tuple(reasons) or ("no significant difference that matters",), details)
