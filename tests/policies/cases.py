"""Resources for the rule tests: compliant building blocks, and `changed()` to break one
property of them."""

from __future__ import annotations

import copy
from typing import Any

from policies.core.props import analyzer_view
from policies.core.rule import Resource

STACK = "test"
LABELS = {"app.kubernetes.io/name": "api", "team": "ai", "cost-center": "cc", "environment": "dev"}
CONTAINER: dict[str, Any] = {
    "name": "api",
    "image": "ghcr.io/project-ai/api:1.4.2",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}},
    "livenessProbe": {"httpGet": {"path": "/livez", "port": 8000}},
}
POD: dict[str, Any] = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [CONTAINER],
}
# Where each workload kind holds its pod template.
WRAPPERS = {
    "kubernetes:core/v1:Pod": lambda pod: {"metadata": {"namespace": "app", "labels": LABELS}, "spec": pod},
    "kubernetes:apps/v1:Deployment": lambda pod: _templated(pod),
    "kubernetes:apps/v1:StatefulSet": lambda pod: _templated(pod),
    "kubernetes:apps/v1:DaemonSet": lambda pod: _templated(pod),
    "kubernetes:apps/v1:ReplicaSet": lambda pod: _templated(pod),
    "kubernetes:batch/v1:Job": lambda pod: _templated(pod),
    "kubernetes:batch/v1:CronJob": lambda pod: {
        "metadata": {"namespace": "app"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": _templated(pod)["spec"]}},
    },
    "kubernetes:argoproj.io/v1alpha1:Rollout": lambda pod: _templated(pod),
}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _templated(pod: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "app"}, "spec": {"template": {"metadata": {"labels": LABELS}, "spec": pod}}}


def changed(base: Any, path: str, value: Any) -> Any:
    """A deep copy of `base` with the value at the dotted path set (or deleted, for
    `DELETE`); numbers index lists."""
    copied = copy.deepcopy(base)
    target = copied
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last = parts[-1]
    if value is DELETE:
        del target[int(last) if isinstance(target, list) else last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copied


DELETE = object()


def pod(path: str | None = None, value: Any = None) -> dict[str, Any]:
    return changed(POD, path, value) if path else copy.deepcopy(POD)


def container(path: str, value: Any) -> dict[str, Any]:
    return changed(POD, f"containers.0.{path}", value)


def resource(kind: str, props: dict[str, Any], name: str = "subject", dependencies: tuple[str, ...] = ()) -> Resource:
    """A resource as the analyzer hands it over: props wrapped in its unknown-checking proxy."""
    return Resource(kind, name, urn(kind, name), analyzer_view(props), {}, dependencies)


def workload(pod_spec: dict[str, Any], kind: str = DEPLOYMENT, name: str = "subject") -> Resource:
    return resource(kind, WRAPPERS[kind](pod_spec), name)


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::project::{kind}::{name}"
