"""`python -m preflight.bench`: synth and validation time per stack and per resource.

Prints, for every stack of the project and for generated programs of N AppServices,
the time to synthesize and to validate, and the time per resource as a ratio of the
smallest program's, so growth is visible. Figures, not pass/fail: these machines are
shared and noisy, so compare ratios from one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from preflight import kubernetes
from preflight.project import Program
from preflight.synth import Synthesizer

ROOT = Path(__file__).resolve().parent.parent

GENERATED_PROGRAM = """
import sys

sys.path.insert(0, {root!r})

import pulumi
import pulumi_kubernetes as k8s

from components.labels import Ownership
from components.workload import AppService, AppServiceArgs, Compute, EgressRule, IngressArgs

count = int(pulumi.Config().require("count"))
provider = k8s.Provider("cluster")
for index in range(count):
    AppService(
        f"api-{{index}}",
        AppServiceArgs(
            owner=Ownership(team="bench", cost_center="cc-bench", environment="dev"),
            name=f"api-{{index}}",
            namespace=f"bench-{{index}}",
            image="ghcr.io/project-ai/api:1.0.0",
            version="1.0.0",
            ingress=IngressArgs(f"api-{{index}}.bench.example", "nginx", "api-tls", "issuer", "ingress-nginx"),
            min_replicas=2,
            max_replicas=4,
            requests=Compute("100m", "128Mi"),
            limits=Compute("500m", "256Mi"),
            egress=(EgressRule(name="database", ports=(5432,), cidr="10.0.0.0/16"),),
        ),
        pulumi.ResourceOptions(providers=[provider]),
    )
"""


def measure(program: Program, stack: str, version: str) -> tuple[int, float, float]:
    """(resources, synth seconds, validation seconds) with a cold synthesizer."""
    synthesizer = Synthesizer(program)
    start = time.perf_counter()
    graph = synthesizer.synthesize(stack)
    synthesized = time.perf_counter()
    kubernetes.validate(graph, version, None)
    return len(graph.deployed()), synthesized - start, time.perf_counter() - synthesized


def generated_program(folder: Path, sizes: list[int]) -> Program:
    (folder / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
    (folder / "__main__.py").write_text(GENERATED_PROGRAM.format(root=str(ROOT)))
    for size in sizes:
        (folder / f"Pulumi.n{size}.yaml").write_text(f"config:\n  bench:count: '{size}'\n")
    return Program.load(folder)


def main() -> None:
    cli = argparse.ArgumentParser(prog="python -m preflight.bench", description=__doc__.splitlines()[0])
    cli.add_argument("--sizes", default="1,10,100", help="AppService counts of the generated programs")
    args = cli.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    project = Program.load(ROOT)
    measure(project, "local", "1.33")  # warm imports, so the first row is not paying for them
    print(f"{'program':<24}{'resources':>10}{'synth s':>10}{'valid s':>10}{'ms/resource':>13}{'ratio':>8}")
    total_start = time.perf_counter()
    for stack in project.stacks():
        resources, synth, valid = measure(project, stack, "1.33")
        per_resource = 1000 * (synth + valid) / max(resources, 1)
        print(f"{'stack ' + stack:<24}{resources:>10}{synth:>10.3f}{valid:>10.3f}{per_resource:>13.2f}{'':>8}")
    print(f"{'all project stacks':<24}{'':>10}{time.perf_counter() - total_start:>10.3f}")

    baseline = None
    with tempfile.TemporaryDirectory() as folder:
        program = generated_program(Path(folder), sizes)
        for size in sizes:
            resources, synth, valid = measure(program, f"n{size}", "1.33")
            per_resource = 1000 * (synth + valid) / resources
            baseline = baseline or per_resource
            label = f"{size} AppService" + ("s" if size > 1 else "")
            print(
                f"{label:<24}{resources:>10}{synth:>10.3f}{valid:>10.3f}{per_resource:>13.2f}"
                f"{per_resource / baseline:>8.2f}"
            )


if __name__ == "__main__":
    main()
