"""`python -m preflight`: synthesize stacks offline, validate them, report;
`python -m preflight diff`: what a change does to a stack.

Exit codes: 0 clean, 1 validation failures or mandatory policy violations, 2 configuration
or program errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

from preflight import diff, kubernetes, monitoring, policies, topology
from preflight.cache import ResultCache
from preflight.cache import key as cache_key
from preflight.escape import visible
from preflight.graph import Graph
from preflight.isolation import IsolatedSynthesizer
from preflight.project import PreflightError, Program
from preflight.report import (
    BaseDiff,
    StackReport,
    as_json,
    as_markdown,
    as_text,
    compare,
    exit_code,
    policies_markdown,
)

# The custom resources' schemas preflight ships (their sources and licences are in its README).
VENDORED_CRD_SCHEMAS = Path(__file__).resolve().parent / "crd-schemas"
# Under the program's folder: results of earlier runs, by what they depend on.
CACHE_FOLDER = Path("build") / "preflight-cache"
# The output a stack may export to name its cluster's Kubernetes version.
KUBERNETES_VERSION_OUTPUT = "kubernetesVersion"


HELP_EPILOG = """\
commands:
  python -m preflight [options]       check stacks (this command)
  python -m preflight diff [options]  what a change does to one stack, against a graph.json
                                      from an earlier --out (python -m preflight diff --help)

exit codes:
  0  clean
  1  validation failures or mandatory policy violations
  2  configuration or program errors

By default each stack gets a short summary; -v adds its resources by component and by
type, advisory and waived findings and its outputs. --out DIR writes report.md (a
pull-request comment, within GitHub's size limit), policies.md, report.json and the
topology pictures (stacks.svg, <stack>/topology.svg; they need Graphviz's `dot`).
"""


def _output_folder(value: str) -> Path:
    """--out: a folder to write to, and `dot` to draw its pictures with."""
    if not topology.dot_available():
        raise argparse.ArgumentTypeError(topology.DOT_INSTALL_HINT)
    return Path(value)


def _base_folder(value: str) -> Path:
    """--base: an earlier --out folder."""
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no such directory (expected an earlier --out folder)")
    return Path(value)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m preflight",
        description="Synthesize a Pulumi program's stacks offline (no cloud, no Pulumi CLI), validate\n"
        "their Kubernetes objects, run the policy packs and the monitoring tools, and report.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = cli.add_mutually_exclusive_group(required=True)
    which.add_argument("--stack", action="append", metavar="NAME", help="a stack to check (repeatable)")
    which.add_argument("--all", action="store_true", help="every stack with a Pulumi.<stack>.yaml")
    cli.add_argument("--program", default=".", metavar="DIR", help="the Pulumi Python program (default: .)")
    cli.add_argument(
        "--out",
        type=_output_folder,
        metavar="DIR",
        help="write the reports to DIR and each stack's graph, manifests and picture to DIR/<stack>/",
    )
    cli.add_argument(
        "--base",
        type=_base_folder,
        metavar="DIR",
        help="an earlier --out folder: report what changes against each stack's graph.json there",
    )
    cli.add_argument(
        "--crd-schemas",
        metavar="DIR",
        default=str(VENDORED_CRD_SCHEMAS),
        help="JSON schemas laid out {group}/{kind}_{version}.json (default: the ones preflight vendors; "
        "'none' validates no custom resource)",
    )
    cli.add_argument(
        "--kubernetes-version",
        metavar="X.Y",
        help="schemas to validate against "
        f"(default: the stack's '{KUBERNETES_VERSION_OUTPUT}' output, else the newest known)",
    )
    cli.add_argument("--fail-on-unvalidated", action="store_true", help="fail when a custom resource has no schema")
    cli.add_argument(
        "--no-cache",
        action="store_true",
        help="synthesize and check again even if nothing changed (results are kept in build/preflight-cache)",
    )
    cli.add_argument(
        "--format", choices=("text", "json"), default="text", help="text: a summary per stack; json: everything"
    )
    cli.add_argument("-v", "--verbose", action="store_true", help="text: counts by component and type, every finding")
    return cli


def diff_parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m preflight diff",
        description="What a change does to one stack, against a graph.json from an earlier --out.",
        epilog="exit codes:\n  0  the change can be applied\n  1  the engine would refuse a change "
        "(a protected\n     resource, an ignore_changes path that is missing)\n  2  configuration or program errors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("--stack", required=True, metavar="NAME")
    cli.add_argument("--base", required=True, metavar="FILE", help="graph.json of the earlier synthesis")
    cli.add_argument("--program", default=".", metavar="DIR", help="the Pulumi Python program (default: .)")
    cli.add_argument("--format", choices=("text", "json"), default="text")
    return cli


def run_diff(argv: list[str]) -> int:
    args = diff_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    try:
        base = Graph.from_dict(json.loads(Path(args.base).read_text()))
        synthesizer = IsolatedSynthesizer(Program.load(args.program))
        try:
            current = synthesizer.synthesize(args.stack)
        finally:
            synthesizer.close()
            show_program_output(synthesizer.program_output)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"preflight diff: --base {args.base}: not a graph.json from `preflight --out` ({error})", file=sys.stderr)
        return 2
    except PreflightError as error:
        print(f"preflight diff: {error}", file=sys.stderr)
        return 2
    if base.stack != args.stack:
        print(f"preflight diff: --base is a graph of stack '{base.stack}', not '{args.stack}'", file=sys.stderr)
        return 2
    changes = diff.diff(base, current)
    if args.format == "json":
        print(json.dumps([asdict(change) for change in changes], indent=2))
    else:
        print(diff.as_text(changes))
    return diff.exit_code(changes)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["diff"]:
        return run_diff(argv[1:])
    args = parser().parse_args(argv)
    # A program that fails part-way leaves un-awaited outputs behind; its error is
    # what the user needs, not a warning per abandoned coroutine.
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    crd_schemas = Path(args.crd_schemas).resolve() if args.crd_schemas != "none" else None
    if crd_schemas is not None and not crd_schemas.is_dir():
        print(f"preflight: --crd-schemas {args.crd_schemas}: no such directory", file=sys.stderr)
        return 2
    try:
        program = Program.load(args.program)
        program.require_stacks(args.stack or [])
    except PreflightError as error:
        print(f"preflight: {error}", file=sys.stderr)
        return 2
    stacks = program.stacks() if args.all else args.stack
    if not stacks:
        print(f"preflight: {program.directory} has no Pulumi.<stack>.yaml files", file=sys.stderr)
        return 2

    reports = checked_stacks(program, list(dict.fromkeys(stacks)), args, crd_schemas)
    changes = compare(reports, args.base)
    if args.out:
        try:
            write_reports(reports, args.out, Path(args.program), changes)
        except PreflightError as error:
            print(f"preflight: {error}", file=sys.stderr)
            return 2
    print(as_json(reports, changes) if args.format == "json" else as_text(reports, args.verbose, args.out, changes))
    return exit_code(reports)


def checked_stacks(
    program: Program, stacks: list[str], args: argparse.Namespace, crd_schemas: Path | None
) -> list[StackReport]:
    """Each stack synthesized (in parallel, each program in a child) and checked; or,
    when nothing they depend on changed, the results of the run that last checked them."""
    options = ("preflight-results-1", repr(args.kubernetes_version), repr(args.fail_on_unvalidated))
    cache = None
    if not args.no_cache:
        cache = ResultCache(program.directory / CACHE_FOLDER, cache_key(program.directory, crd_schemas, options))
        cached = cache.load(stacks)
        if cached is not None:
            show_program_output({stack: output for stack, (_, output) in cached.items()})
            return [report for report, _ in cached.values()]
    # The gate's own inputs (stack files, pack settings, waivers) are read before any
    # program runs: a program that rewrites them on disk changes nothing of this run.
    gate = {stack: gate_settings(program, stack) for stack in stacks}
    synthesizer = IsolatedSynthesizer(program)
    try:
        graphs = synthesizer.synthesize_all(stacks)
    finally:
        synthesizer.close()
    show_program_output(synthesizer.program_output)
    reports = [
        check_stack(stack, graphs[stack], gate[stack], args.kubernetes_version, crd_schemas, args.fail_on_unvalidated)
        for stack in stacks
    ]
    if cache is not None:
        cache.store({r.stack: (r, synthesizer.program_output.get(r.stack, "")) for r in reports})
    return reports


def show_program_output(output: dict[str, str]) -> None:
    """What the programs printed, on stderr and marked as theirs: never in a report."""
    for stack, text in output.items():
        if text.strip():
            print(f"preflight: output of the program for stack '{stack}':", file=sys.stderr)
            for line in text.rstrip("\n").splitlines():
                print(f"  | {visible(line)}", file=sys.stderr)


def gate_settings(program: Program, stack: str) -> policies.GateSettings | PreflightError:
    try:
        return policies.settings_for(stack, program.stack_config(stack).values)
    except PreflightError as error:
        return error


def check_stack(
    stack: str,
    synthesized: Graph | PreflightError,
    settings: policies.GateSettings | PreflightError,
    version: str | None,
    crd_schemas: Path | None,
    fail_on_unvalidated: bool,
) -> StackReport:
    report = StackReport(stack, fail_on_unvalidated=fail_on_unvalidated)
    try:
        if isinstance(settings, PreflightError):
            raise settings
        if isinstance(synthesized, PreflightError):
            raise synthesized
        report.graph = synthesized
        report.kubernetes_version = version or _stack_version(report.graph)
        report.objects = kubernetes.validate(report.graph, report.kubernetes_version, crd_schemas)
        report.tool_checks = monitoring.check(report.graph)
        report.policies = policies.check(report.graph, settings=settings)
    except PreflightError as error:
        report.error = str(error)
    return report


def _stack_version(graph: Graph) -> str:
    exported = graph.outputs.get(KUBERNETES_VERSION_OUTPUT)
    if isinstance(exported, str):
        return exported
    return ".".join(kubernetes.kubernetes_validate.latest_version().split(".")[:2])


def write_reports(
    reports: list[StackReport],
    out: Path,
    program_dir: Path | None = None,
    changes: dict[str, BaseDiff] | None = None,
) -> None:
    """Everything a run found, under `out`: report.md (a pull-request comment), policies.md,
    report.json and the picture of all stacks; per stack its graph, manifests, report and
    topology picture. The stack files under `program_dir` say what each stack is (its
    role, cloud and region) in the picture of all stacks."""
    out.mkdir(parents=True, exist_ok=True)
    for report in reports:
        folder = out / report.stack
        folder.mkdir(parents=True, exist_ok=True)
        if report.graph is not None:
            (folder / "graph.json").write_text(json.dumps(report.graph.to_dict(), indent=2, sort_keys=True))
            kubernetes.write_manifests(report.graph, folder / "k8s")
            topology.render(topology.stack_dot(report.graph), folder / "topology.dot")
        (folder / "report.json").write_text(as_json([report], changes))
    graphs = [report.graph for report in reports if report.graph is not None]
    topology.render(topology.stacks_dot(graphs, _stack_facts(program_dir, graphs)), out / "stacks.dot")
    (out / "report.json").write_text(as_json(reports, changes))
    (out / "report.md").write_text(as_markdown(reports, changes))
    (out / "policies.md").write_text(policies_markdown(reports))


def _stack_facts(program_dir: Path | None, graphs: list[Graph]) -> dict[str, dict[str, str]]:
    if program_dir is None:
        return {}
    try:
        program = Program.load(program_dir)
        return {graph.stack: topology.stack_facts(program.stack_config(graph.stack).values) for graph in graphs}
    except PreflightError:
        return {}
