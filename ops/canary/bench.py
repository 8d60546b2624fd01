"""`python -m ops.canary.bench`: how often the judge fails a canary, on generated traffic
with known effects. Under no effect that is its false-positive rate; under a real
regression, its power. Each arm's requests are drawn from a log-normal latency (median
80 ms) bucketed as the app's histogram buckets them, and a binomial error count.

`--record DIR` also writes the Prometheus answers for two scenarios (a healthy and a
slow canary) as the tests replay them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from app.metrics import LATENCY_BUCKETS
from ops.canary.judge import FAIL, Arm, Thresholds, judge

MEDIAN_SECONDS, SIGMA = 0.08, 0.6
BOUNDS = np.array(LATENCY_BUCKETS)


def arm(rng: np.random.Generator, requests: int, slowdown: float, error_rate: float) -> Arm:
    latencies = rng.lognormal(math.log(MEDIAN_SECONDS * slowdown), SIGMA, requests)
    buckets = np.bincount(np.searchsorted(BOUNDS, latencies, side="left"), minlength=len(BOUNDS) + 1)
    return Arm(tuple(int(c) for c in buckets), requests, int(rng.binomial(requests, error_rate)))


SCENARIOS = (
    # name, canary slowdown, baseline error rate, canary error rate
    ("no effect", 1.00, 0.01, 0.01),
    ("5% slower (harmless)", 1.05, 0.01, 0.01),
    ("25% slower", 1.25, 0.01, 0.01),
    ("50% slower", 1.50, 0.01, 0.01),
    ("errors +0.2 pp (harmless)", 1.00, 0.01, 0.012),
    ("errors +1 pp", 1.00, 0.01, 0.02),
    ("errors +3 pp", 1.00, 0.01, 0.04),
)


def fail_rate(rng: np.random.Generator, requests: int, scenario: tuple, trials: int, thresholds: Thresholds) -> float:
    _, slowdown, base_errors, canary_errors = scenario
    failed = sum(
        judge(arm(rng, requests, slowdown, canary_errors), arm(rng, requests, 1.0, base_errors), thresholds).verdict
        == FAIL
        for _ in range(trials)
    )
    return failed / trials


def prometheus_answers(canary: Arm) -> dict[str, dict]:
    """What Prometheus's /api/v1/query returns for the judge's three queries."""

    def vector(result: list[dict]) -> dict:
        return {"status": "success", "data": {"resultType": "vector", "result": result}}

    cumulative, total = [], 0
    for bound, count in zip([*LATENCY_BUCKETS, "+Inf"], canary.buckets, strict=True):
        total += count
        cumulative.append({"metric": {"le": str(bound)}, "value": [1764500000.0, str(float(total))]})
    return {
        "buckets": vector(cumulative),
        "requests": vector([{"metric": {}, "value": [1764500000.0, str(float(canary.requests))]}]),
        "errors": vector([{"metric": {}, "value": [1764500000.0, str(float(canary.errors))]}]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--record", type=Path, help="write the replayed Prometheus answers here")
    arguments = parser.parse_args()
    rng, thresholds = np.random.default_rng(arguments.seed), Thresholds()
    sizes = (500, 2_000, 10_000)
    print(f"fail rate over {arguments.trials} trials per cell (alpha {thresholds.alpha}, both tests)")
    print(f"{'scenario':<28}" + "".join(f"{f'{n} req':>12}" for n in sizes))
    for scenario in SCENARIOS:
        rates = [fail_rate(rng, n, scenario, arguments.trials, thresholds) for n in sizes]
        print(f"{scenario[0]:<28}" + "".join(f"{rate:>12.3f}" for rate in rates))
    if arguments.record:
        arguments.record.mkdir(parents=True, exist_ok=True)
        for name, slowdown in (("healthy", 1.0), ("slow", 1.5)):
            for side, arm_slowdown in (("canary", slowdown), ("baseline", 1.0)):
                answers = prometheus_answers(arm(rng, 5_000, arm_slowdown, 0.01))
                path = arguments.record / f"{name}-{side}.json"
                path.write_text(json.dumps(answers, indent=1) + "\n")


if __name__ == "__main__":
    main()
