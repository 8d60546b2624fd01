"""Builds a CrossGuard `PolicyPack` from rules. Only a pack's `__main__.py` calls
`serve()`: constructing the PolicyPack starts the analyzer server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.core import waivers
from policies.core.evaluate import Outcome, run_rule, stack_of
from policies.core.rule import Pack, Resource, Rule, Stack
from policies.core.settings import Applied, SettingsError, resolve


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    schema = rule.params.model_json_schema()
    properties = schema.get("properties") or {}
    if not properties:
        return None
    # CrossGuard validates the config with JSON Schema; drop pydantic's titles.
    cleaned = {name: {k: v for k, v in spec.items() if k != "title"} for name, spec in properties.items()}
    return PolicyConfigSchema(properties=cleaned)


def _applied(rule: Rule, config: Mapping[str, Any]) -> Applied:
    """The rule's parameters from the configuration CrossGuard hands over (the level is
    CrossGuard's own business: it only calls enabled policies)."""
    values = {key: value for key, value in config.items() if key != "enforcementLevel"}
    return resolve([rule], {rule.name: values}, source="policy pack config")[rule.name]


def _waivers() -> list[waivers.Waiver]:
    """The waiver file, read once per change of the file rather than per resource."""
    stamp = waivers.WAIVERS_FILE.stat().st_mtime if waivers.WAIVERS_FILE.exists() else 0.0
    if _cache.get("stamp") != stamp:
        _cache.update(stamp=stamp, waivers=waivers.load())
    return _cache["waivers"]


_cache: dict[str, Any] = {}


def _outcome(
    pack: str, rule: Rule, config: Mapping[str, Any], stack: Stack, report: ReportViolation, **only: Any
) -> Outcome:
    """Runs the rule and reports what it found; a configuration or waiver-file error is
    reported as a violation that names it, never a failed gRPC call."""
    try:
        outcome = run_rule(pack, rule, _applied(rule, config), stack, _waivers(), **only)
    except (SettingsError, waivers.WaiverError) as error:
        report(f"cannot run: {error}")
        return Outcome()
    for finding in outcome.violations:
        if rule.is_stack_rule:
            report(finding.message, finding.urn or None)
        else:
            report(finding.message)
    if outcome.unknown_errors:
        # CrossGuard reports it as "can't run policy ... during preview".
        raise outcome.unknown_errors[0]
    return outcome


def _resource(args: Any) -> Resource:
    provider = getattr(args, "provider", None)
    dependencies = tuple(d.urn for d in getattr(args, "dependencies", None) or ())
    return Resource(
        args.resource_type, args.name, args.urn, args.props, getattr(provider, "props", None) or {}, dependencies
    )


def _policy(pack: str, rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    level = EnforcementLevel(rule.enforcement)
    common = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": level,
        "config_schema": _schema(rule),
        "severity": Severity(rule.severity),
        "remediation_steps": rule.remediation,
    }

    if rule.is_stack_rule:

        def validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
            resources = tuple(_resource(r) for r in args.resources)
            name = stack_of(resources[0].urn) if resources else ""
            _outcome(pack, rule, args.get_config(), Stack(name, resources), report)

        return StackValidationPolicy(validate=validate_stack, **common)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in rule.type_set:
            return
        resource = _resource(args)
        _outcome(pack, rule, args.get_config(), Stack(stack_of(args.urn), (resource,)), report, only=resource)

    remediate = None
    if rule.fix is not None:
        fix = rule.fix

        def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
            if args.resource_type not in rule.type_set:
                return None
            return fix(_resource(args), _applied(rule, args.get_config()).params)

    return ResourceValidationPolicy(validate=validate, remediate=remediate, **common)


def serve(pack: Pack, description: str) -> PolicyPack:
    return PolicyPack(
        name=pack.name,
        description=description,
        policies=[_policy(pack.name, rule) for rule in pack.rules],
    )
