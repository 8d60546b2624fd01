"""What a change does, offline: two synthesized graphs compared resource by resource.

Resources match by URN. One only in the new graph is created, one only in the base is
deleted, and one in both with other inputs is updated (with the property paths that
changed) or replaced, when a changed path cannot be updated in place. The replacement
rules are the Kubernetes ones this project meets: an object's name or namespace, a Job's
spec and a workload's selector are immutable, and an immutable ConfigMap's data is too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from preflight.graph import STACK_TYPE, Graph, Resource
from preflight.mocks import kubernetes_object

CREATED, UPDATED, REPLACED, DELETED = "created", "updated", "replaced", "deleted"

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
    old = {r.urn: r for r in base.resources if r.type != STACK_TYPE}
    new = {r.urn: r for r in current.resources if r.type != STACK_TYPE}
    changes = [Change(urn, new[urn].type, new[urn].name, CREATED) for urn in sorted(set(new) - set(old))]
    changes += [Change(urn, old[urn].type, old[urn].name, DELETED) for urn in sorted(set(old) - set(new))]
    for urn in sorted(set(old) & set(new)):
        paths = changed_paths(old[urn].inputs, new[urn].inputs)
        if paths:
            action = REPLACED if _forces_replacement(new[urn], paths) else UPDATED
            changes.append(Change(urn, new[urn].type, new[urn].name, action, paths))
    return changes


def as_text(changes: list[Change]) -> str:
    if not changes:
        return "no changes"
    lines = []
    for change in sorted(changes, key=lambda c: (c.action, c.type, c.name)):
        lines.append(f"{change.action:9} {change.type} {change.name}")
        lines.extend(f"            ~ {path}" for path in change.paths)
    counts = {action: sum(c.action == action for c in changes) for action in (CREATED, UPDATED, REPLACED, DELETED)}
    lines.append(", ".join(f"{count} {action}" for action, count in counts.items()))
    return "\n".join(lines)
