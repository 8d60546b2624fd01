"""`python -m preflight.bench`: what preflight's synthesis costs over the bare Pulumi SDK.

For generated programs of N AppServices, derived from the local stack's configuration the
way the project derives its API (`stacks.config`, `stacks.workload.app_service_args`),
runs the program under the bare SDK with minimal mocks (inputs as outputs) and under
preflight's synthesis, alternating (ABAB...), and prints the median of each and the
ratio, in wall and CPU time. Then the cost of the child interpreter each stack runs in
(preflight's isolated synthesis against the same synthesis in this process), and one
program of 20,000 ConfigMaps, each way in a fresh interpreter, with its time and peak
memory. Figures, not pass/fail: these machines are shared and noisy, so compare ratios
from one run (CPU time suffers least from the noise).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gc
import json
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.stack import run_pulumi_func

from preflight import ROOT
from preflight.imports import program_on_path
from preflight.isolation import IsolatedSynthesizer
from preflight.project import Program
from preflight.synth import Synthesizer

# The stack whose configuration the generated AppServices are derived from.
BASE_STACK = "local"

# AppServices as the project makes its API's (the configuration read and validated by
# stacks.config, the arguments by stacks.workload), one per index with its own name,
# namespace and host; then ConfigMaps. Both counts come from the stack's `bench:` config.
GENERATED_PROGRAM = """
import dataclasses
import sys

if {root!r} not in sys.path:
    sys.path.insert(0, {root!r})

import pulumi
import pulumi_kubernetes as k8s

from components.workload import AppService
from stacks import config as stack_config
from stacks.workload import app_service_args

bench = pulumi.Config("bench")
provider = k8s.Provider("cluster")
app_services = bench.get_int("appServices") or 0
base = app_service_args(stack_config.load()) if app_services else None
for index in range(app_services):
    args = dataclasses.replace(
        base,
        name=f"api-{{index}}",
        namespace=f"bench-{{index}}",
        ingress=dataclasses.replace(base.ingress, host=f"api-{{index}}.bench.example"),
    )
    AppService(f"api-{{index}}", args, pulumi.ResourceOptions(provider=provider))
for index in range(bench.get_int("configMaps") or 0):
    k8s.core.v1.ConfigMap(
        f"config-{{index}}",
        metadata={{"name": f"config-{{index}}", "namespace": "bench"}},
        data={{"index": str(index)}},
        opts=pulumi.ResourceOptions(provider=provider),
    )
"""


def app_services_stack(count: int) -> str:
    return f"app-services-{count}"


def config_maps_stack(count: int) -> str:
    return f"config-maps-{count}"


def generated_program(folder: Path, app_services: list[int] = (), config_maps: list[int] = ()) -> Program:
    """The generated program in `folder`, with one stack per count: `app-services-N`
    (the base stack's configuration and N AppServices) and `config-maps-N`."""
    (folder / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
    (folder / "__main__.py").write_text(GENERATED_PROGRAM.format(root=str(ROOT)))
    base = Program.load(ROOT).stack_config(BASE_STACK)
    for count in app_services:
        config = {**base.values, "bench:appServices": str(count)}
        (folder / f"Pulumi.{app_services_stack(count)}.yaml").write_text(yaml.safe_dump({"config": config}))
    for count in config_maps:
        config = {"bench:configMaps": str(count)}
        (folder / f"Pulumi.{config_maps_stack(count)}.yaml").write_text(yaml.safe_dump({"config": config}))
    return Program.load(folder)


class BareMocks(pulumi.runtime.Mocks):
    """The least a mock can do: inputs as outputs, arguments as results."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return args.args, None


def bare(program: Program, stack: str) -> int:
    """Runs a stack's program under the bare SDK's mocks, in this process with its own
    context and event loop (as preflight does); the number of resources registered."""
    config = program.stack_config(stack)
    monitor = pulumi.runtime.mocks.MockMonitor(BareMocks())

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(BareMocks(), program.name, stack, preview=False, monitor=monitor)
            pulumi.runtime.set_all_config(config.values, list(config.secret_keys))
            with program_on_path(program.directory):
                loop.run_until_complete(run_pulumi_func(lambda: runpy.run_path(str(program.main), run_name="__main__")))
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    contextvars.Context().run(run)
    return len(monitor.resources)


def preflight(program: Program, stack: str) -> int:
    """preflight's synthesis of a stack, in this process; the number of resources."""
    return len(Synthesizer(program).synthesize(stack).resources)


def isolated(program: Program, stack: str) -> int:
    """preflight's synthesis of a stack in a child interpreter, as `preflight` runs it."""
    synthesizer = IsolatedSynthesizer(program)
    try:
        return len(synthesizer.synthesize(stack).resources)
    finally:
        synthesizer.close()


MODES: dict[str, Callable[[Program, str], int]] = {"bare": bare, "preflight": preflight, "isolated": isolated}


def _cpu() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(mode: Callable[[Program, str], int], program: Program, stack: str) -> tuple[int, float, float]:
    """(resources, wall seconds, CPU seconds) of one run."""
    gc.collect()
    wall, cpu = time.perf_counter(), _cpu()
    resources = mode(program, stack)
    return resources, time.perf_counter() - wall, _cpu() - cpu


def paired(
    first: Callable[[Program, str], int], second: Callable[[Program, str], int], program: Program, stack: str, runs: int
) -> tuple[int, dict[str, tuple[float, float, float]]]:
    """Runs first and second alternately, `runs` times each: the second's resource count,
    and per measure (wall, cpu) the median of each and the median of the pairs' ratios."""
    samples: list[tuple[tuple[float, float], tuple[float, float]]] = []
    count = 0
    for _ in range(runs):
        _, wall_a, cpu_a = timed(first, program, stack)
        count, wall_b, cpu_b = timed(second, program, stack)
        samples.append(((wall_a, cpu_a), (wall_b, cpu_b)))
    figures = {}
    for index, measure in enumerate(("wall", "cpu")):
        a = [pair[0][index] for pair in samples]
        b = [pair[1][index] for pair in samples]
        ratios = [y / x for x, y in zip(a, b, strict=True) if x > 0]
        figures[measure] = (statistics.median(a), statistics.median(b), statistics.median(ratios))
    # The second's count: preflight's, which counts the root stack.
    return count, figures


def one_run(mode: str, config_maps: int) -> dict[str, Any]:
    """One run of `mode` on a program of `config_maps` ConfigMaps, in this (fresh)
    interpreter: its resources, time and peak memory (this process's and its children's)."""
    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as folder:
        program = generated_program(Path(folder), config_maps=[config_maps])
        resources, wall, cpu = timed(MODES[mode], program, config_maps_stack(config_maps))
    # ru_maxrss is in KiB on Linux; a child's is at least what this process held when it
    # started the child (small here, beside a child's peak).
    return {
        "resources": resources,
        "wall": wall,
        "cpu": cpu,
        "peak_mib": _own_peak_mib(),
        "child_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _own_peak_mib() -> float:
    """This process's peak resident memory. Linux's VmHWM where there is one: ru_maxrss
    would also count what the process that started this one held when it did."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_interpreter(mode: str, config_maps: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "preflight.bench", "--one-run", f"{mode}:{config_maps}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"preflight.bench: {mode} of {config_maps} ConfigMaps failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    cli = argparse.ArgumentParser(prog="python -m preflight.bench", description=__doc__.splitlines()[0])
    cli.add_argument("--sizes", default="1,10,100", help="AppService counts of the generated programs")
    cli.add_argument("--runs", type=int, default=5, help="runs of each way per size, alternating")
    cli.add_argument("--config-maps", type=int, default=20_000, help="ConfigMaps of the large program (0: none)")
    cli.add_argument("--one-run", metavar="MODE:COUNT", help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    if args.one_run:
        mode, count = args.one_run.split(":")
        print(json.dumps(one_run(mode, int(count))))
        return
    sizes = [int(size) for size in args.sizes.split(",") if size]

    with tempfile.TemporaryDirectory(prefix="preflight-bench-") as folder:
        program = generated_program(Path(folder), app_services=sorted({1, *sizes}))
        # Warm imports and caches, so the first row is not paying for them.
        for mode in (bare, preflight):
            mode(program, app_services_stack(1))

        print(f"preflight's synthesis against the bare SDK under mocks (median of {args.runs} paired runs)")
        print(
            f"{'program':<18}{'resources':>10}{'bare s':>9}{'preflight s':>13}{'ratio':>7}"
            f"{'bare cpu':>10}{'preflight cpu':>15}{'ratio':>7}"
        )
        for size in sizes:
            resources, figures = paired(bare, preflight, program, app_services_stack(size), args.runs)
            (bare_wall, own_wall, wall_ratio), (bare_cpu, own_cpu, cpu_ratio) = figures["wall"], figures["cpu"]
            label = f"{size} AppService" + ("s" if size != 1 else "")
            print(
                f"{label:<18}{resources:>10}{bare_wall:>9.3f}{own_wall:>13.3f}{wall_ratio:>7.2f}"
                f"{bare_cpu:>10.3f}{own_cpu:>15.3f}{cpu_ratio:>7.2f}"
            )

        print()
        print("the child interpreter: isolated synthesis against the same in this process (cpu: both processes)")
        print(f"{'program':<18}{'resources':>10}{'in-process s':>14}{'child s':>9}{'extra s':>9}{'extra cpu':>11}")
        for size in sizes:
            resources, figures = paired(preflight, isolated, program, app_services_stack(size), max(1, args.runs // 2))
            (own_wall, child_wall, _), (own_cpu, child_cpu, _) = figures["wall"], figures["cpu"]
            label = f"{size} AppService" + ("s" if size != 1 else "")
            print(
                f"{label:<18}{resources:>10}{own_wall:>14.3f}{child_wall:>9.3f}"
                f"{child_wall - own_wall:>9.3f}{child_cpu - own_cpu:>11.3f}"
            )

    if args.config_maps:
        print()
        print(f"{args.config_maps:,} ConfigMaps, one run each way in a fresh interpreter")
        print(f"{'way':<28}{'resources':>10}{'wall s':>9}{'cpu s':>9}{'peak MiB':>10}{'child peak MiB':>16}")
        for mode, label in (("bare", "bare SDK"), ("isolated", "preflight (child process)")):
            row = in_fresh_interpreter(mode, args.config_maps)
            child = f"{row['child_peak_mib']:.0f}" if mode == "isolated" else ""
            print(
                f"{label:<28}{row['resources']:>10}{row['wall']:>9.2f}{row['cpu']:>9.2f}"
                f"{row['peak_mib']:>10.0f}{child:>16}"
            )


if __name__ == "__main__":
    main()
