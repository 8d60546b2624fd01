"""What preflight found, per stack: as text for a terminal, JSON for tools, Markdown for PRs.

- `as_text`: a summary a person reads on one screen per stack (resources, Kubernetes
  objects, tool results, policy verdicts, diagnostics, where the reports went), and each
  problem on a line of its own; `verbose` adds the counts by component and by type, the
  advisory and waived findings and the outputs.
- `as_json`: everything, for tools (`report.json`).
- `as_markdown`: a pull-request comment (`report.md`), always within GitHub's limit for
  one: a list too long for it ends with how many more there are and where they are.
- `policies_markdown`: every policy verdict (`policies.md`).

Names and messages come from the program under check: every writer escapes them for its
format (preflight.escape), so none can forge a line, a table cell or a status.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from policies.core.evaluate import Finding
from preflight import diff
from preflight.escape import markdown, markdown_block, markdown_code, shorten, visible
from preflight.graph import STACK_TYPE, Graph
from preflight.kubernetes import INVALID, UNVALIDATED, VALID, ObjectResult
from preflight.monitoring import FAILED as TOOL_FAILED
from preflight.monitoring import OK as TOOL_OK
from preflight.monitoring import ToolCheck
from preflight.policies import Cost, PolicyReport

OK, FAILED, ERROR = "ok", "failed", "error"
EXIT_CODES = {
    0: "clean",
    1: "validation failures or mandatory policy violations",
    2: "configuration or program errors",
}
# GitHub refuses a pull-request comment longer than this; report.md keeps under it, with
# room for a line a workflow adds (a marker to find its own comment again).
GITHUB_COMMENT_LIMIT = 65_536
MARKDOWN_BUDGET = GITHUB_COMMENT_LIMIT - 1_536
# The default text output lists this many problems of a kind per stack (-v lists all).
TEXT_LIST_LIMIT = 10
# The changes a report shows per stack, riskiest first (report.json has them all).
CHANGES_SHOWN = 20
# The cost drivers a summary names per stack (-v and report.json list every item).
COST_DRIVERS = 5


@dataclass
class StackReport:
    stack: str
    graph: Graph | None = None
    kubernetes_version: str | None = None
    objects: list[ObjectResult] = field(default_factory=list)
    tool_checks: list[ToolCheck] = field(default_factory=list)
    error: str | None = None
    fail_on_unvalidated: bool = False
    policies: PolicyReport = field(default_factory=PolicyReport)

    def count(self, status: str) -> int:
        return sum(1 for result in self.objects if result.status == status)

    @property
    def status(self) -> str:
        if self.error is not None or self.policies.errors:
            # A pack configuration or the waiver file that does not parse: a
            # configuration error, as for the stack's own config.
            return ERROR
        if self.count(INVALID) or (self.fail_on_unvalidated and self.count(UNVALIDATED)):
            return FAILED
        if any(check.status == TOOL_FAILED for check in self.tool_checks):
            return FAILED
        if self.policies.failed:
            return FAILED
        return OK

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"stack": self.stack, "status": self.status}
        if self.error is not None:
            data["error"] = self.error
            return data
        assert self.graph is not None
        data.update(
            resources=len(self.graph.deployed()),
            byType=dict(sorted(self.graph.count_by_type().items())),
            byComponent=dict(sorted(self.graph.count_by_component().items())),
            outputs=self.graph.outputs,
            diagnostics=self.graph.diagnostics,
            tools=[
                {"tool": c.tool, "subject": c.subject, "status": c.status, "detail": c.detail} for c in self.tool_checks
            ],
            policies=self.policies.to_dict(),
            cost=self.policies.cost.to_dict() if self.policies.cost else None,
            kubernetes={
                "version": self.kubernetes_version,
                "valid": self.count(VALID),
                "invalid": self.count(INVALID),
                "unvalidated": self.count(UNVALIDATED),
                "objects": [
                    {
                        "kind": r.kind,
                        "apiVersion": r.api_version,
                        "namespace": r.namespace,
                        "name": r.name,
                        "status": r.status,
                        "schema": r.schema,
                        "errors": r.errors,
                    }
                    for r in self.objects
                ],
            },
        )
        return data


@dataclass
class BaseDiff:
    """A stack's changes against its graph in an earlier `--out` folder (`--base`)."""

    changes: list[diff.Change] = field(default_factory=list)
    # Why there are no changes to show: no base graph (a new stack), or one that does not read.
    note: str | None = None

    def counts(self) -> dict[str, int]:
        # A move with changed inputs counts as moved and as updated (or replaced).
        found = {
            action: sum(action in change.action.split("+") for change in self.changes)
            for action in (diff.CREATED, diff.UPDATED, diff.REPLACED, diff.MOVED, diff.DELETED)
        }
        found["errors"] = sum(len(change.errors) for change in self.changes)
        return found

    def summary(self) -> str:
        if self.note is not None:
            return self.note
        counts = self.counts()
        if not any(counts.values()):
            return "no changes"
        return ", ".join(f"{count} {action}" for action, count in counts.items() if count)

    def to_dict(self) -> dict[str, Any]:
        if self.note is not None:
            return {"note": self.note}
        return {"counts": self.counts(), "changes": [asdict(change) for change in self.changes]}


def compare(reports: list[StackReport], base: Path | None) -> dict[str, BaseDiff] | None:
    """Each synthesized stack against `base/<stack>/graph.json` (an earlier --out folder);
    None without a base."""
    if base is None:
        return None
    found = {}
    for report in reports:
        if report.graph is None:
            continue
        path = base / report.stack / "graph.json"
        if not path.is_file():
            found[report.stack] = BaseDiff(note=f"no base graph ({path} does not exist): a new stack")
            continue
        try:
            earlier = Graph.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            found[report.stack] = BaseDiff(note=f"{path} is not a graph.json from `preflight --out` ({error})")
            continue
        found[report.stack] = BaseDiff(diff.diff(earlier, report.graph))
    return found


# Riskiest first: what a reviewer must see when a list is cut short.
_CHANGE_ORDER = {diff.ERROR: 0, diff.DELETED: 1, diff.REPLACED: 2, diff.MOVED: 3, diff.UPDATED: 4, diff.CREATED: 5}


def _change_rank(change: diff.Change) -> tuple[int, int, str, str]:
    rank = min(_CHANGE_ORDER.get(verb, 9) for verb in change.action.split("+"))
    return (0 if change.errors else 1, rank, change.type, change.name)


def exit_code(reports: list[StackReport]) -> int:
    """2 if any stack could not be synthesized, 1 if any failed validation, else 0."""
    statuses = {report.status for report in reports}
    return 2 if ERROR in statuses else 1 if FAILED in statuses else 0


def as_json(reports: list[StackReport], changes: Mapping[str, BaseDiff] | None = None) -> str:
    stacks = []
    for report in reports:
        data = report.to_dict()
        if changes and report.stack in changes:
            data["changes"] = changes[report.stack].to_dict()
        stacks.append(data)
    document = {"exitCode": exit_code(reports), "stacks": stacks}
    return json.dumps(document, indent=2, sort_keys=True)


def _components(graph: Graph) -> int:
    return sum(1 for r in graph.resources if not r.custom and r.type != STACK_TYPE)


def _tools_summary(checks: list[ToolCheck]) -> str:
    """`amtool 1 ok; promtool 2 ok`, or `none` when the stack has nothing for them."""
    by_tool: dict[str, Counter[str]] = {}
    for check in sorted(checks, key=lambda check: check.tool):
        by_tool.setdefault(check.tool, Counter())[check.status] += 1
    if not by_tool:
        return "none (no alerting rules or Alertmanager configuration)"
    parts = []
    for tool, statuses in by_tool.items():
        parts.append(f"{tool} " + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())))
    return "; ".join(parts)


def _verdicts(policies: PolicyReport) -> dict[str, int]:
    outcome = policies.outcome
    return {
        "mandatory": len(outcome.mandatory),
        "advisory": len(outcome.violations) - len(outcome.mandatory),
        "waived": len(outcome.waived),
        "unknown": len(outcome.unknown),
    }


def _capped(lines: list[str], limit: int | None, what: str) -> list[str]:
    if limit is None or len(lines) <= limit:
        return lines
    return [*lines[:limit], f"     … {len(lines) - limit} more {what} (-v lists them; report.json has all)"]


def _finding_line(finding: Finding) -> str:
    return (
        f"     {finding.enforcement.upper()} {visible(finding.pack)}/{visible(finding.policy)} "
        f"({visible(finding.severity)}) {visible(finding.urn or '(stack)')}: {visible(finding.message)}"
    )


def _grouped(findings: list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.pack, finding.policy), []).append(finding)
    return groups


def _policy_lines(policies: PolicyReport, verbose: bool) -> list[str]:
    """Each violation on one line (advisory ones with -v), then the fix once per policy."""
    limit = None if verbose else TEXT_LIST_LIMIT
    outcome = policies.outcome
    verdicts = _verdicts(policies)
    lines = [
        f"   policies: {verdicts['mandatory']} mandatory, {verdicts['advisory']} advisory, "
        f"{verdicts['waived']} waived, {verdicts['unknown']} unknown until deployed"
    ]
    lines += _capped([f"     ERROR {visible(error)}" for error in policies.errors], limit, "errors")
    blocking = {id(finding) for finding in outcome.mandatory}
    shown = outcome.violations if verbose else [f for f in outcome.violations if id(f) in blocking]
    listed = 0
    for findings in _grouped(shown).values():
        if limit is not None and listed >= limit:
            break
        lines += [_finding_line(finding) for finding in findings[: (limit - listed) if limit else None]]
        lines.append(f"       fix: {visible(findings[0].remediation)}")
        listed += len(findings)
    if limit is not None and len(shown) > limit:
        lines.append(f"     … {len(shown) - limit} more violations (-v lists them; policies.md has all)")
    if verbose:
        if outcome.fixes:
            lines.append(f"     {len(outcome.fixes)} safe fixes available (applied under the `remediate` level)")
        for finding in outcome.waived:
            assert finding.waiver is not None
            lines.append(
                f"     WAIVED {visible(finding.pack)}/{visible(finding.policy)} {visible(finding.urn)}: "
                f"{visible(finding.waiver.reason)} (owner {visible(finding.waiver.owner)}, "
                f"until {finding.waiver.expires})"
            )
        for policy, urn, why in outcome.unknown:
            lines.append(f"     UNKNOWN {visible(policy)} {visible(urn)}: {visible(why)}")
    return lines


def _usd(amount: float) -> str:
    return f"{amount:,.0f}"


def _cost_summary(cost: Cost) -> str:
    found = cost.estimate
    line = f"{_usd(found.monthly_usd)} USD/month"
    if cost.share is not None:
        line += f", {cost.share:.0%} of the {_usd(cost.budget)} budget"
    else:
        line += ", no budget declared"
    return line


def _drivers(cost: Cost, count: int | None = COST_DRIVERS) -> str:
    return ", ".join(f"{visible(d.name)} {_usd(d.monthly)} ({d.share:.0%})" for d in cost.estimate.drivers(count))


def _cost_lines(cost: Cost | None, verbose: bool) -> list[str]:
    """The estimate against the budget and its main drivers; -v lists every item."""
    if cost is None:
        return []
    found = cost.estimate
    lines = [f"   cost: {_cost_summary(cost)}" + (f"; drivers: {_drivers(cost)}" if found.items else "")]
    if found.unpriced:
        lines.append(f"     {len(found.unpriced)} resources not priced (the estimate is a floor)")
    if found.unknown:
        lines.append(f"     {len(found.unknown)} resources priced once deployed (values unknown in preview)")
    if not verbose:
        # With nothing priced, the notes say why (a provider billed outside the estimate).
        return lines if found.items else lines + [f"     note: {visible(note)}" for note in found.notes]
    for item in sorted(found.items, key=lambda item: (-item.monthly, item.driver, item.what)):
        assumed = " (assumed)" if item.assumed else ""
        lines.append(
            f"     {_usd(item.monthly):>7}  {visible(item.what)}: {visible(item.kind)}, "
            f"{item.quantity:,.1f} {visible(item.unit)} x {item.unit_price:g}{assumed}"
        )
    for entry in found.unpriced:
        lines.append(f"     UNPRICED {visible(entry.what)} ({visible(entry.type)}): {visible(entry.why)}")
    for entry in found.unknown:
        lines.append(f"     UNKNOWN {visible(entry.what)} ({visible(entry.type)}): {visible(entry.why)}")
    lines += [f"     note: {visible(note)}" for note in found.notes]
    if found.assumptions:
        assumed = ", ".join(f"{visible(k)} {v:g}" for k, v in sorted(found.assumptions.items()))
        lines.append(f"     assumptions: {assumed}")
    lines.append(f"     prices: {visible(found.note)}")
    return lines


def _stack_lines(
    report: StackReport, verbose: bool, out: Path | None, changes: Mapping[str, BaseDiff] | None
) -> list[str]:
    limit = None if verbose else TEXT_LIST_LIMIT
    lines = [f"== stack {visible(report.stack)}: {report.status.upper()}"]
    if report.error is not None:
        lines += _capped([f"   {visible(line)}" for line in report.error.splitlines()], limit, "lines of the error")
        return lines
    graph = report.graph
    assert graph is not None
    components = _components(graph)
    lines.append(f"   resources: {len(graph.deployed())}" + (f" in {components} components" if components else ""))
    if verbose:
        lines.append("   by component:")
        lines += [f"     {count:4d}  {visible(name)}" for name, count in sorted(graph.count_by_component().items())]
        lines.append("   by type:")
        lines += [f"     {count:4d}  {visible(name)}" for name, count in sorted(graph.count_by_type().items())]
    if report.objects:
        lines.append(
            f"   kubernetes {report.kubernetes_version}: {report.count(VALID)} valid, "
            f"{report.count(INVALID)} invalid, {report.count(UNVALIDATED)} unvalidated"
        )
    else:
        lines.append("   kubernetes: no objects")
    objects = []
    for result in report.objects:
        if result.status == VALID:
            continue
        errors = result.errors if verbose else result.errors[:1]
        more = f" (+{len(result.errors) - 1} more)" if len(result.errors) > len(errors) else ""
        objects.append(
            f"     {result.status.upper()} {visible(result.title)}: {visible(errors[0] if errors else '')}{more}"
        )
        objects += [f"       - {visible(error)}" for error in errors[1:]]
    lines += _capped(objects, limit, "objects")
    lines.append(f"   tools: {_tools_summary(report.tool_checks)}")
    for check in report.tool_checks:
        if check.status == TOOL_OK and not verbose:
            continue
        lines.append(f"     {check.status.upper()} {visible(check.tool)} {visible(check.subject)}")
        if check.status != TOOL_OK:
            detail = [f"       {visible(line.strip())}" for line in check.detail.splitlines() if line.strip()]
            lines += _capped(detail, limit, "lines")
    lines += _policy_lines(report.policies, verbose)
    lines += _cost_lines(report.policies.cost, verbose)
    if graph.diagnostics:
        lines.append(f"   diagnostics: {len(graph.diagnostics)} warnings or errors the program logged")
        lines += _capped([f"     {visible(message)}" for message in graph.diagnostics], limit, "diagnostics")
    if changes is not None and report.stack in changes:
        lines.append(f"   changes against the base: {visible(changes[report.stack].summary())}")
        if verbose:
            for change in sorted(changes[report.stack].changes, key=_change_rank):
                lines.append(f"     {change.action} {visible(change.type)} {visible(change.name)}")
                lines += [f"       ~ {visible(path)}" for path in change.paths]
                lines += [f"       ! {visible(error)}" for error in change.errors]
    if verbose and graph.outputs:
        lines.append(f"   outputs: {', '.join(visible(name) for name in sorted(graph.outputs))}")
    if out is not None:
        lines.append(f"   reports: {visible(out / report.stack)}/")
    return lines


def as_text(
    reports: list[StackReport],
    verbose: bool = False,
    out: Path | None = None,
    changes: Mapping[str, BaseDiff] | None = None,
) -> str:
    """A summary per stack (see the module's docstring), then the exit code and where the
    reports are. Every name and message is shown on its own line's terms: a control
    character in one is spelled out, so no line is forged."""
    lines = []
    for report in reports:
        lines += _stack_lines(report, verbose, out, changes)
    code = exit_code(reports)
    summary = ", ".join(f"{visible(r.stack)} {r.status}" for r in reports)
    lines.append(f"preflight: {summary}")
    lines.append(f"exit {code}: {EXIT_CODES[code]}")
    if out is None:
        lines.append("reports: none written (--out DIR writes them)")
    else:
        lines.append(
            f"reports: {visible(out)}/ report.md (for a pull request), policies.md, report.json, stacks.svg; "
            "per stack: graph.json, report.json, topology.svg, k8s/"
        )
    if not verbose:
        lines.append("(-v adds resources by component and type, advisory and waived findings, outputs)")
    return "\n".join(lines)


@dataclass
class _Section:
    """A part of report.md: fixed lines, then items that may be cut short."""

    head: list[str]
    # (priority, text): when not all fit, the lowest priorities are kept, in their order.
    items: list[tuple[int, str]] = field(default_factory=list)
    more: str = "see report.json"
    empty: str = ""
    tail: list[str] = field(default_factory=list)

    def fixed(self) -> str:
        return "\n".join(self.head + ([self.empty] if self.empty and not self.items else []) + self.tail)


def _size(text: str) -> int:
    # Bytes: never fewer than characters, however GitHub counts them.
    return len(text.encode("utf-8"))


def _allocate(demands: list[int], budget: int) -> list[int]:
    """Shares of `budget`: each section its need, the ones that need more an equal share
    of what the others leave."""
    shares = [0] * len(demands)
    left, order = budget, sorted(range(len(demands)), key=lambda i: demands[i])
    for position, index in enumerate(order):
        share = max(left // (len(order) - position), 0)
        shares[index] = min(demands[index], share)
        left -= shares[index]
    return shares


def _render(section: _Section, share: int) -> str:
    """The section with as many items as fit in `share` (beyond its fixed lines)."""
    sizes = [_size(text) + 1 for _, text in section.items]
    if sum(sizes) <= share:
        kept = list(range(len(section.items)))
    else:
        reserve = 120  # the "… N more" line
        kept, used = [], 0
        for index in sorted(range(len(section.items)), key=lambda i: section.items[i][0]):
            if used + sizes[index] <= share - reserve:
                kept.append(index)
                used += sizes[index]
        kept.sort()
    lines = list(section.head)
    if not section.items and section.empty:
        lines.append(section.empty)
    lines += [section.items[index][1] for index in kept]
    if len(kept) < len(section.items):
        lines.append(f"… {len(section.items) - len(kept)} more, {section.more}")
    return "\n".join(lines + section.tail)


def _table(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _md(text: object) -> str:
    return markdown(text, limit=500)


def _code(text: object) -> str:
    return markdown_code(text, limit=300)


def _summary_section(reports: list[StackReport], changes: Mapping[str, BaseDiff] | None) -> _Section:
    columns = ["stack", "status", "resources", "valid", "invalid", "unvalidated", "tools", "mandatory", "advisory"]
    columns += ["waived", "unknown", "warnings"] + (["changes"] if changes is not None else [])
    section = _Section(["## Summary", "", _table(*columns), _table(*["---"] * len(columns))], more="see report.json")
    rank = {ERROR: 0, FAILED: 1, OK: 2}
    for report in reports:
        if report.graph is None:
            cells = [_md(report.stack), f"**{report.status}**"] + ["–"] * (len(columns) - 2)
        else:
            verdicts = _verdicts(report.policies)
            cells = [
                _md(report.stack),
                report.status if report.status == OK else f"**{report.status}**",
                str(len(report.graph.deployed())),
                str(report.count(VALID)),
                str(report.count(INVALID)),
                str(report.count(UNVALIDATED)),
                _md(_tools_summary(report.tool_checks)) if report.tool_checks else "–",
                *(str(verdicts[key]) for key in ("mandatory", "advisory", "waived", "unknown")),
                str(len(report.graph.diagnostics)),
            ]
            if changes is not None:
                cells.append(_md(changes[report.stack].summary()) if report.stack in changes else "–")
        section.items.append((rank[report.status], _table(*cells)))
    return section


def _errors_section(reports: list[StackReport]) -> _Section:
    section = _Section(["## Stacks that could not be checked", ""], empty="None.")
    for report in reports:
        problems = [report.error] if report.error is not None else list(report.policies.errors)
        for problem in problems:
            section.items.append((0, f"**{_md(report.stack)}**\n\n{markdown_block(shorten(problem, 4000))}\n"))
    return section


def _policy_section(reports: list[StackReport]) -> _Section:
    head = ["## Policy verdicts", "", "Mandatory violations fail the gate; advisory ones are reported.", ""]
    head += [_table("stack", "level", "policy", "severity", "resource", "violation", "fix"), _table(*["---"] * 7)]
    section = _Section(head, more="see policies.md / report.json", empty="No violations.")
    for report in reports:
        blocking = {id(finding) for finding in report.policies.outcome.mandatory}
        for finding in report.policies.outcome.violations:
            level = "**mandatory**" if id(finding) in blocking else finding.enforcement
            row = _table(
                _md(report.stack),
                level,
                _md(f"{finding.pack}/{finding.policy}"),
                _md(finding.severity),
                _code(finding.urn or "(stack)"),
                _md(finding.message),
                markdown(finding.remediation, limit=300),
            )
            section.items.append((0 if id(finding) in blocking else 1, row))
    if not section.items:
        section.head = section.head[:4]
    return section


def _waiver_section(reports: list[StackReport]) -> _Section:
    head = ["## Waivers applied", ""]
    head += [_table("stack", "policy", "resource", "who", "why", "until"), _table(*["---"] * 6)]
    section = _Section(head, more="see policies.md / report.json", empty="None.")
    for report in reports:
        for finding in report.policies.outcome.waived:
            if finding.waiver is None:
                continue
            row = _table(
                _md(report.stack),
                _md(finding.policy),
                _code(finding.urn),
                _md(finding.waiver.owner),
                _md(finding.waiver.reason),
                _md(finding.waiver.expires),
            )
            section.items.append((0, row))
    if not section.items:
        section.head = section.head[:2]
    return section


def _tool_section(reports: list[StackReport]) -> _Section:
    head = ["## Tool results", "", _table("stack", "tool", "checked", "result"), _table(*["---"] * 4)]
    section = _Section(head, empty="No alerting rules or Alertmanager configuration to check.")
    for report in reports:
        for check in report.tool_checks:
            result = check.status if check.status == TOOL_OK else f"**{check.status}**"
            detail = f": {_md(check.detail.splitlines()[0])}" if check.status != TOOL_OK and check.detail else ""
            rank = 0 if check.status == TOOL_FAILED else 1 if check.status != TOOL_OK else 2
            section.items.append(
                (rank, _table(_md(report.stack), _md(check.tool), _md(check.subject), result + detail))
            )
    if not section.items:
        section.head = section.head[:2]
    return section


def _objects_section(reports: list[StackReport]) -> _Section:
    head = ["## Kubernetes objects not valid", "", _table("stack", "status", "object", "problem"), _table(*["---"] * 4)]
    section = _Section(head, empty="Every object is valid against its schema.")
    for report in reports:
        for result in report.objects:
            if result.status == VALID:
                continue
            problem = result.errors[0] if result.errors else ""
            if len(result.errors) > 1:
                problem += f" (+{len(result.errors) - 1} more)"
            rank = 0 if result.status == INVALID else 1
            row = _table(_md(report.stack), result.status, _code(result.title), _md(problem))
            section.items.append((rank, row))
    if not section.items:
        section.head = section.head[:2]
    return section


def _changes_section(changes: Mapping[str, BaseDiff]) -> _Section:
    head = ["## Changes against the base", ""]
    head += [f"The first {CHANGES_SHOWN} changes of each stack, riskiest first; report.json has them all.", ""]
    head += [_table("stack", "change", "type", "name", "properties"), _table(*["---"] * 5)]
    section = _Section(head, empty="No changes.")
    for stack, found in changes.items():
        ordered = sorted(found.changes, key=_change_rank)
        for change in ordered[:CHANGES_SHOWN]:
            what = "; ".join(change.paths)
            if change.errors:
                what = f"**refused**: {'; '.join(change.errors)}" + (f" ({what})" if what else "")
            row = _table(_md(stack), _md(change.action), _md(change.type), _code(change.name), markdown(what, 300))
            risky = change.errors or {diff.DELETED, diff.REPLACED} & set(change.action.split("+"))
            section.items.append((0 if risky else 1, row))
        if len(ordered) > CHANGES_SHOWN:
            section.items.append(
                (0, _table(_md(stack), f"… {len(ordered) - CHANGES_SHOWN} more, see report.json", "", "", ""))
            )
    if not section.items:
        section.head = section.head[:2]
    return section


def _cost_section(reports: list[StackReport]) -> _Section:
    costs = [(report, report.policies.cost) for report in reports if report.policies.cost is not None]
    head = ["## Cost estimate", ""]
    notes = sorted({cost.estimate.note for _, cost in costs})
    head += [
        f"Monthly, from {_md(note)}; usage the stacks do not declare is assumed (report.json lists it)."
        for note in notes
    ]
    head += [
        "",
        _table("stack", "USD/month", "budget", "of budget", "main drivers (USD/month)", "not priced"),
        _table(*["---"] * 6),
    ]
    section = _Section(head, more="see report.json", empty="No stack to estimate.")
    for report, cost in costs:
        share = cost.share
        drivers = "; ".join(f"{d.name} {_usd(d.monthly)}" for d in cost.estimate.drivers(COST_DRIVERS))
        unpriced = ", ".join(entry.what for entry in cost.estimate.unpriced)
        over = share is not None and share > 1
        row = _table(
            _md(report.stack),
            f"**{_usd(cost.estimate.monthly_usd)}**" if over else _usd(cost.estimate.monthly_usd),
            _usd(cost.budget) if cost.budget else "none",
            (f"**{share:.0%}**" if over else f"{share:.0%}") if share is not None else "–",
            _md(drivers) if drivers else "–",
            _md(unpriced) if unpriced else "–",
        )
        section.items.append((0 if over or unpriced else 1, row))
    return section


def _diagnostics_section(reports: list[StackReport]) -> _Section:
    head = ["## Diagnostics", "", "What the programs logged at warning or error level.", ""]
    head += [_table("stack", "message"), _table("---", "---")]
    section = _Section(head)
    for report in reports:
        for message in report.graph.diagnostics if report.graph else []:
            section.items.append((0, _table(_md(report.stack), _md(message))))
    return section


def as_markdown(
    reports: list[StackReport],
    changes: Mapping[str, BaseDiff] | None = None,
    budget: int = MARKDOWN_BUDGET,
) -> str:
    """report.md: a pull-request comment of at most `budget` bytes (so characters)."""
    code = exit_code(reports)
    worst = {0: "OK", 1: "FAILED", 2: "ERROR"}[code]
    head = [f"# preflight: {worst} (exit {code}: {EXIT_CODES[code]})", ""]
    foot = [
        "",
        "---",
        "Every finding is in `policies.md` and `report.json`; each stack's graph, manifests and "
        "topology picture (`<stack>/topology.svg`, all stacks in `stacks.svg`) are in the same folder.",
    ]
    sections: list[_Section] = [_summary_section(reports, changes)]
    if any(report.error is not None or report.policies.errors for report in reports):
        sections.append(_errors_section(reports))
    sections += [_policy_section(reports), _waiver_section(reports), _tool_section(reports), _objects_section(reports)]
    if any(report.policies.cost is not None for report in reports):
        sections.append(_cost_section(reports))
    if changes is not None:
        sections.append(_changes_section(changes))
    if any(report.graph and report.graph.diagnostics for report in reports):
        sections.append(_diagnostics_section(reports))
    fixed = _size("\n".join(head + foot)) + sum(_size(section.fixed()) + 2 for section in sections)
    demands = [sum(_size(text) + 1 for _, text in section.items) for section in sections]
    shares = _allocate(demands, budget - fixed - 200 * len(sections))
    body = "\n\n".join(_render(section, share) for section, share in zip(sections, shares, strict=True))
    document = "\n".join([*head, body, *foot]) + "\n"
    assert _size(document) <= budget, f"report.md is {_size(document)} bytes, over {budget}"
    return document


def policies_markdown(reports: list[StackReport]) -> str:
    """Every policy verdict, for a pull request or an artifact: a table of violations and
    one of the waivers applied (with no size limit; report.md has the short form)."""
    lines = ["# Policy gate", "", "| stack | pack | policy | level | severity | resource | violation | fix |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    waived = ["", "## Waivers applied", "", "| stack | policy | resource | reason | owner | expires |"]
    waived.append("|---|---|---|---|---|---|")
    for report in reports:
        outcome = report.policies.outcome
        stack = markdown(report.stack)
        for error in report.policies.errors:
            lines.append(f"| {stack} | | | error | | | {markdown(error)} | |")
        for (pack, policy), findings in _grouped(outcome.violations).items():
            for f in findings:
                lines.append(
                    f"| {stack} | {markdown(pack)} | {markdown(policy)} | {markdown(f.enforcement)} "
                    f"| {markdown(f.severity)} | {markdown_code(f.urn or '(stack)')} "
                    f"| {markdown(f.message)} | {markdown(f.remediation)} |"
                )
        for f in outcome.waived:
            assert f.waiver is not None
            waived.append(
                f"| {stack} | {markdown(f.policy)} | {markdown_code(f.urn)} | {markdown(f.waiver.reason)} "
                f"| {markdown(f.waiver.owner)} | {markdown(f.waiver.expires)} |"
            )
    return "\n".join(lines + waived) + "\n"
