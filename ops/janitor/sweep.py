"""One janitor run: scan, decide, (with apply) delete, report.

- A dry run deletes nothing and says what an applying run would delete, and why.
- An applying run first counts what it would delete: more than `max_deletions` and it
  refuses before touching anything (a mis-tagged account looks exactly like that).
- Each deletion is audited (what, why, when) before and after; one that fails is
  reported with AWS's or Google's answer and the run goes on with the next.
- Exit status: 0 clean, 1 a scan or a deletion failed, 2 refused (nothing changed).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from ops.audit import AuditLog
from ops.janitor import pricing
from ops.janitor.model import Finding, Rules, Verdict, decide, ownership_problem, printable
from ops.steps import OpsError


class Janitor(Protocol):
    def scan(self) -> tuple[list[Finding], list[str]]: ...

    def delete(self, finding: Finding) -> str: ...


@dataclass
class Report:
    cloud: str
    scope: str
    dry_run: bool
    prices: pricing.Prices
    verdicts: list[Verdict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deleted: list[Finding] = field(default_factory=list)
    failed: list[tuple[Finding, str]] = field(default_factory=list)
    marked: list[Finding] = field(default_factory=list)
    refused: str | None = None

    @property
    def exit_code(self) -> int:
        if self.refused:
            return 2
        return 1 if self.errors or self.failed else 0

    def totals(self) -> dict[str, Any]:
        deletable = [verdict for verdict in self.verdicts if verdict.delete]

        def usd(verdicts: Sequence[Verdict]) -> float | None:
            if self.prices.table is None:
                return None
            return round(sum(verdict.finding.monthly_usd or 0.0 for verdict in verdicts), 2)

        return {
            "found": len(self.verdicts),
            "deletable": len(deletable),
            "deleted": len(self.deleted),
            "failed": len(self.failed),
            "monthlyUsd": usd(self.verdicts),
            "deletableMonthlyUsd": usd(deletable),
            # Findings the table does not price (their figure is left out of the sums).
            "unpriced": sum(1 for verdict in self.verdicts if verdict.finding.monthly_usd is None),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "scope": self.scope,
            "dryRun": self.dry_run,
            "prices": self.prices.note,
            "totals": self.totals(),
            "findings": [verdict.describe() for verdict in self.verdicts],
            "errors": self.errors,
            "deleted": [finding.id for finding in self.deleted],
            "failed": [{"id": finding.id, "kind": finding.kind, "error": error} for finding, error in self.failed],
            "marked": [finding.id for finding in self.marked],
            "refused": self.refused,
        }

    def write_text(self, out: TextIO) -> None:
        mode = "dry run: nothing deleted (--apply deletes the rows marked delete)" if self.dry_run else "applying"
        print(f"janitor: {self.cloud} {printable(self.scope)}, {mode}", file=out)
        if self.verdicts:
            print(f"{'ACTION':7} {'KIND':13} {'ID':40} {'REGION':15} {'AGE(d)':>7} {'USD/MO':>8}  WHY", file=out)
        for verdict in self.verdicts:
            finding = verdict.finding
            age = "?" if verdict.age_days is None else f"{verdict.age_days:.1f}"
            cost = "-" if finding.monthly_usd is None else f"{finding.monthly_usd:.2f}"
            action = "delete" if verdict.delete else "keep"
            print(
                f"{action:7} {finding.kind:13} {printable(finding.id, 40):40} {printable(finding.region, 15):15} "
                f"{age:>7} {cost:>8}  {printable(finding.reason, 160)}; {printable(verdict.why, 160)}",
                file=out,
            )
        for finding, error in self.failed:
            print(f"FAILED  {finding.kind} {printable(finding.id)}: {printable(error, 300)}", file=out)
        for error in self.errors:
            print(f"ERROR   {printable(error, 300)}", file=out)
        if self.refused:
            print(f"REFUSED {printable(self.refused, 300)}", file=out)
        totals = self.totals()
        money = (
            f"; about {totals['monthlyUsd']:.2f} USD/month found, {totals['deletableMonthlyUsd']:.2f} deletable"
            f" ({totals['unpriced']} unpriced)"
            if totals["monthlyUsd"] is not None
            else ""
        )
        print(
            f"totals: {totals['found']} found, {totals['deletable']} deletable, {totals['deleted']} deleted, "
            f"{totals['failed']} failed{money}. Prices: {self.prices.note}",
            file=out,
        )

    def write(self, out: TextIO, form: str) -> None:
        if form == "json":
            print(json.dumps(self.as_json(), indent=2, sort_keys=True, ensure_ascii=False), file=out)
        else:
            self.write_text(out)


def _markable(verdict: Verdict, rules: Rules) -> bool:
    """An owned Elastic IP whose idle time AWS does not tell: an applying run marks it."""
    finding = verdict.finding
    if finding.kind != "elastic-ip" or finding.since is not None or ownership_problem(finding.tags):
        return False
    return rules.environment is None or finding.tags.get("environment") == rules.environment


def sweep(
    janitors: Sequence[Janitor],
    rules: Rules,
    now: datetime.datetime,
    apply: bool,
    max_deletions: int,
    audit: AuditLog,
    report: Report,
) -> Report:
    owner: dict[int, Janitor] = {}
    for janitor in janitors:
        findings, errors = janitor.scan()
        report.errors += errors
        for finding in findings:
            report.verdicts.append(decide(finding, rules, now))
            owner[id(finding)] = janitor
    candidates = [verdict for verdict in report.verdicts if verdict.delete]
    if apply and len(candidates) > max_deletions:
        report.refused = (
            f"{len(candidates)} resources would be deleted, more than --max-deletions {max_deletions}: "
            "nothing deleted. Check their tags (a mis-tagged account looks like this), then raise the bound "
            "if they are right"
        )
        audit.record("janitor", "refused", reason=report.refused)
        return report
    for verdict in candidates:
        finding = verdict.finding
        detail = {"cloud": finding.cloud, "kind": finding.kind, "id": finding.id, "region": finding.region}
        why = f"{finding.reason}; {verdict.why}"
        step = f"delete {finding.kind}"
        if not apply:
            audit.record(step, "would-apply", **detail, why=why)
            continue
        audit.record(step, "applying", **detail, why=why)
        try:
            action = owner[id(finding)].delete(finding)
        except OpsError as error:
            report.failed.append((finding, str(error)))
            audit.record(step, "failed", **detail, reason=str(error))
            continue
        report.deleted.append(finding)
        audit.record(step, "applied", **detail, action=action)
    if apply:
        for verdict in report.verdicts:
            janitor = owner[id(verdict.finding)]
            if _markable(verdict, rules) and hasattr(janitor, "mark"):
                finding = verdict.finding
                detail = {"cloud": finding.cloud, "id": finding.id, "region": finding.region}
                try:
                    janitor.mark(finding)
                except OpsError as error:
                    report.failed.append((finding, str(error)))
                    audit.record("mark elastic-ip", "failed", **detail, reason=str(error))
                    continue
                report.marked.append(finding)
                audit.record("mark elastic-ip", "applied", **detail, why="grace period starts now")
    return report
