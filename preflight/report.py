"""What preflight found, per stack: as text for a terminal, JSON for tools, Markdown for PRs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from policies.core.evaluate import Finding
from preflight import topology
from preflight.graph import Graph
from preflight.kubernetes import INVALID, UNVALIDATED, VALID, ObjectResult
from preflight.monitoring import FAILED as TOOL_FAILED
from preflight.monitoring import ToolCheck
from preflight.policies import PolicyReport

OK, FAILED, ERROR = "ok", "failed", "error"


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


def exit_code(reports: list[StackReport]) -> int:
    """2 if any stack could not be synthesized, 1 if any failed validation, else 0."""
    statuses = {report.status for report in reports}
    return 2 if ERROR in statuses else 1 if FAILED in statuses else 0


def as_json(reports: list[StackReport]) -> str:
    document = {"exitCode": exit_code(reports), "stacks": [report.to_dict() for report in reports]}
    return json.dumps(document, indent=2, sort_keys=True)


def as_text(reports: list[StackReport]) -> str:
    lines = []
    for report in reports:
        lines.append(f"== stack {report.stack}: {report.status.upper()}")
        if report.error is not None:
            lines.extend(f"   {line}" for line in report.error.splitlines())
            continue
        assert report.graph is not None
        lines.append(f"   {len(report.graph.deployed())} resources, by component:")
        for component, count in sorted(report.graph.count_by_component().items()):
            lines.append(f"     {count:4d}  {component}")
        lines.append("   by type:")
        for type_token, count in sorted(report.graph.count_by_type().items()):
            lines.append(f"     {count:4d}  {type_token}")
        if report.objects:
            lines.append(
                f"   kubernetes {report.kubernetes_version}: {report.count(VALID)} valid, "
                f"{report.count(INVALID)} invalid, {report.count(UNVALIDATED)} unvalidated"
            )
            for result in report.objects:
                if result.status != VALID:
                    lines.append(f"     {result.status.upper()} {result.title}")
                    lines.extend(f"       - {error}" for error in result.errors)
        for check in report.tool_checks:
            lines.append(f"   {check.tool}: {check.subject}: {check.status}")
            lines.extend(f"       {line}" for line in check.detail.splitlines() if check.status != "ok")
        lines.extend(_policy_lines(report.policies))
        for diagnostic in report.graph.diagnostics:
            lines.append(f"   {diagnostic}")
        if report.graph.outputs:
            lines.append(f"   outputs: {', '.join(sorted(report.graph.outputs))}")
    code = exit_code(reports)
    summary = ", ".join(f"{r.stack} {r.status}" for r in reports)
    lines.append(f"preflight: {summary} (exit {code})")
    return "\n".join(lines)


def as_markdown(reports: list[StackReport]) -> str:
    lines = [
        "# preflight",
        "",
        "| stack | status | resources | valid | invalid | unvalidated |",
        "|---|---|---|---|---|---|",
    ]
    for report in reports:
        resources = len(report.graph.deployed()) if report.graph else "–"
        lines.append(
            f"| {report.stack} | {report.status} | {resources} | {report.count(VALID)} "
            f"| {report.count(INVALID)} | {report.count(UNVALIDATED)} |"
        )
    for report in reports:
        lines += ["", f"## {report.stack}", ""]
        if report.error is not None:
            lines += ["```", report.error, "```"]
            continue
        for result in report.objects:
            if result.status != VALID:
                lines.append(f"- **{result.status}** `{result.title}`")
                lines.extend(f"  - {error}" for error in result.errors)
        assert report.graph is not None
        lines += ["<details><summary>topology</summary>", "", "```mermaid", topology.mermaid(report.graph)]
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _grouped(findings: list[Finding]) -> dict[tuple[str, str], list[Finding]]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.pack, finding.policy), []).append(finding)
    return groups


def _policy_lines(policies: PolicyReport) -> list[str]:
    outcome = policies.outcome
    lines = [
        f"   policies: {len(outcome.mandatory)} mandatory, {len(outcome.violations) - len(outcome.mandatory)} "
        f"advisory, {len(outcome.waived)} waived, {len(outcome.unknown)} unknown until deployed"
    ]
    lines.extend(f"     ERROR {error}" for error in policies.errors)
    for (pack, policy), findings in _grouped(outcome.violations).items():
        lines.append(f"     {findings[0].enforcement.upper()} {pack}/{policy} ({findings[0].severity})")
        lines.extend(f"       - {f.urn or '(stack)'}: {f.message}" for f in findings)
        lines.append(f"       fix: {findings[0].remediation}")
    if outcome.fixes:
        lines.append(f"     {len(outcome.fixes)} safe fixes available (applied under the `remediate` level)")
    for finding in outcome.waived:
        assert finding.waiver is not None
        lines.append(
            f"     WAIVED {finding.pack}/{finding.policy} {finding.urn}: {finding.waiver.reason} "
            f"(owner {finding.waiver.owner}, until {finding.waiver.expires})"
        )
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def policies_markdown(reports: list[StackReport]) -> str:
    """The policy gate as a pull-request comment: one table of violations, one of waivers."""
    lines = ["# Policy gate", "", "| stack | pack | policy | level | severity | resource | violation | fix |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    waived = ["", "## Waivers applied", "", "| stack | policy | resource | reason | owner | expires |"]
    waived.append("|---|---|---|---|---|---|")
    for report in reports:
        outcome = report.policies.outcome
        for error in report.policies.errors:
            lines.append(f"| {report.stack} | | | error | | | {_cell(error)} | |")
        for (pack, policy), findings in _grouped(outcome.violations).items():
            for f in findings:
                lines.append(
                    f"| {report.stack} | {pack} | {policy} | {f.enforcement} | {f.severity} | `{f.urn or '(stack)'}` "
                    f"| {_cell(f.message)} | {_cell(f.remediation)} |"
                )
        for f in outcome.waived:
            assert f.waiver is not None
            waived.append(
                f"| {report.stack} | {f.policy} | `{f.urn}` | {_cell(f.waiver.reason)} | {f.waiver.owner} "
                f"| {f.waiver.expires} |"
            )
    return "\n".join(lines + waived) + "\n"
