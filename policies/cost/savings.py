"""`python -m policies.cost.savings`: what the cost optimizations save, measured.

The stacks are synthesized (preflight's own machinery, offline) as configured and with
the naive baseline of policies/cost/baseline.yaml: every naive choice merged into the
stack files of a temporary copy of the program. Then the optimizations are taken back
one at a time, in the file's order, each variant synthesized again: the saving each one
is credited with is the drop in the estimate (policies/cost/estimate.py) it makes, so
the savings add up to baseline minus optimized. Every figure comes from two graphs.

Exit codes: 0 measured, 2 a stack could not be synthesized or the baseline file is wrong.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policies.cost import prices
from policies.cost.estimate import Estimate
from preflight import policies
from preflight.graph import Graph
from preflight.isolation import IsolatedSynthesizer
from preflight.project import PreflightError, Program

BASELINE = Path(__file__).with_name("baseline.yaml")
ROOT = Path(__file__).resolve().parents[2]
# Not linked into a variant: the variant writes its own stack files, and needs no caches.
_NOT_LINKED = ("build", ".git", ".venv")


class BaselineError(ValueError):
    """baseline.yaml cannot be used: says what is wrong and where."""


@dataclass(frozen=True)
class Optimization:
    name: str
    why: str
    # stack -> stack configuration (keys as in Pulumi.<stack>.yaml) the optimization replaces.
    naive: Mapping[str, Mapping[str, Any]]


def load_baseline(path: Path = BASELINE) -> list[Optimization]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise BaselineError(f"{path}: cannot be read as YAML ({error})") from None
    entries = document.get("optimizations") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BaselineError(f"{path}: expected `optimizations:`, a list of {{name, why, naive}}")
    found = []
    for index, entry in enumerate(entries):
        where = f"{path.name}: optimizations[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"name", "why", "naive"}:
            raise BaselineError(f"{where}: expected exactly the keys name, why and naive")
        name, why, naive = entry["name"], entry["why"], entry["naive"]
        if not isinstance(name, str) or not name.strip() or not isinstance(why, str) or not why.strip():
            raise BaselineError(f"{where}: name and why must be non-empty text")
        if not isinstance(naive, dict) or not naive or not all(isinstance(v, dict) for v in naive.values()):
            raise BaselineError(f"{where} ({name}): naive must map stacks to their configuration")
        found.append(Optimization(name, " ".join(why.split()), naive))
    names = [o.name for o in found]
    if len(set(names)) != len(names):
        raise BaselineError(f"{path.name}: optimization names repeat ({', '.join(names)})")
    return found


def merge(base: Any, over: Any) -> Any:
    """`over` laid over `base`: mappings key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{key: merge(base.get(key), value) for key, value in over.items()}}
    return over


@contextmanager
def variant(program: Path, naive: Mapping[str, Mapping[str, Any]]) -> Iterator[Program]:
    """A temporary copy of the program (its files linked, not copied) whose stack files
    carry `naive` (stack -> configuration merged over the stack file's)."""
    with tempfile.TemporaryDirectory(prefix="cost-variant-") as folder:
        root = Path(folder)
        for entry in program.iterdir():
            if entry.name in _NOT_LINKED or (entry.name.startswith("Pulumi.") and entry.name != "Pulumi.yaml"):
                continue
            (root / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
        for stack_file in program.glob("Pulumi.*.yaml"):
            if stack_file.name == "Pulumi.yaml":
                continue
            stack = stack_file.name[len("Pulumi.") : -len(".yaml")]
            if stack in naive:
                document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
                document["config"] = merge(document.get("config") or {}, dict(naive[stack]))
                (root / stack_file.name).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
            else:
                shutil.copyfile(stack_file, root / stack_file.name)
        yield Program.load(root)


def synthesize(program: Program, stacks: list[str]) -> dict[str, Graph]:
    synthesizer = IsolatedSynthesizer(program)
    try:
        graphs = synthesizer.synthesize_all(stacks)
    finally:
        synthesizer.close()
    failed = {stack: graph for stack, graph in graphs.items() if isinstance(graph, PreflightError)}
    if failed:
        raise PreflightError("; ".join(f"{stack}: {error}" for stack, error in failed.items()))
    return {stack: graph for stack, graph in graphs.items() if isinstance(graph, Graph)}


# Commitments bought for capacity that runs every hour of a production stack (the
# planning of `ops commitments`: usage present in every hour is worth committing in full),
# by cloud: (driver, unit, what the kind says) -> (price-table product, term).
COMMITMENT_TERM = {"aws": "1y-no-upfront", "gcp": "1y"}
_COMMITTABLE = {
    "aws": (
        (("databases", "instance-hours", ""), "rdsReserved"),
        (("caches", "node-hours", ""), "elasticacheReserved"),
        (("node ", "node-hours", "on-demand"), "computeSavingsPlan"),
    ),
    "gcp": (
        (("databases", "vCPU-hours", ""), "cloudSqlCommittedUse"),
        (("databases", "GB-hours", ""), "cloudSqlCommittedUse"),
        (("node ", "node-hours", "on-demand"), "computeCommittedUse"),
    ),
}


def commitment_savings(estimate: Estimate, cloud: str, table: prices.PriceTable) -> dict[str, float]:
    """USD a month the 1-year, no-upfront commitments save on the estimate's always-on
    items (databases, caches, on-demand nodes at their declared size), by product."""
    saved: dict[str, float] = {}
    for item in estimate.items:
        for (driver, unit, kind), product in _COMMITTABLE.get(cloud, ()):
            if item.driver.startswith(driver) and item.unit == unit and kind in item.kind:
                discount = table.commitment(cloud, product, COMMITMENT_TERM[cloud])  # type: ignore[arg-type]
                saved[product] = saved.get(product, 0.0) + item.monthly * discount
                break
    return saved


def estimates(program: Program, stacks: list[str], settings: Mapping[str, policies.GateSettings]) -> dict[str, float]:
    """Each stack's monthly estimate, under the settings of the stack as configured (so a
    variant differs only in what it declares)."""
    return {stack: estimate.monthly_usd for stack, estimate in stack_estimates(program, stacks, settings).items()}


def stack_estimates(
    program: Program, stacks: list[str], settings: Mapping[str, policies.GateSettings]
) -> dict[str, Estimate]:
    found = {}
    for stack, graph in synthesize(program, stacks).items():
        cost = policies.cost_of(policies.stack_view(graph, settings[stack].regions), settings[stack])
        if cost is None:
            raise PreflightError(f"{stack}: the cost pack's settings do not read")
        found[stack] = cost.estimate
        if cost.estimate.unpriced:
            names = ", ".join(entry.what for entry in cost.estimate.unpriced)
            warnings.warn(f"{stack}: not priced, left out of both sides: {names}", stacklevel=1)
    return found


@dataclass
class Savings:
    stacks: list[str]
    optimizations: list[Optimization]
    baseline: dict[str, float] = field(default_factory=dict)
    optimized: dict[str, float] = field(default_factory=dict)
    # optimization name -> stack -> USD a month it saves (taken back in order).
    by_optimization: dict[str, dict[str, float]] = field(default_factory=dict)
    # production stack -> commitment product -> USD a month it would save on the optimized stack.
    commitments: dict[str, dict[str, float]] = field(default_factory=dict)

    def committed(self) -> float:
        return sum(sum(products.values()) for products in self.commitments.values())

    def total(self, figures: Mapping[str, float]) -> float:
        return sum(figures.values())

    def saving(self, stack: str | None = None) -> float:
        if stack is None:
            return self.total(self.baseline) - self.total(self.optimized)
        return self.baseline[stack] - self.optimized[stack]

    def share(self, stack: str | None = None) -> float:
        base = self.total(self.baseline) if stack is None else self.baseline[stack]
        return self.saving(stack) / base if base else 0.0


def measure(
    program_dir: Path = ROOT,
    stacks: list[str] | None = None,
    baseline: list[Optimization] | None = None,
) -> Savings:
    """Baseline, optimized and each optimization's saving, per stack."""
    optimizations = baseline if baseline is not None else load_baseline()
    program = Program.load(program_dir)
    chosen = stacks or [s for s in program.stacks() if any(s in o.naive for o in optimizations)]
    program.require_stacks(chosen)
    settings = {stack: policies.settings_for(stack, program.stack_config(stack).values) for stack in chosen}
    result = Savings(chosen, optimizations)

    def naive_of(kept: list[Optimization]) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for optimization in kept:
            for stack, config in optimization.naive.items():
                merged[stack] = merge(merged.get(stack, {}), dict(config))
        return merged

    with variant(program.directory, {}) as configured:
        optimized = stack_estimates(configured, chosen, settings)
    result.optimized = {stack: estimate.monthly_usd for stack, estimate in optimized.items()}
    table = prices.load()
    for stack, estimate in optimized.items():
        config = program.stack_config(stack).values
        if config.get("projectai:environment") == "prod":
            cloud = str(config.get("projectai:cloud", ""))
            result.commitments[stack] = commitment_savings(estimate, cloud, table)
    previous: dict[str, float] | None = None
    for index in range(len(optimizations) + 1):
        naive = naive_of(optimizations[index:])
        if index == len(optimizations):
            figures = result.optimized  # every naive choice taken back: the stacks as configured
        else:
            with variant(program.directory, naive) as program_variant:
                figures = estimates(program_variant, chosen, settings)
        if previous is None:
            result.baseline = figures
        else:
            taken = optimizations[index - 1]
            result.by_optimization[taken.name] = {stack: previous[stack] - figures[stack] for stack in chosen}
        previous = figures
    return result


def as_text(result: Savings, estimate_note: str) -> str:
    lines = [f"Measured saving against the naive baseline (policies/cost/baseline.yaml); {estimate_note}", ""]
    width = max(len(s) for s in [*result.stacks, "total"])
    lines.append(f"{'stack':<{width}}  {'baseline':>10}  {'optimized':>10}  {'saving':>10}  {'saving %':>8}")
    for stack in result.stacks:
        lines.append(
            f"{stack:<{width}}  {result.baseline[stack]:>10,.0f}  {result.optimized[stack]:>10,.0f}  "
            f"{result.saving(stack):>10,.0f}  {result.share(stack):>8.1%}"
        )
    lines.append(
        f"{'total':<{width}}  {result.total(result.baseline):>10,.0f}  {result.total(result.optimized):>10,.0f}  "
        f"{result.saving():>10,.0f}  {result.share():>8.1%}"
    )
    lines += ["", "By optimization (USD/month, each taken back from the baseline in turn):"]
    for optimization in result.optimizations:
        saved = result.by_optimization[optimization.name]
        per_stack = ", ".join(f"{stack} {amount:,.0f}" for stack, amount in saved.items() if abs(amount) >= 0.5)
        lines.append(f"  {optimization.name}: {sum(saved.values()):,.0f}" + (f" ({per_stack})" if per_stack else ""))
        lines.append(f"      naive: {optimization.why}")
    if result.commitments:
        committed = result.committed()
        base = result.total(result.baseline)
        lines += [
            "",
            "Commitments (a purchase, not a configuration): 1-year, no upfront, on production's always-on",
            "capacity (databases, caches, on-demand nodes: steady usage `ops commitments` commits in full):",
        ]
        for stack, products in result.commitments.items():
            detail = ", ".join(f"{product} {amount:,.0f}" for product, amount in sorted(products.items()))
            lines.append(f"  {stack}: {sum(products.values()):,.0f}" + (f" ({detail})" if detail else ""))
        lines.append(
            f"  with them: {result.total(result.optimized) - committed:,.0f} a month, "
            f"{(result.saving() + committed) / base if base else 0.0:.1%} below the baseline"
        )
    lines.append("")
    lines.append("USD a month at list prices; the roadmap's target is a 20-30% reduction.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog="python -m policies.cost.savings", description=__doc__.split("\n\n")[0])
    cli.add_argument(
        "--stack",
        action="append",
        metavar="NAME",
        help="a stack to measure (default: every stack the baseline changes)",
    )
    cli.add_argument("--program", default=str(ROOT), metavar="DIR", help="the Pulumi program (default: the repo)")
    cli.add_argument("--baseline", default=str(BASELINE), metavar="FILE", help="the naive choices")
    args = cli.parse_args(argv)
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    try:
        result = measure(Path(args.program), args.stack, load_baseline(Path(args.baseline)))
    except (BaselineError, PreflightError) as error:
        print(f"cost savings: {error}", file=sys.stderr)
        return 2
    print(as_text(result, prices.load().note))
    return 0


__all__ = ["Estimate", "Optimization", "Savings", "load_baseline", "main", "measure"]

if __name__ == "__main__":
    sys.exit(main())
