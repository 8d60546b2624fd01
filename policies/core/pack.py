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
from policies.core.evaluate import run_rule, stack_of
from policies.core.rule import Resource, Rule, Stack
from policies.core.settings import Applied, resolve


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    schema = rule.params.model_json_schema()
    properties = schema.get("properties") or {}
    if not properties:
        return None
    # CrossGuard validates the config with JSON Schema; drop pydantic's titles.
    cleaned = {name: {k: v for k, v in spec.items() if k != "title"} for name, spec in properties.items()}
    return PolicyConfigSchema(properties=cleaned)


def _applied(rule: Rule, config: Mapping[str, Any], level: EnforcementLevel | None) -> Applied:
    values = {key: value for key, value in config.items() if key != "enforcementLevel"}
    entry: dict[str, Any] = dict(values)
    if level is not None:
        entry["enforcementLevel"] = level.value
    return resolve([rule], {rule.name: entry}, source="policy pack config")[rule.name]


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
            applied = _applied(rule, args.get_config(), None)
            outcome = run_rule(pack, rule, applied, Stack(name, resources), waivers.load(), raise_unknown=True)
            for finding in outcome.violations:
                report(finding.message, finding.urn or None)

        return StackValidationPolicy(validate=validate_stack, **common)

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in rule.type_set:
            return
        resource = _resource(args)
        stack = Stack(stack_of(args.urn), (resource,))
        applied = _applied(rule, args.get_config(), None)
        outcome = run_rule(pack, rule, applied, stack, waivers.load(), only=resource, raise_unknown=True)
        for finding in outcome.violations:
            report(finding.message)

    remediate = None
    if rule.fix is not None:
        fix = rule.fix

        def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
            if args.resource_type not in rule.type_set:
                return None
            return fix(_resource(args), _applied(rule, args.get_config(), None).params)

    return ResourceValidationPolicy(validate=validate, remediate=remediate, **common)


def serve(pack: str, rules: list[Rule], description: str) -> PolicyPack:
    return PolicyPack(
        name=pack,
        description=description,
        policies=[_policy(pack, rule) for rule in rules],
    )
