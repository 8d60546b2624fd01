"""Runs rules over a stack's resources: the one code path behind both the CrossGuard
packs (`core/pack.py`) and preflight."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from policies.core import waivers as waiver_file
from policies.core.rule import Enforcement, Pack, Params, Resource, Rule, Stack
from policies.core.settings import Applied
from policies.core.waivers import Waiver


@dataclass(frozen=True)
class Finding:
    pack: str
    policy: str
    severity: str
    enforcement: Enforcement
    urn: str
    message: str
    remediation: str
    waiver: Waiver | None = None


@dataclass
class Outcome:
    violations: list[Finding] = field(default_factory=list)
    waived: list[Finding] = field(default_factory=list)
    # (policy, urn, why): checks that could not run because a value is not known yet.
    unknown: list[tuple[str, str, str]] = field(default_factory=list)
    # urn -> corrected properties, from rules with a safe fix.
    fixes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The exceptions behind `unknown`, for the pack adapter to hand to CrossGuard.
    unknown_errors: list[UnknownValueError] = field(default_factory=list, repr=False)

    @property
    def mandatory(self) -> list[Finding]:
        """What blocks: mandatory violations, and `remediate` ones with no fix to apply."""
        unfixed = [f for f in self.violations if f.enforcement == "remediate" and f.urn not in self.fixes]
        return [f for f in self.violations if f.enforcement == "mandatory"] + unfixed

    def extend(self, other: Outcome) -> None:
        self.violations += other.violations
        self.waived += other.waived
        self.unknown += other.unknown
        self.fixes.update(other.fixes)
        self.unknown_errors += other.unknown_errors


def stack_of(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` -> stack."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1] if urn.startswith("urn:pulumi:") else ""


def run_rule(
    pack: str,
    rule: Rule,
    applied: Applied,
    stack: Stack,
    waivers: Iterable[Waiver],
    only: Resource | None = None,
    today: datetime.date | None = None,
) -> Outcome:
    """One rule over the stack (or, for a resource rule, over `only`).

    Messages are reported as the check yields them, so a value unknown until deployment
    ends the check without losing what it already found; the unknown is recorded (the
    pack adapter re-raises it for CrossGuard to report as it does its own). A rule that
    fails on a value it did not expect is reported, not allowed to stop the gate.
    """
    outcome = Outcome()
    if applied.enforcement == "disabled":
        return outcome
    params = applied.params
    today = today or datetime.date.today()
    waivers = [waiver for waiver in waivers if not waiver.expired(today)]

    def report(urn: str, message: str) -> None:
        waiver = next((w for w in waivers if w.covers(rule.name, urn, stack.name or stack_of(urn))), None)
        finding = Finding(pack, rule.name, rule.severity, applied.enforcement, urn, message, rule.remediation, waiver)
        (outcome.waived if waiver else outcome.violations).append(finding)

    def run(urn: str, found: Iterable[Any]) -> int:
        count = 0
        try:
            for item in found:
                if isinstance(item, tuple):
                    report(*item)  # a stack rule names the resource
                else:
                    report(urn, item)
                count += 1
        except UnknownValueError as error:
            outcome.unknown.append((rule.name, urn, error.message))
            outcome.unknown_errors.append(error)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            report(urn, f"the rule could not judge this resource ({type(error).__name__}: {error})")
            count += 1
        return count

    if rule.stack_check is not None:
        run("", rule.stack_check(stack, params))
        return outcome
    assert rule.check is not None
    types = rule.type_set
    targets = [only] if only is not None else [r for r in stack.resources if r.type in types]
    for resource in targets:
        if resource.type in types and run(resource.urn, rule.check(resource, params)) and rule.fix is not None:
            fixed = rule.fix(resource, params)
            if fixed is not None:
                outcome.fixes[resource.urn] = dict(fixed)
    return outcome


def evaluate(
    pack: str,
    rules: list[Rule],
    stack: Stack,
    applied: dict[str, Applied],
    waivers: Iterable[Waiver] = (),
    today: datetime.date | None = None,
) -> Outcome:
    outcome = Outcome()
    waivers = list(waivers)
    for rule in rules:
        outcome.extend(run_rule(pack, rule, applied[rule.name], stack, waivers, today=today))
    return outcome


class WaiverParams(Params):
    # The date waivers are judged against; tests pin it.
    today: datetime.date | None = None


def waivers_current_rule(pack: Pack) -> Rule:
    """Registers the pack's stack rule that every waiver of its policies is still in date.
    It reads the registry when it runs, so it covers rules registered after it too."""

    def check(stack: Stack, params: WaiverParams) -> Iterable[tuple[str, str]]:
        today = params.today or datetime.date.today()
        names = {rule.name for rule in pack.rules}
        for waiver in waiver_file.load():
            applies = not waiver.stacks or stack.name in waiver.stacks
            if waiver.policy in names and applies and waiver.expired(today):
                yield (
                    "",
                    (
                        f"the waiver of '{waiver.policy}' for {waiver.resource} (owner {waiver.owner}) "
                        f"expired on {waiver.expires.isoformat()}"
                    ),
                )

    return pack.register(
        Rule(
            name=f"{pack.name}-waivers-current",
            description="Every waiver of this pack's policies is still in date.",
            severity="high",
            remediation="Fix the resource and delete the waiver, or renew it in policies/waivers.yaml after review.",
            params=WaiverParams,
            stack_check=check,
        )
    )
