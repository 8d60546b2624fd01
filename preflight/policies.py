"""Both CrossGuard packs over a synthesized stack, through the same engine the packs run
under `pulumi preview` (policies/core): the stack's effective pack settings (its
environment's, what its configuration implies, its override; policies/config), the
waivers, properties wrapped as the analyzer wraps them.

A mandatory violation, or a configuration or waiver file that does not parse, fails the
stack. Beside the verdicts: the stack's monthly cost estimate (policies/cost/estimate.py)
under its cost settings, against its budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.config import effective
from policies.core import waivers as waiver_file
from policies.core.evaluate import Finding, Outcome, evaluate
from policies.core.props import DeferredView
from policies.core.rule import Pack, Resource, Stack
from policies.core.settings import SettingsError
from policies.cost.estimate import Estimate
from policies.cost.rules import PACK as COST
from policies.cost.rules import EstimateParams, declared_budget, stack_estimate
from policies.zero_trust.rules import PACK as ZERO_TRUST
from preflight.graph import Graph

PACKS: tuple[Pack, ...] = (ZERO_TRUST, COST)
PROVIDER_PREFIX = "pulumi:providers:"


ESTIMATE_RULE = "cost-estimate-within-budget"


@dataclass(frozen=True)
class Cost:
    """The stack's monthly estimate and the budget it is held to (0: none declared)."""

    estimate: Estimate
    budget: float

    @property
    def share(self) -> float | None:
        return self.estimate.monthly_usd / self.budget if self.budget else None

    def to_dict(self) -> dict[str, Any]:
        share = self.share
        return {
            **self.estimate.to_dict(),
            "budgetUsd": self.budget or None,
            "percentOfBudget": round(share * 100, 1) if share is not None else None,
        }


@dataclass
class PolicyReport:
    outcome: Outcome = field(default_factory=Outcome)
    # A pack configuration or the waiver file could not be used.
    errors: list[str] = field(default_factory=list)
    # The cost estimate (None when the cost pack's settings could not be read).
    cost: Cost | None = None

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.outcome.mandatory)

    def to_dict(self) -> dict[str, Any]:
        by_policy: dict[str, list[dict[str, Any]]] = {}
        for finding in self.outcome.violations:
            by_policy.setdefault(f"{finding.pack}/{finding.policy}", []).append(_finding(finding))
        return {
            "errors": self.errors,
            "mandatory": len(self.outcome.mandatory),
            "violations": by_policy,
            # Safe fixes (the properties a `remediate` level would apply), by URN.
            "fixes": self.outcome.fixes,
            "waived": [
                {**_finding(f), "reason": f.waiver.reason, "owner": f.waiver.owner, "expires": str(f.waiver.expires)}
                for f in self.outcome.waived
                if f.waiver
            ],
            "unknown": [{"policy": p, "urn": u, "why": w} for p, u, w in self.outcome.unknown],
        }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "pack": finding.pack,
        "policy": finding.policy,
        "severity": finding.severity,
        "enforcement": finding.enforcement,
        "urn": finding.urn,
        "message": finding.message,
        "fix": finding.remediation,
    }


def stack_view(graph: Graph, regions: Mapping[str, str] | None = None) -> Stack:
    """The graph's resources as the analyzer would hand them to a stack policy. A default
    provider records no region under mocks; the engine gives it the stack's `aws:region`
    (`gcp:region`): `regions` fills it in, as the analyzer would see it."""
    by_urn = graph.by_urn()
    regions = regions or {}
    resources = []
    for resource in graph.resources:
        if not resource.custom or resource.type.startswith(PROVIDER_PREFIX):
            continue
        provider = by_urn.get(resource.provider or "")
        provider_inputs = dict(provider.inputs) if provider else {}
        # A default provider may not be recorded at all: the resource's own cloud then.
        cloud = provider.type.removeprefix(PROVIDER_PREFIX) if provider else resource.type.split(":", 1)[0]
        if "region" not in provider_inputs and cloud in regions:
            provider_inputs["region"] = regions[cloud]
        resources.append(
            Resource(
                type=resource.type,
                name=resource.name,
                urn=resource.urn,
                props=DeferredView(resource.revealed_inputs),
                provider_props=DeferredView(provider_inputs) if provider_inputs else {},
                dependencies=tuple(resource.dependencies),
            )
        )
    return Stack(graph.stack, tuple(resources))


@dataclass(frozen=True)
class GateSettings:
    """What the packs apply to one stack: its waivers and each pack's settings, or the
    errors that stop them. Read before any program runs, so no program can change them."""

    waivers: list[Any] = field(default_factory=list)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Per cloud, the region the stack's default providers take (`aws:region`, `gcp:region`):
    # the cost estimate prices their resources there.
    regions: dict[str, str] = field(default_factory=dict)


def settings_for(stack: str, config: Mapping[str, Any] | None = None) -> GateSettings:
    """`config` is the stack's configuration (`Program.stack_config(stack).values`), which
    its settings derive from; without it, a stack named after an environment gets that
    environment's settings and any other the rules' defaults."""
    try:
        waivers = waiver_file.load()
    except waiver_file.WaiverError as error:
        return GateSettings(errors=[f"policies/waivers.yaml: {error}"])
    regions = {cloud: str((config or {}).get(f"{cloud}:region")) for cloud in ("aws", "gcp")}
    settings = GateSettings(waivers=waivers, regions={c: r for c, r in regions.items() if r != "None"})
    for pack in PACKS:
        try:
            settings.applied[pack.name] = effective.applied(pack, stack, config or {})
        except SettingsError as error:
            settings.errors.extend(str(error).splitlines())
    return settings


def check(graph: Graph, config: Mapping[str, Any] | None = None, settings: GateSettings | None = None) -> PolicyReport:
    """Both packs over a graph, with `settings` (else read now, from `config`)."""
    settings = settings or settings_for(graph.stack, config)
    report = PolicyReport(errors=list(settings.errors))
    if settings.errors and not settings.applied:
        return report
    stack = stack_view(graph, settings.regions)
    for pack in PACKS:
        if pack.name in settings.applied:
            applied = settings.applied[pack.name]
            report.outcome.extend(evaluate(pack.name, pack.rules, stack, applied, settings.waivers))
    report.cost = cost_of(stack, settings)
    return report


def cost_of(stack: Stack, settings: GateSettings) -> Cost | None:
    """The stack's estimate under its cost settings, with its budget (the settings', else
    its declared stack-wide Budget)."""
    applied = settings.applied.get(COST.name, {}).get(ESTIMATE_RULE)
    if applied is None:
        return None
    params = applied.params
    assert isinstance(params, EstimateParams)
    return Cost(stack_estimate(stack, params, settings.regions), params.budget or declared_budget(stack))
