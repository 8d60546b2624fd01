"""One line per configuration problem: the key path, what was expected, what was given."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel

from stacks.model import CLOUD_NAMES, NAMESPACE, ROLES, role_model

# Keys whose value is a credential.
_SECRET_KEY = re.compile(r"(password|passwd|secret|token|apikey|api_key|privatekey|credential)", re.I)
# A key's last word says what its value is. One ending in a reference word names a secret
# rather than holding one: `tlsSecretName` (a Kubernetes Secret), `secretKeyRef`, a Vault
# `...Path` or `...Mount`, a `TOKEN_FILE`, an ARN. One ending in a measure describes one:
# `externalSecretsChartVersion`, `tokenTtlSeconds`. Either may stay in plaintext.
_REFERENCE_WORDS = frozenset({"name", "names", "ref", "refs", "path", "paths", "mount", "file", "arn", "id", "url"})
_MEASURE_WORDS = frozenset({"version", "ttl", "seconds", "days"})
# Words of a key in camelCase, PascalCase, snake_case, SCREAMING_SNAKE or kebab-case.
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# A Kubernetes object name or a path: what a reference key holds. Credentials the value
# patterns know do not look like that (upper case, `_`, spaces), unless they are names.
_REFERENCE_VALUE = re.compile(r"/?[a-z0-9]([a-z0-9._/-]*[a-z0-9])?")
# Values that are credentials whatever key holds them.
_SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|gh[pousr]_[A-Za-z0-9]{36}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|hvs\.[A-Za-z0-9_-]{20,})"
)


def plaintext_secrets(values: dict[str, Any], secret_keys: set[str] | frozenset[str]) -> list[str]:
    problems = []

    def walk(path: str, value: Any, key: str) -> None:
        if isinstance(value, dict):
            for child, child_value in value.items():
                walk(f"{path}.{child}", child_value, str(child))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{path}[{index}]", item, key)
        elif isinstance(value, str) and value:
            words = [word.lower() for word in _WORDS.findall(key)]
            last = words[-1] if words else ""
            reference = last in _REFERENCE_WORDS
            named_secret = _SECRET_KEY.search(key) and not reference and last not in _MEASURE_WORDS
            secret_value = _SECRET_VALUE.search(value) and not (reference and _REFERENCE_VALUE.fullmatch(value))
            if named_secret or secret_value:
                where = (
                    "expected it in Vault (app settings go into a ConfigMap)"
                    if path.startswith(f"{NAMESPACE}:app.")
                    else f"expected it in Vault, or set with `pulumi config set --secret --path '{path}'`"
                )
                problems.append(f"{path}: looks like a secret in plaintext; {where}")

    for key, value in values.items():
        if key not in secret_keys:
            walk(f"{NAMESPACE}:{key}", value, key)
    return problems


_EXPECTATIONS = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping of keys to values",
    "list_type": "expected a list",
    "model_type": "expected a mapping of keys to values",
    "model_attributes_type": "expected a mapping of keys to values",
}


def describe(error: Any, role: object, cloud: object, shared: Any = None) -> str:
    """One line for one pydantic error: key path, what was expected, what was given.
    The stack's role and cloud chose the model, and pydantic names that choice ahead of
    the key path; an error of the `shared` model (what every stack of the role has,
    checked when the role or cloud named no model) has no such prefix."""
    known = role if isinstance(role, str) and role in ROLES else None
    model = shared or role_model(role, cloud) or (ROLES[known][0] if known else None)
    tags = (2 if known == "region" else 1) if known and shared is None else 0
    location = [str(part) for part in error["loc"]][tags:]
    kind = error["type"]
    given = error.get("input")
    if kind in ("union_tag_invalid", "union_tag_not_found") or location == ["cloud"]:
        return _role_or_cloud(role, cloud)
    if kind == "extra_forbidden" and len(location) == 1 and (owners := _roles_taking(location[0])):
        roles = f"the {' and '.join(owners)} role{'s do' if len(owners) > 1 else ' does'}"
        return f"{_path(location)}: the {known} role takes no '{location[0]}' key (only {roles})"
    if kind == "extra_forbidden" and known and (other := _other_model_taking(known, model, location)):
        return f"{_path(location)}: a key of {other}s, not of {_model_name(model)}s"
    if kind == "extra_forbidden":
        valid = _valid_keys(model, location[:-1])
        close = difflib.get_close_matches(location[-1], valid, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(valid)}"
        return f"{_path(location)}: unknown key{hint}"
    if kind == "missing" and len(location) == 1 and known:
        return f"{_path(location)}: missing required key for the {known} role"
    if kind in ("too_short", "too_long"):
        bound, limit = (
            ("at least", error["ctx"]["min_length"]) if kind == "too_short" else ("at most", error["ctx"]["max_length"])
        )
        count = error["ctx"].get("actual_length")
        got = "none" if not count else str(count)
        return f"{_path(location)}: expected {bound} {limit} item(s), got {got}"
    if kind == "missing":
        return f"{_path(location)}: missing required key"
    if kind == "literal_error":
        expected = error["ctx"]["expected"]
        return f"{_path(location)}: expected one of {expected}, got {given!r}"
    if kind == "string_pattern_mismatch" and location[-1] == "[key]":
        mapping = location[-3] if len(location) >= 3 else ""
        return f"{_path(location[:-2])}: key {given!r}: expected {_key_hint(mapping)}"
    if kind == "string_pattern_mismatch":
        return f"{_path(location)}: got {given!r}, expected {_pattern_hint(location[-1])}"
    if kind == "string_too_long":
        return f"{_path(location)}: expected at most {error['ctx']['max_length']} characters, got {len(given)}"
    if kind == "string_type" and location[-1] == "version" and isinstance(given, float):
        return f'{_path(location)}: got the number {given!r}; quote it, e.g. version: "1.30"'
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": "≥",
            "less_than_equal": "≤",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        limit = next(iter(error["ctx"].values()))
        return f"{_path(location)}: expected a value {bound} {limit}, got {given!r}"
    if kind == "value_error":
        message = str(error["ctx"]["error"])
        # A model-level check names its own key ("region: ...") relative to the model.
        if ": " in message and message.split(": ", 1)[0].replace(".", "").isalnum():
            key, message = message.split(": ", 1)
            location = [*location, key]
        return f"{_path(location)}: {message}"
    if kind in _EXPECTATIONS:
        return f"{_path(location)}: {_EXPECTATIONS[kind]}, got {given!r}"
    return f"{_path(location)}: {error['msg']}"


def _role_or_cloud(role: object, cloud: object) -> str:
    if not isinstance(role, str) or role not in ROLES:
        got = "missing required key" if role is None else f"got {role!r}"
        return f"{NAMESPACE}:role: {got}; expected one of {', '.join(map(repr, ROLES))}"
    clouds = [model.model_fields["cloud"].annotation.__args__[0] for model in ROLES[role]]  # type: ignore[union-attr]
    got = "missing required key" if cloud is None else f"got {cloud!r}"
    return f"{NAMESPACE}:cloud: {got}; the {role} role runs on {' or '.join(clouds)}"


def _other_model_taking(role: str, model: Any, location: list[str]) -> str | None:
    """Another model of the role (the other cloud's region) that takes this key."""
    for other in ROLES[role]:
        if other is not model and location[-1] in _valid_keys(other, location[:-1]):
            return _model_name(other)
    return None


def _model_name(model: Any) -> str:
    cloud = model.model_fields["cloud"].annotation.__args__[0]
    return f"{CLOUD_NAMES.get(cloud, cloud)} {next(role for role, models in ROLES.items() if model in models)}"


def _roles_taking(key: str) -> list[str]:
    """The roles whose stacks take a top-level key."""
    return [role for role, models in ROLES.items() if any(key in _valid_keys(model, []) for model in models)]


def _key_hint(mapping: str) -> str:
    if mapping == "settings":
        return "an environment variable name in UPPER_SNAKE_CASE"
    return "a lower-case DNS label: letters, digits and '-', at most 63"


def _pattern_hint(key: str) -> str:
    if key in ("host", "hostname", "zone"):
        return "a lower-case DNS name such as 'api.example.com'"
    if key == "version":
        return "a Kubernetes minor version from 1.30 to 1.39, such as '1.33'"
    if key == "address":
        return "a URL such as 'https://vault.example.com:8200'"
    return "a lower-case DNS label: letters, digits and '-', at most 63"


def _path(location: list[str]) -> str:
    text = f"{NAMESPACE}:{location[0]}" if location else NAMESPACE
    # pydantic marks a bad mapping key with a trailing "[key]" after the key itself.
    for part in location[1:]:
        if part == "[key]":
            continue
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


def _valid_keys(model: Any, location: list[str]) -> list[str]:
    """The camelCase keys the model accepts at a path, for 'did you mean'."""
    for part in location:
        if part.isdigit() or model is None:
            continue
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        model = _model_of(field.annotation) if field else None
    if model is None:
        return []
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
