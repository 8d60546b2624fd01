"""A policy rule: metadata CrossGuard shows, typed parameters, and a check.

A resource rule looks at one resource at a time; a stack rule at all of them. A check
yields one message per violation. A rule may also offer a safe fix (`fix`), which
returns the resource's corrected properties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "remediate", "disabled"]


class Params(BaseModel):
    """A rule's parameters, from pack configuration (camelCase keys, as in the stack
    files); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    # The inputs as the analyzer passes them: engine names, unknowns as sentinels (and,
    # under the analyzer, wrapped in its unknown-checking proxy).
    props: Mapping[str, Any]
    # The provider's own inputs (default tags, for example), when known.
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    # URNs this resource depends on: how a stack rule finds what belongs to what (a
    # bucket's policy, a VPC's flow log), known in preview when ids are not.
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stack:
    name: str
    resources: tuple[Resource, ...]
    # Resources by type, built once: every rule asks for its types.
    _by_type: dict[str, list[Resource]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for resource in self.resources:
            self._by_type.setdefault(resource.type, []).append(resource)

    def of_type(self, *types: str) -> list[Resource]:
        if len(types) == 1:
            return list(self._by_type.get(types[0], ()))
        wanted = set(types)
        return [resource for resource in self.resources if resource.type in wanted]

    def attached(self, target: Resource, *types: str) -> list[Resource]:
        """Resources of these types that depend on `target`."""
        return [resource for resource in self.of_type(*types) if target.urn in resource.dependencies]


_type_sets: dict[tuple[str, ...], frozenset[str]] = {}
ResourceCheck = Callable[[Resource, Any], Iterable[str]]
StackCheck = Callable[[Stack, Any], Iterable[tuple[str, str]]]  # (urn, message)
Fix = Callable[[Resource, Any], Mapping[str, Any] | None]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: Severity
    remediation: str
    enforcement: Enforcement = "mandatory"
    params: type[Params] = Params
    # Resource rules: the types they apply to, and the check.
    types: tuple[str, ...] = ()
    check: ResourceCheck | None = None
    # Stack rules: the check over every resource.
    stack_check: StackCheck | None = None
    fix: Fix | None = None

    def __post_init__(self) -> None:
        if (self.check is None) == (self.stack_check is None):
            raise ValueError(f"rule {self.name}: exactly one of check and stack_check")
        if self.check is not None and not self.types:
            raise ValueError(f"rule {self.name}: a resource rule names the types it checks")

    @property
    def type_set(self) -> frozenset[str]:
        return _type_sets.setdefault(self.types, frozenset(self.types))

    @property
    def is_stack_rule(self) -> bool:
        return self.stack_check is not None


class Pack:
    """A pack's registry: its rules, in the order their decorators ran (the report order).

    Each pack declares one (`policies/<pack>/__init__.py`); `rule(PACK, ...)` registers
    into it, so a rule cannot exist without running."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._rules: dict[str, Rule] = {}

    def register(self, rule: Rule) -> Rule:
        if rule.name in self._rules:
            where = [_where(self._rules[rule.name]), _where(rule)]
            raise ValueError(f"pack {self.name}: two rules named '{rule.name}' ({' and '.join(where)})")
        self._rules[rule.name] = rule
        return rule

    @property
    def rules(self) -> list[Rule]:
        return list(self._rules.values())


def _where(rule: Rule) -> str:
    function = rule.check or rule.stack_check
    return f"{function.__module__}.{function.__qualname__}"


def rule(pack: Pack, **kwargs: Any) -> Callable[[Callable[..., Iterable[Any]]], Rule]:
    """Decorator: the function is the check; keyword arguments are the rule's metadata.
    With `types`, a resource rule; without, a stack rule. The rule joins `pack`."""

    def wrap(function: Callable[..., Iterable[Any]]) -> Rule:
        if kwargs.get("types"):
            return pack.register(Rule(check=function, **kwargs))
        return pack.register(Rule(stack_check=function, **kwargs))

    return wrap
