"""The one source of labels and tags, so cost allocation and policies can rely on them."""

from __future__ import annotations

import re
from dataclasses import dataclass

PART_OF = "project-ai"
MANAGED_BY = "pulumi"

_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Ownership:
    """Who owns and pays for a set of resources."""

    team: str
    cost_center: str
    environment: str


def label_value(value: str) -> str:
    """Kubernetes label values: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    return _LABEL_VALUE.sub("-", value)[:63].strip("-_.")


def selector_labels(name: str, instance: str) -> dict[str, str]:
    """The labels that identify a workload's pods; immutable once a Deployment exists."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def ownership_labels(owner: Ownership) -> dict[str, str]:
    """Who owns and pays: on every object, including pods no Service may select."""
    return {
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "team": label_value(owner.team),
        "cost-center": label_value(owner.cost_center),
        "environment": label_value(owner.environment),
    }


def kubernetes_labels(owner: Ownership, *, name: str, instance: str, component: str) -> dict[str, str]:
    """Recommended app.kubernetes.io labels plus ownership labels."""
    return {**selector_labels(name, instance), "app.kubernetes.io/component": component, **ownership_labels(owner)}


def pod_security_labels(kubernetes_version: str, level: str = "restricted") -> dict[str, str]:
    """Pod Security Admission at `level` (restricted unless a chart's pods cannot be),
    enforced, audited and warned, pinned to the cluster's version so an upgrade does not
    tighten the rules under running pods."""
    return {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", level), ("-version", f"v{kubernetes_version}"))
    }


def cloud_tags(owner: Ownership, service: str) -> dict[str, str]:
    """The cost-allocation set every AWS resource is tagged with (and, as labels, every
    GCP resource): the keys the cost policy pack requires."""
    return {
        "team": label_value(owner.team),
        "cost-center": label_value(owner.cost_center),
        "environment": label_value(owner.environment),
        "service": label_value(service),
        "managed-by": MANAGED_BY,
        "part-of": PART_OF,
    }
