"""What a change does, offline: two synthesized graphs compared resource by resource.

Resources match by URN, as the engine writes it (preflight.urns). One only in the new
graph is created, one only in the base is deleted, and one in both with other inputs is
updated (with the property paths that changed) or replaced, when a changed path cannot
be updated in place. The replacement rules are the Kubernetes ones this project meets:
an object's name or namespace, a Job's spec and a workload's selector are immutable, and
an immutable ConfigMap's data is too.

A new resource whose URN the base lacks but one of its aliases names (its own, or one its
parents' aliases give it, as the engine reckons them) is the same resource under a new
URN: moved, not created, and the base resource is not deleted. Its inputs are compared
with that base resource's: "moved" when they are the same, "moved+updated" or
"moved+replaced" (with the paths) when they are not.

The resource options graph.json records count as the engine counts them: changes under
a path of the program's `ignore_changes` are no changes (the engine compares with the
base value there), a change under a path of its `replace_on_changes` is a replacement,
and `delete_before_replace` and `protect` are shown. Paths are Pulumi property paths on
engine property names (`spec.template`, `metadata.labels["app.kubernetes.io/name"]`,
`spec.containers[*].image`). What the engine would refuse is an error on the change:
replacing or deleting a protected resource, or an `ignore_changes` path it cannot follow.
A graph.json from before options were recorded reads as a resource without options.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from preflight.graph import STACK_TYPE, Graph, Resource
from preflight.mocks import kubernetes_object
from preflight.urns import engine_urns

CREATED, UPDATED, REPLACED, MOVED, DELETED = "created", "updated", "replaced", "moved", "deleted"
ERROR = "error"

# Paths (prefixes) that force a replacement, per Kubernetes kind; "*" for every kind.
IMMUTABLE_PATHS: dict[str, tuple[str, ...]] = {
    "*": ("metadata.name", "metadata.namespace"),
    "Job": ("spec",),
    "Deployment": ("spec.selector",),
    "StatefulSet": ("spec.selector", "spec.volumeClaimTemplates"),
    "DaemonSet": ("spec.selector",),
    "Rollout": ("spec.selector",),
    "Service": ("spec.clusterIP", "spec.type"),
    "Secret": ("type",),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes"),
}


PathPart = str | int
PropertyPath = tuple[PathPart, ...]
# A key written bare in a property path; others are quoted: `labels["app.kubernetes.io/name"]`.
_BARE_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


@dataclass
class Change:
    urn: str
    type: str
    name: str
    action: str
    paths: list[str] = field(default_factory=list)
    # A moved resource's URN in the base graph (`urn` is its URN now).
    moved_from: str | None = None
    # The program's options for the resource: a replacement deletes the old one first;
    # the resource is protected (in the base, for a deleted one).
    delete_before_replace: bool = False
    protect: bool = False
    # What the engine would refuse to do, in its words; `diff` then exits 1.
    errors: list[str] = field(default_factory=list)


def parse_path(text: str) -> PropertyPath:
    """A Pulumi property path as its parts: keys, list indexes, and `*` (any key or index).

    `a.b[0]`, `a["b.c"]`, `["a"].b`, `a[*].b` and `a.*.b`, as the engine reads them."""
    parts: list[PathPart] = []
    rest = text
    while rest:
        if rest[0] == ".":
            rest = rest[1:]
        elif rest.startswith('["'):
            key, index = [], 2
            while True:
                if index >= len(rest):
                    raise ValueError(f"{text!r}: missing closing quote")
                if rest[index] == '"':
                    break
                escaped = rest[index] == "\\" and rest[index + 1 : index + 2] == '"'
                key.append('"' if escaped else rest[index])
                index += 2 if escaped else 1
            if rest[index + 1 : index + 2] != "]":
                raise ValueError(f"{text!r}: missing closing bracket")
            parts.append("".join(key))
            rest = rest[index + 2 :]
        elif rest[0] == "[":
            close = rest.find("]")
            if close < 0:
                raise ValueError(f"{text!r}: missing closing bracket")
            inside = rest[1:close]
            if inside == "*":
                parts.append("*")
            elif inside.isdigit():
                parts.append(int(inside))
            else:
                raise ValueError(f"{text!r}: {inside!r} is no list index")
            rest = rest[close + 1 :]
        else:
            end = min((i for i in (rest.find("."), rest.find("[")) if i >= 0), default=len(rest))
            parts.append(rest[:end])
            rest = rest[end:]
    return tuple(parts)


def format_path(path: PropertyPath) -> str:
    """A path as text that `parse_path` reads back: dotted keys, `[i]` indexes, quoted odd keys."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _BARE_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            quoted = part.replace('"', '\\"')
            text += f'["{quoted}"]'
    return text or "(root)"


def changed_paths(before: Any, after: Any) -> list[str]:
    """Property paths (list items by index) where two input trees differ."""
    return [format_path(path) for path in _differences(before, after, ())]


def _differences(before: Any, after: Any, at: PropertyPath) -> list[PropertyPath]:
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after)):
            if key not in before or key not in after:
                paths.append((*at, key))
            else:
                paths.extend(_differences(before[key], after[key], (*at, key)))
        return paths
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        paths = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            paths.extend(_differences(old, new, (*at, index)))
        return paths
    return [] if before == after else [at]


def with_ignored(before: dict[str, Any], after: dict[str, Any], ignore_changes: list[str]) -> tuple[dict, list[str]]:
    """The new inputs as the engine diffs them: the base value at every `ignore_changes`
    path (and none where the base has none), with the paths it cannot follow."""
    inputs = copy.deepcopy(after)
    failed = []
    for text in ignore_changes:
        try:
            path = parse_path(text)
        except ValueError:
            continue  # the engine skips a path it cannot parse
        if not path or not _reset(path, before, inputs):
            failed.append(text)
    return inputs, failed


_MISSING: Any = None


def _reset(path: PropertyPath, old: Any, new: Any) -> bool:
    """Sets `new` at `path` to `old`'s value there, as the engine's `PropertyPath.Reset`:
    never creating a level nor changing a list's length. False for a path it cannot follow."""
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        if not rest:
            if not isinstance(old, list) and not isinstance(new, list):
                return True
            if not isinstance(old, list) or not isinstance(new, list):
                return False
            if key >= len(old) and key >= len(new):
                return True
            if key >= len(old) or key >= len(new):
                return False
            new[key] = copy.deepcopy(old[key])
            return True
        if not isinstance(old, list) or not isinstance(new, list):
            return not isinstance(old, list) and not isinstance(new, list)
        if key >= len(old) or key >= len(new):
            return False
        return _reset(rest, old[key], new[key])
    if key == "*":
        if not rest:
            if isinstance(new, dict):
                if isinstance(old, dict):
                    new.clear()
                    new.update(copy.deepcopy(old))
                return True
            if isinstance(new, list):
                if isinstance(old, list):
                    if len(old) != len(new):
                        return False
                    new[:] = copy.deepcopy(old)
                return True
            return False
        if isinstance(old, dict) and isinstance(new, dict):
            return all(k in new and _reset(rest, old[k], new[k]) for k in old)
        if isinstance(old, list) and isinstance(new, list):
            return len(old) == len(new) and all(_reset(rest, o, n) for o, n in zip(old, new, strict=True))
        return False
    if not rest:
        if isinstance(old, dict) and key in old:
            if not isinstance(new, dict):
                return False
            new[key] = copy.deepcopy(old[key])
        elif isinstance(new, dict):
            new.pop(key, None)
        return True
    if not isinstance(old, dict) or not isinstance(new, dict):
        return not isinstance(old, dict) and not isinstance(new, dict)
    if key not in new:
        return key not in old
    return _reset(rest, old.get(key, _MISSING), new[key])


def _forces_replacement(resource: Resource, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """A value under a path of `replace_on_changes`, or under one the provider cannot update
    in place, differs (set, changed or removed)."""
    rules = []
    for text in resource.replace_on_changes:
        try:
            rules.append(parse_path(text))
        except ValueError:
            continue  # reported by `_compare`
    kind = (kubernetes_object(resource.type) or ("", ""))[1]
    if kind:
        rules += [parse_path(rule) for rule in IMMUTABLE_PATHS["*"] + IMMUTABLE_PATHS.get(kind, ())]
    # pulumi-kubernetes replaces a ConfigMap whose data changes (unless the provider sets
    # enableConfigMapMutable), so that pods never see it half-changed.
    if kind == "ConfigMap":
        rules += [("data",), ("binaryData",)]
    return any(_values_at(rule, before) != _values_at(rule, after) for rule in rules)


def _values_at(path: PropertyPath, tree: Any, at: PropertyPath = ()) -> dict[PropertyPath, Any]:
    """The values a path (with `*`s) reaches in a tree, by where they are."""
    if not path:
        return {at: tree}
    key, rest = path[0], path[1:]
    items: list[tuple[PathPart, Any]] = []
    if isinstance(tree, dict):
        items = list(tree.items()) if key == "*" else [(key, tree[key])] if key in tree else []
    elif isinstance(tree, list):
        indexes = range(len(tree)) if key == "*" else [key] if isinstance(key, int) and key < len(tree) else []
        items = [(index, tree[index]) for index in indexes]
    found: dict[PropertyPath, Any] = {}
    for part, value in items:
        found.update(_values_at(rest, value, (*at, part)))
    return found


def diff(base: Graph, current: Graph) -> list[Change]:
    old, new = _by_engine_urn(base), _by_engine_urn(current)
    matches = _matches(old, new)
    claimed = set(matches.values())
    changes = [_created(urn, new[urn]) for urn in sorted(set(new) - set(matches))]
    changes += [_deleted(urn, old[urn]) for urn in sorted(set(old) - claimed)]
    for urn, was in sorted(matches.items()):
        change = _compare(urn, was, old[was], new[urn])
        if change is not None:
            changes.append(change)
    return changes


def _created(urn: str, resource: Resource) -> Change:
    return Change(urn, resource.type, resource.name, CREATED, protect=resource.protect)


def _deleted(urn: str, resource: Resource) -> Change:
    change = Change(urn, resource.type, resource.name, DELETED, protect=resource.protect)
    if resource.protect:
        change.errors.append(
            f"unable to delete resource {urn!r}: it is marked for protection; keep the resource without "
            f"`protect` for one `pulumi up` first (or run `pulumi state unprotect '{urn}'`)"
        )
    return change


def _compare(urn: str, was: str, before: Resource, resource: Resource) -> Change | None:
    """A resource in both graphs (under its URN, or `was` in the base): what the engine does."""
    inputs, failed = with_ignored(before.inputs, resource.inputs, resource.ignore_changes)
    paths = _differences(before.inputs, inputs, ())
    errors = []
    if failed:
        errors.append(
            "cannot ignore changes to the following properties because one or more elements of the path "
            f"are missing: {', '.join(failed)}"
        )
    verbs = [MOVED] if was != urn else []
    if paths:
        for text in resource.replace_on_changes:
            try:
                parse_path(text)
            except ValueError as error:
                errors.append(f"replace_on_changes: not a property path: {error}")
        replaced = _forces_replacement(resource, before.inputs, inputs)
        verbs.append(REPLACED if replaced else UPDATED)
        # The engine refuses to replace a resource protected in its state and in the program.
        if replaced and before.protect and resource.protect:
            errors.append(
                f"unable to replace resource {urn!r}: it is marked for protection; remove `protect` from "
                "the resource in the program and run `pulumi up` before a change that replaces it"
            )
    if not verbs and not errors:
        return None
    return Change(
        urn,
        resource.type,
        resource.name,
        # Only an error: the engine stops at it, so there is no step to name.
        "+".join(verbs) or ERROR,
        [format_path(path) for path in paths],
        was if was != urn else None,
        delete_before_replace=resource.delete_before_replace,
        protect=resource.protect,
        errors=errors,
    )


def exit_code(changes: list[Change]) -> int:
    """1 when the engine would refuse a change, else 0."""
    return 1 if any(change.errors for change in changes) else 0


def _by_engine_urn(graph: Graph) -> dict[str, Resource]:
    urns = engine_urns(graph)
    return {urns[r.urn]: r for r in graph.resources if r.type != STACK_TYPE}


def _matches(old: dict[str, Resource], new: dict[str, Resource]) -> dict[str, str]:
    """Each new URN with the base URN it continues: its own, else the first of its aliases
    the base holds and no other resource has taken (as the engine, a URN match first)."""
    matches = {urn: urn for urn in new if urn in old}
    claimed = set(matches)
    for urn in sorted(set(new) - set(matches)):
        was = next((alias for alias in new[urn].aliases if alias in old and alias not in claimed), None)
        if was:
            matches[urn] = was
            claimed.add(was)
    return matches


def as_text(changes: list[Change]) -> str:
    if not changes:
        return "no changes"
    lines = []
    for change in sorted(changes, key=lambda c: (c.action, c.type, c.name)):
        marks = [
            *(["delete before replace"] if change.delete_before_replace and REPLACED in change.action else []),
            *(["protected"] if change.protect else []),
        ]
        lines.append(f"{change.action:9} {change.type} {change.name}" + (f" ({', '.join(marks)})" if marks else ""))
        if change.moved_from:
            lines += [f"            from {change.moved_from}", f"            to   {change.urn}"]
        lines.extend(f"            ~ {path}" for path in change.paths)
        lines.extend(f"            ! error: {error}" for error in change.errors)
    # A move with changed inputs counts as moved and as updated (or replaced).
    counts = {
        action: sum(action in c.action.split("+") for c in changes)
        for action in (CREATED, UPDATED, REPLACED, MOVED, DELETED)
    }
    errors = sum(len(change.errors) for change in changes)
    lines.append(", ".join(f"{count} {action}" for action, count in counts.items()))
    if errors:
        lines.append(f"{errors} error{'s' if errors > 1 else ''}: the engine would refuse this change (exit 1)")
    return "\n".join(lines)
