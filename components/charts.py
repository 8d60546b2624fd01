"""Third-party systems from their upstream Helm charts: one way to install a pinned chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# Creates what must exist in a component's namespace before its pods start (the Secrets
# they read), once the namespace exists; the component waits for what it returns.
NamespaceSetup = Callable[[k8s.core.v1.Namespace], list[pulumi.Resource]]


@dataclass(frozen=True)
class Chart:
    name: str
    repository: str
    version: str


def namespace(logical_name: str, name: str, labels: dict[str, str], parent: pulumi.Resource) -> k8s.core.v1.Namespace:
    """The namespace a platform component's chart installs into."""
    return k8s.core.v1.Namespace(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=labels),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def release(
    logical_name: str,
    release_name: str,
    chart: Chart,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A Helm release at the chart's pinned version. Atomic: a failed install or upgrade
    rolls back, and Pulumi waits until the chart's workloads are ready, so what depends on
    it (CRDs, controllers) exists when it is created."""
    return k8s.helm.v3.Release(
        logical_name,
        name=release_name,
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=namespace,
        atomic=True,
        values=values,
        opts=opts,
    )
