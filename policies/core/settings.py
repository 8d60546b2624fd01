"""Pack configuration, in the format `pulumi preview --policy-pack-config FILE` reads:
`{"<policy>": "advisory"}` or `{"<policy>": {"enforcementLevel": "...", "<param>": ...}}`.

A configuration holds only what differs from the rules' defaults, and may come in layers
(`merge`); every value is checked against the rule's parameter model, so a typo in a
policy or parameter name is an error, not a silent default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policies.core.rule import Enforcement, Params, Rule

LEVELS: tuple[Enforcement, ...] = ("advisory", "mandatory", "remediate", "disabled")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Applied:
    enforcement: Enforcement
    params: Params


def load(path: Path, source: str) -> dict[str, Any]:
    """One configuration file; `source` names it in errors."""
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise SettingsError(f"{source}: cannot be read ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{source}: expected an object of policy names")
    return document


def merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Each layer over the ones before it. A policy's entry merges key by key; a list adds
    its items in front of the list beneath (the most specific first, no repeats), so a
    layer can widen an allow-list without repeating it; any other value replaces."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for name, entry in layer.items():
            if name != "all" and isinstance(entry, str):
                entry = {"enforcementLevel": entry}
            merged[name] = _merge(merged[name], entry) if name in merged else entry
    return merged


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{key: _merge(base[key], value) if key in base else value for key, value in over.items()}}
    if isinstance(base, list) and isinstance(over, list):
        return [*over, *(item for item in base if item not in over)]
    return over


def resolve(rules: list[Rule], config: dict[str, Any], source: str = "pack config") -> dict[str, Applied]:
    """Each rule's enforcement level and parameters under this configuration."""
    by_name = {rule.name: rule for rule in rules}
    problems = [f"{source}: unknown policy '{name}'" for name in config if name not in by_name and name != "all"]
    default_level = config.get("all")
    resolved: dict[str, Applied] = {}
    for rule in rules:
        entry = config.get(rule.name, {})
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        if not isinstance(entry, dict):
            problems.append(f"{source}: {rule.name}: expected a level or an object")
            continue
        values = dict(entry)
        level = values.pop("enforcementLevel", default_level or rule.enforcement)
        if level not in LEVELS:
            problems.append(f"{source}: {rule.name}: enforcementLevel '{level}', expected one of {', '.join(LEVELS)}")
            continue
        try:
            params = rule.params.model_validate(values)
        except ValidationError as error:
            for item in error.errors():
                where = ".".join(str(part) for part in item["loc"])
                problems.append(f"{source}: {rule.name}.{where}: {item['msg']}")
            continue
        resolved[rule.name] = Applied(level, params)
    if problems:
        raise SettingsError("\n".join(problems))
    return resolved
