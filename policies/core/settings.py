"""Pack configuration, in the format `pulumi preview --policy-pack-config FILE` reads:
`{"<policy>": "advisory"}` or `{"<policy>": {"enforcementLevel": "...", "<param>": ...}}`.

A stack's file (`policies/config/<pack>/<stack>.json`) holds only what differs from the
rules' defaults; every value is checked against the rule's parameter model, so a typo
in a policy or parameter name is an error, not a silent default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policies.core.rule import Enforcement, Params, Rule

CONFIG_ROOT = Path(__file__).resolve().parents[1] / "config"
LEVELS: tuple[Enforcement, ...] = ("advisory", "mandatory", "remediate", "disabled")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Applied:
    enforcement: Enforcement
    params: Params


def config_file(pack: str, stack: str) -> Path:
    return CONFIG_ROOT / pack / f"{stack}.json"


def load(pack: str, stack: str) -> dict[str, Any]:
    path = config_file(pack, stack)
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path.name}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{path.name}: expected an object of policy names")
    return document


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
