"""`python -m preflight.policy_bench`: what the policy gate costs.

Prints, for every project stack, the gate's time beside the stack's synthesis time (one
run, so the ratio holds on a noisy machine), and, for a generated graph of 10,000
resources (the project's own resources repeated, plus AWS and GCP resources), how many
resources per second both packs judge. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
import warnings
from collections.abc import Callable

from preflight import ROOT, policies
from preflight.graph import Graph, Resource
from preflight.project import Program
from preflight.synth import Synthesizer

# Cloud resources for the generated graph: a tagged VPC, an EKS node group, a bucket.
CLOUD = [
    ("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "tags": {"team": "t", "cost-center": "c", "environment": "dev"}}),
    ("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m6i.large"], "scalingConfig": {"maxSize": 4}}),
    ("gcp:storage/bucket:Bucket", {"uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced"}),
]


def _median_seconds(action: Callable[[], object], rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def generated(base: Graph, size: int) -> Graph:
    """`base`'s resources repeated, renamed, with cloud resources mixed in, to `size`."""
    resources: list[Resource] = []
    copy = 0
    while len(resources) < size:
        for resource in base.resources:
            suffix = f"-{copy}"
            resources.append(
                dataclasses.replace(
                    resource,
                    urn=resource.urn + suffix,
                    name=resource.name + suffix,
                    dependencies=[d + suffix for d in resource.dependencies],
                )
            )
        for kind, inputs in CLOUD:
            name = f"{kind.rsplit(':', 1)[1].lower()}-{copy}"
            resources.append(Resource(f"urn:pulumi:bench::p::{kind}::{name}", kind, name, True, inputs=inputs))
        copy += 1
    return Graph(base.project, "bench", resources[:size])


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rounds", type=int, default=5)
    cli.add_argument("--size", type=int, default=10_000)
    args = cli.parse_args()
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    program = Program.load(ROOT)
    print(f"{'stack':12} {'resources':>9} {'synth s':>8} {'gate s':>8} {'gate/synth':>10}")
    graphs = {}
    for stack in program.stacks():
        synth = _median_seconds(lambda stack=stack: Synthesizer(program).synthesize(stack), args.rounds)
        graphs[stack] = graph = Synthesizer(program).synthesize(stack)
        gate = _median_seconds(lambda graph=graph: policies.check(graph), args.rounds)
        print(f"{stack:12} {len(graph.resources):9d} {synth:8.3f} {gate:8.3f} {gate / synth:10.2f}")
    largest = max(graphs.values(), key=lambda graph: len(graph.resources))
    big = generated(largest, args.size)
    gate = _median_seconds(lambda: policies.check(big), max(1, args.rounds // 2))
    count = len(big.resources)
    print(f"generated graph: {count} resources, both packs in {gate:.2f} s, {count / gate:,.0f} resources/s")


if __name__ == "__main__":
    main()
