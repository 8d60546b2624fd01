"""Reading resource properties the way the analyzer hands them over.

Under `pulumi preview` the analyzer wraps properties in a proxy that raises
`UnknownValueError` when a value is not known yet; preflight wraps them the same way
(`analyzer_view`). A rule reads through `get`, and an unknown value ends the check with
"can't be known during preview", as CrossGuard itself reports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

MISSING = object()


def analyzer_view(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Plain properties wrapped as the analyzer wraps them."""
    return unknown_checking_proxy(dict(props))


class DeferredView(Mapping[str, Any]):
    """`analyzer_view`, built on first read: most resources of a large stack are read by
    no rule, and wrapping every property of every one of them costs more than judging."""

    def __init__(self, props: Mapping[str, Any]) -> None:
        self._props = props
        self._view: Mapping[str, Any] | None = None

    def _wrapped(self) -> Mapping[str, Any]:
        if self._view is None:
            self._view = analyzer_view(self._props)
        return self._view

    def __getitem__(self, key: str) -> Any:
        return self._wrapped()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._wrapped())

    def __len__(self) -> int:
        return len(self._props)


def get(props: Any, path: str, default: Any = None) -> Any:
    """`get(props, "spec.template.spec")`: the value at a dotted path, or `default`. A
    number in the path indexes a list."""
    value = props
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return default
            value = value[part]
        elif isinstance(value, Sequence) and not isinstance(value, str) and part.isdigit():
            index = int(part)
            if index >= len(value):
                return default
            value = value[index]
        else:
            return default
        if value is None:
            return default
    return value


def items(props: Any, path: str) -> list[Any]:
    """The list at `path` (an object where the provider takes one block is a list of one)."""
    value = get(props, path, [])
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [value[index] for index in range(len(value))]
    return []


def json_document(value: Any) -> Any:
    """A JSON document given as text (IAM policies) or as an object."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    return [value[index] for index in range(len(value))]


def known(props: Any, key: str) -> Any:
    """The value at `key`, or None while it is unknown (an id in preview)."""
    try:
        return get(props, key)
    except UnknownValueError:
        return None


def names(value: str, resource: Any, key: str) -> bool:
    """Whether an id or name names this resource: its own name (`key`), or (unnamed) the
    name Pulumi gives it, `<resource name>-<7 hex>`, which is what the mocks hand out too."""
    name = known(resource.props, key)
    if name and value == str(name):
        return True
    return re.fullmatch(re.escape(resource.name) + r"-[0-9a-f]{7}", value) is not None
