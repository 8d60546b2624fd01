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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflight.graph import STACK_TYPE, Graph, Resource
from preflight.mocks import kubernetes_object
from preflight.urns import engine_urns

CREATED, UPDATED, REPLACED, MOVED, DELETED = "created", "updated", "replaced", "moved", "deleted"

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


@dataclass
class Change:
    urn: str
    type: str
    name: str
    action: str
    paths: list[str] = field(default_factory=list)
    # A moved resource's URN in the base graph (`urn` is its URN now).
    moved_from: str | None = None


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths (list items by index) where two input trees differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        paths = []
        for key in sorted(set(before) | set(after)):
            child = f"{prefix}.{key}" if prefix else str(key)
            if key not in before or key not in after:
                paths.append(child)
            else:
                paths.extend(changed_paths(before[key], after[key], child))
        return paths
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        paths = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            paths.extend(changed_paths(old, new, f"{prefix}[{index}]"))
        return paths
    return [] if before == after else [prefix or "(root)"]


def _forces_replacement(resource: Resource, paths: list[str]) -> bool:
    kind = (kubernetes_object(resource.type) or ("", ""))[1]
    # pulumi-kubernetes replaces a ConfigMap whose data changes (unless the provider sets
    # enableConfigMapMutable), so that pods never see it half-changed.
    if kind == "ConfigMap" and any(p.startswith(("data", "binaryData")) for p in paths):
        return True
    immutable = IMMUTABLE_PATHS["*"] + IMMUTABLE_PATHS.get(kind, ()) if kind else ()
    return any(path == rule or path.startswith((f"{rule}.", f"{rule}[")) for path in paths for rule in immutable)


def diff(base: Graph, current: Graph) -> list[Change]:
    old, new = _by_engine_urn(base), _by_engine_urn(current)
    matches = _matches(old, new)
    claimed = set(matches.values())
    changes = [Change(urn, new[urn].type, new[urn].name, CREATED) for urn in sorted(set(new) - set(matches))]
    changes += [Change(urn, old[urn].type, old[urn].name, DELETED) for urn in sorted(set(old) - claimed)]
    for urn, was in sorted(matches.items()):
        resource = new[urn]
        paths = changed_paths(old[was].inputs, resource.inputs)
        verbs = [MOVED] if was != urn else []
        if paths:
            verbs.append(REPLACED if _forces_replacement(resource, paths) else UPDATED)
        if verbs:
            moved_from = was if was != urn else None
            changes.append(Change(urn, resource.type, resource.name, "+".join(verbs), paths, moved_from))
    return changes


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
        lines.append(f"{change.action:9} {change.type} {change.name}")
        if change.moved_from:
            lines += [f"            from {change.moved_from}", f"            to   {change.urn}"]
        lines.extend(f"            ~ {path}" for path in change.paths)
    # A move with changed inputs counts as moved and as updated (or replaced).
    counts = {
        action: sum(action in c.action.split("+") for c in changes)
        for action in (CREATED, UPDATED, REPLACED, MOVED, DELETED)
    }
    lines.append(", ".join(f"{count} {action}" for action, count in counts.items()))
    return "\n".join(lines)
