"""A stack's pack settings: its environment's file, then what its configuration implies
(`implied.py`), then its own override file if it has one.

    policies/config/<pack>/<environment>.json      local, dev, staging, prod
    policies/config/<pack>/stacks/<stack>.json     optional: only what differs
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.config import implied
from policies.core.rule import Pack
from policies.core.settings import Applied, SettingsError, load, merge, resolve

CONFIG_ROOT = Path(__file__).resolve().parent
# Files are named in errors relative to here.
_ROOT = CONFIG_ROOT.parents[1]


@dataclass(frozen=True)
class Layer:
    source: str
    settings: dict[str, Any]


def environment_file(pack: str, environment: str) -> Path:
    return CONFIG_ROOT / pack / f"{environment}.json"


def override_file(pack: str, stack: str) -> Path:
    return CONFIG_ROOT / pack / "stacks" / f"{stack}.json"


def layers(pack: str, stack: str, config: Mapping[str, Any]) -> list[Layer]:
    """The layers of the stack's settings for `pack`, lowest first."""
    found: list[Layer] = []
    environment = implied.environment(config, stack)
    if environment is not None:
        path = environment_file(pack, environment)
        if not path.is_file():
            raise SettingsError(f"{_name(path)}: missing; every environment has a settings file for each pack")
        found.append(Layer(_name(path), load(path, _name(path))))
    found.append(Layer(f"what Pulumi.{stack}.yaml implies", implied.settings(pack, config, stack)))
    override = override_file(pack, stack)
    if override.is_file():
        found.append(Layer(_name(override), load(override, _name(override))))
    return found


def document(pack: Pack, stack: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's effective configuration of `pack`, in `--policy-pack-config` format.
    Each layer is checked on its own first, so an error names the file it is in."""
    parts = layers(pack.name, stack, config)
    problems = []
    for layer in parts:
        try:
            resolve(pack.rules, layer.settings, source=layer.source)
        except SettingsError as error:
            problems.append(str(error))
    if problems:
        raise SettingsError("\n".join(problems))
    merged = merge(*(layer.settings for layer in parts))
    resolve(pack.rules, merged, source=" over ".join(layer.source for layer in reversed(parts)))
    return merged


def applied(pack: Pack, stack: str, config: Mapping[str, Any]) -> dict[str, Applied]:
    return resolve(pack.rules, document(pack, stack, config))


def _name(path: Path) -> str:
    return str(path.relative_to(_ROOT)) if path.is_relative_to(_ROOT) else str(path)
