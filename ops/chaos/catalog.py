"""The failure-mode catalog (ops/chaos/failure_modes.yaml): each mode the platform must
survive, what is expected of it, and the experiments that exercise it locally and in
the cluster. `ops chaos catalog` reports coverage; `--markdown` writes the generated doc
(docs/failure-modes.md)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ops.steps import OpsError

CATALOG = Path(__file__).with_name("failure_modes.yaml")
SIDES = ("local", "cluster")
# The roadmap's KPI: the share of failure modes that chaos experiments exercise.
COVERAGE_GOAL = 0.8
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_FIELDS = {"id", "title", "expected", *SIDES, "elsewhere"}


class CatalogError(OpsError):
    """The catalog file is not what this module reads: says where and what was expected."""


@dataclass(frozen=True)
class FailureMode:
    id: str
    title: str
    expected: str
    local: tuple[str, ...]
    cluster: tuple[str, ...]
    # How a mode no experiment of one side exercises is covered there instead.
    elsewhere: str = ""

    def experiments(self, side: str) -> tuple[str, ...]:
        return self.local if side == "local" else self.cluster


@dataclass(frozen=True)
class Catalog:
    modes: tuple[FailureMode, ...]

    def experiments(self, side: str) -> set[str]:
        return {name for mode in self.modes for name in mode.experiments(side)}

    def coverage(self, side: str | None = None, exercised: set[str] | None = None) -> float:
        """The share of modes with an experiment on `side` (either, if None); with
        `exercised`, only those experiments count (a drill's passing ones)."""
        sides = SIDES if side is None else (side,)

        def covered(mode: FailureMode) -> bool:
            names = {name for s in sides for name in mode.experiments(s)}
            return bool(names if exercised is None else names & exercised)

        return sum(1 for mode in self.modes if covered(mode)) / len(self.modes)

    def modes_of(self, experiment: str) -> list[str]:
        return [mode.id for mode in self.modes if experiment in mode.local or experiment in mode.cluster]


def load(path: Path = CATALOG) -> Catalog:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not YAML ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("modes"), list) or not document["modes"]:
        raise CatalogError(f"{path}: expected a mapping with a non-empty list `modes`")
    modes = tuple(_mode(path, index, entry) for index, entry in enumerate(document["modes"]))
    seen: set[str] = set()
    for mode in modes:
        if mode.id in seen:
            raise CatalogError(f"{path}: mode '{mode.id}' appears twice; expected each id once")
        seen.add(mode.id)
    return Catalog(modes)


def _mode(path: Path, index: int, entry: Any) -> FailureMode:
    where = f"{path}: modes[{index}]"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(_FIELDS))}")
    for field in ("id", "title", "expected"):
        if not isinstance(entry.get(field), str) or not entry[field].strip():
            raise CatalogError(f"{where}: `{field}` missing or empty; expected text")
    if not _NAME.match(entry["id"]):
        raise CatalogError(f"{where}: id '{entry['id']}' is not a lower-case name (a-z, 0-9, '-')")
    lists = {}
    for side in SIDES:
        names = entry.get(side, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and _NAME.match(n) for n in names):
            raise CatalogError(f"{where} ({entry['id']}): `{side}` must be a list of experiment names (a-z, 0-9, '-')")
        lists[side] = tuple(names)
    elsewhere = entry.get("elsewhere", "")
    if not isinstance(elsewhere, str):
        raise CatalogError(f"{where} ({entry['id']}): `elsewhere` must be text")
    if not all(lists.values()) and not elsewhere.strip():
        raise CatalogError(
            f"{where} ({entry['id']}): a side without experiments needs `elsewhere`: how the mode is covered there"
        )
    return FailureMode(entry["id"], entry["title"], entry["expected"], lists["local"], lists["cluster"], elsewhere)


def markdown(catalog: Catalog) -> str:
    """The generated doc: a summary table with coverage, then each mode in full."""

    def names(values: tuple[str, ...]) -> str:
        return ", ".join(f"`{name}`" for name in values) or "—"

    lines = [
        "# Failure modes",
        "",
        "<!-- Generated from ops/chaos/failure_modes.yaml by `python -m ops chaos catalog --markdown`;"
        " edit that file. -->",
        "",
        "Each failure mode the platform must survive, what is expected of it, and the experiments that",
        "exercise it: locally with `make chaos-drill` (Chaos Toolkit against real processes,",
        "ops/chaos/experiments/), and in the cluster with Chaos Mesh on dev and staging",
        "(components/chaos/).",
        "",
        f"Coverage (goal {COVERAGE_GOAL:.0%}): {_percent(catalog.coverage())} of {len(catalog.modes)} modes have an "
        f"experiment; locally {_percent(catalog.coverage('local'))}, in the cluster "
        f"{_percent(catalog.coverage('cluster'))}.",
        "",
        "| mode | local experiments | cluster experiments |",
        "| --- | --- | --- |",
    ]
    lines += [f"| [{m.title}](#{m.id}) | {names(m.local)} | {names(m.cluster)} |" for m in catalog.modes]
    for mode in catalog.modes:
        lines += ["", f'<a id="{mode.id}"></a>', f"## {mode.title} (`{mode.id}`)", "", f"**Expected.** {mode.expected}"]
        lines += ["", f"- Local: {names(mode.local)}", f"- Cluster: {names(mode.cluster)}"]
        if mode.elsewhere:
            lines += ["", f"**Elsewhere.** {mode.elsewhere}"]
    return "\n".join(lines) + "\n"


def _percent(value: float) -> str:
    return f"{value:.0%}"


def register(commands: Any) -> None:
    command = commands.add_parser(
        "catalog", help="the failure-mode catalog: coverage, or the generated doc with --markdown"
    )
    command.add_argument("--file", type=Path, default=CATALOG, help="the catalog (ops/chaos/failure_modes.yaml)")
    command.add_argument("--markdown", action="store_true", help="print the generated doc (docs/failure-modes.md)")
    command.set_defaults(run=_run)


def _run(arguments: argparse.Namespace) -> int:
    catalog = load(arguments.file)
    if arguments.markdown:
        print(markdown(catalog), end="")
        return 0
    for mode in catalog.modes:
        print(f"{mode.id:18} local: {', '.join(mode.local) or '-'}; cluster: {', '.join(mode.cluster) or '-'}")
    print(
        f"coverage: {_percent(catalog.coverage())} of {len(catalog.modes)} modes "
        f"(local {_percent(catalog.coverage('local'))}, cluster {_percent(catalog.coverage('cluster'))}; "
        f"goal {COVERAGE_GOAL:.0%})"
    )
    return 0
