"""Where a pod spec sits in each Kubernetes workload kind, so pod rules cover them all."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.core.props import get, items

# Resource type -> dotted path to the pod spec.
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    "kubernetes:argoproj.io/v1alpha1:Rollout": "spec.template.spec",
}
WORKLOAD_TYPES = tuple(POD_SPEC_PATHS)
# Workloads that run to completion: no probes expected.
RUN_TO_COMPLETION = ("kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob")


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    return get(props, POD_SPEC_PATHS[resource_type], {})


def containers(spec: Mapping[str, Any], include_init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(kind and name, container) for every container, init and ephemeral included."""
    kinds = ("containers", "initContainers", "ephemeralContainers") if include_init else ("containers",)
    for kind in kinds:
        for container in items(spec, kind):
            yield f"{kind[:-1]} '{get(container, 'name', '?')}'", container


def pod_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    path = POD_SPEC_PATHS[resource_type].rsplit(".spec", 1)[0] + ".metadata.labels"
    if resource_type == "kubernetes:core/v1:Pod":
        path = "metadata.labels"
    return get(props, path, {})


def namespace_of(props: Mapping[str, Any]) -> str:
    return get(props, "metadata.namespace", "default")
