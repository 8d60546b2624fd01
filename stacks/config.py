"""Reads the `projectai:` configuration namespace, once, at program start.

This is the only module that reads Pulumi configuration. `load()` gathers the raw
namespace, lays it over the per-environment defaults (`stacks/defaults.py`), validates
it against the model (`stacks/model.py`), and either returns a `StackConfig` or raises
`ConfigError`, whose message has one line per problem (`stacks/problems.py`): the stack
file, the key path and what was expected.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi.runtime
import pulumi.runtime.config
from pydantic import BaseModel, TypeAdapter, ValidationError

from stacks.defaults import deep_merge, environment_defaults
from stacks.model import NAMESPACE, ROLES, SHARED, StackBase, StackConfig, WorkloadStack, role_model
from stacks.problems import describe, plaintext_secrets

__all__ = ["NAMESPACE", "ConfigError", "StackConfig", "load", "parse"]


STACK_CONFIG: TypeAdapter[StackConfig] = TypeAdapter(StackConfig)


class ConfigError(pulumi.RunError):
    """A stack's configuration is invalid. Pulumi prints a RunError without a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(problems))


def load() -> StackConfig:
    """Reads and validates the current stack's `projectai:` namespace."""
    stack = pulumi.get_stack()
    raw = _read_namespace(NAMESPACE)
    secret_keys = {key for key in raw if pulumi.runtime.is_config_secret(f"{NAMESPACE}:{key}")}
    return parse(raw, source=f"Pulumi.{stack}.yaml", secret_keys=secret_keys)


def parse(raw: dict[str, Any], source: str, secret_keys: set[str] | frozenset[str] = frozenset()) -> StackConfig:
    """Validates a raw namespace (top-level key -> value or JSON text)."""
    values = {key: _decode(value) for key, value in raw.items()}
    problems = [f"{source}: {problem}" for problem in plaintext_secrets(values, secret_keys)]
    if "app" in secret_keys:
        # `--secret --path projectai:app...` makes all of `app` secret, but its settings
        # land in a ConfigMap in plaintext: secrets reach the pods from Vault instead.
        problems.append(
            f"{source}: {NAMESPACE}:app: set with --secret, but app settings go into a ConfigMap; "
            "expected secrets in Vault, synced to a Kubernetes Secret"
        )
    role, cloud = values.get("role"), values.get("cloud")
    model = role_model(role, cloud)
    # The models a role and cloud may name: a section none of them takes gets no defaults.
    models = [model] if model else list(ROLES.get(role, ())) if isinstance(role, str) else []
    taken = set().union(*(_keys_of(m) for m in models)) if models else _keys_of(_shared(role, values))
    defaults = environment_defaults(values.get("environment"), cloud)
    defaults = {key: value for key, value in defaults.items() if key in taken}
    merged = deep_merge(defaults, values)
    try:
        config = STACK_CONFIG.validate_python(merged)
    except ValidationError as error:
        found: list[tuple[Any, type[StackBase] | None]] = [(item, None) for item in error.errors()]
        if model is None:
            # pydantic stops at a role or cloud it does not know: check what every stack of
            # the role (or every stack) has too, so no other problem goes unsaid.
            shared = _shared(role, values)
            found += [(item, shared) for item in _shared_errors(shared, merged)]
        if not defaults:
            # Without a known environment no defaults apply, so "missing" would be noise.
            found = [(e, m) for e, m in found if e["type"] != "missing" or e["loc"][-1:] == ("environment",)]
        lines = [f"{source}: {describe(item, role, cloud, shared)}" for item, shared in found]
        raise ConfigError(problems + list(dict.fromkeys(lines))) from None
    if problems:
        raise ConfigError(problems)
    return config


def _shared(role: object, values: dict[str, Any]) -> type[StackBase]:
    """What every stack of the role has; for a role no model names, what every stack
    running the API has if the file has such sections, else what every stack has."""
    if isinstance(role, str) and role in SHARED:
        return SHARED[role]
    return WorkloadStack if set(values) & (_keys_of(WorkloadStack) - _keys_of(StackBase)) else StackBase


def _shared_errors(shared: type[StackBase], merged: dict[str, Any]) -> list[Any]:
    try:
        shared.model_validate({key: value for key, value in merged.items() if key in _keys_of(shared)})
    except ValidationError as error:
        return error.errors()
    return []


def _keys_of(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _read_namespace(namespace: str) -> dict[str, Any]:
    # Pulumi offers no public "list keys" call. A real run passes config in the
    # PULUMI_CONFIG environment variable; mocks and the Automation API set it with
    # set_all_config. Read both so that every key, known or not, is validated.
    merged = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{namespace}:"
    return {key[len(prefix) :]: value for key, value in merged.items() if key.startswith(prefix)}


def _decode(value: Any) -> Any:
    """Structured config arrives as JSON text; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
