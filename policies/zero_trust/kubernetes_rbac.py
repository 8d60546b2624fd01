"""Zero-trust rules for what Kubernetes Roles grant: the permissions that let a subject
step past its Role (read Secrets, run pods, bind or impersonate, reach the kubelet...),
however a Role spells them, and ClusterRoles that aggregate the built-in powerful ones.

Roles are matched as the RBAC authorizer matches them: exact, case-sensitive names, `*`
for any group, resource or verb, and `*/sub` for a subresource of any resource. A name
that differs only in case grants nothing, so it is not a way around these rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.core.props import get, items
from policies.core.rule import Params, Resource, rule
from policies.zero_trust import PACK

_RBAC = "rbac.authorization.k8s.io"
# Roles as objects, server-side patches of existing ones (`view` patched to read Secrets
# is as dangerous as a new Role), and lists of them.
ROLE_TYPES = tuple(
    f"kubernetes:{_RBAC}/{version}:{kind}{suffix}"
    for version in ("v1", "v1beta1", "v1alpha1")
    for kind in ("Role", "ClusterRole")
    for suffix in ("", "Patch", "List")
)
WORKLOADS = ("create", "update", "patch")  # a pod template set = pods run


@dataclass(frozen=True)
class Operation:
    """Verbs on resources of API groups; None for verbs means any verb."""

    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...] | None


@dataclass(frozen=True)
class Danger:
    control: str
    what: str
    expected: str
    operations: tuple[Operation, ...]
    # Whether resourceNames narrows it to objects a reviewer can see (a Secret by name,
    # one ServiceAccount's tokens); `create` of a new object has no name to check.
    scoped_by_names: bool = False


DANGERS = (
    Danger(
        "CIS 5.1.2",
        "reads Secrets",
        "name the Secrets it needs in resourceNames, or mount them into the pod",
        (Operation(("",), ("secrets",), ("get", "list", "watch")),),
        scoped_by_names=True,
    ),
    Danger(
        "CIS 5.1.4",
        "runs pods (any image, any ServiceAccount of the namespace)",
        "let a deployment tool, not a workload, create pods and pod-creating workloads",
        (
            Operation(("",), ("pods", "replicationcontrollers"), WORKLOADS),
            Operation(("apps", "extensions"), ("deployments", "replicasets", "statefulsets", "daemonsets"), WORKLOADS),
            Operation(("batch",), ("jobs", "cronjobs"), WORKLOADS),
            Operation(("argoproj.io",), ("rollouts",), WORKLOADS),
        ),
    ),
    Danger(
        "CIS 5.1.4",
        "runs commands in existing pods",
        "drop exec, attach and ephemeral containers; debug through a break-glass role",
        (
            # WebSocket clients exec and attach with `get`.
            Operation(("",), ("pods/exec", "pods/attach"), ("create", "get")),
            Operation(("",), ("pods/ephemeralcontainers",), ("update", "patch")),
        ),
    ),
    Danger(
        "CIS 5.1.8",
        "grants or widens roles beyond its own permissions (bind, escalate)",
        "bind only roles the subject could grant anyway; leave bind and escalate to cluster administrators",
        (Operation((_RBAC,), ("roles", "clusterroles", "rolebindings", "clusterrolebindings"), ("bind", "escalate")),),
    ),
    Danger(
        "CIS 5.1.8",
        "impersonates other users, groups or ServiceAccounts",
        "remove impersonate; give the subject the permissions it needs itself",
        (
            Operation(("",), ("users", "groups", "serviceaccounts"), ("impersonate",)),
            Operation(("authentication.k8s.io",), ("uids", "userextras/*"), ("impersonate",)),
        ),
    ),
    Danger(
        "CIS 5.1.9",
        "creates PersistentVolumes (a hostPath volume mounts any node path)",
        "let workloads ask for storage with PersistentVolumeClaims",
        (Operation(("",), ("persistentvolumes",), ("create",)),),
    ),
    Danger(
        "CIS 5.1.10",
        "reaches the kubelet API through nodes/proxy (exec in any pod on the node, unaudited)",
        "remove nodes/proxy; read metrics through the metrics API",
        (Operation(("",), ("nodes/proxy",), None),),
    ),
    Danger(
        "CIS 5.1.11",
        "approves certificate signing requests (issues client certificates, system:masters included)",
        "leave CSR approval to the control plane's approvers",
        (Operation(("certificates.k8s.io",), ("certificatesigningrequests/approval",), ("update", "patch")),),
    ),
    Danger(
        "CIS 5.1.12",
        "controls admission webhooks (sees or rewrites every object admitted, or switches admission off)",
        "leave webhook configurations to the charts that own them, deployed by an administrator",
        (
            Operation(
                ("admissionregistration.k8s.io",),
                ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"),
                ("create", "update", "patch", "delete", "deletecollection"),
            ),
        ),
    ),
    Danger(
        "CIS 5.1.13",
        "creates ServiceAccount tokens",
        "name the ServiceAccounts whose tokens it needs in resourceNames",
        (Operation(("",), ("serviceaccounts/token",), ("create",)),),
        scoped_by_names=True,
    ),
    Danger(
        "CVE-2020-8554",
        "sets Services' load-balancer status (intercepts traffic to any address)",
        "leave services/status to the cloud controller",
        (Operation(("",), ("services/status",), ("update", "patch")),),
    ),
)


def _resource_matches(granted: str, wanted: str) -> bool:
    """The authorizer's match, plus `wanted` ending in `/*` for any subresource."""
    if granted in ("*", wanted):
        return True
    if wanted.endswith("/*"):
        return granted.startswith(wanted[:-1]) or (granted.startswith("*/") and "/" in wanted)
    sub = wanted.partition("/")[2]
    return bool(sub) and granted == f"*/{sub}"


def _grants(entry: Mapping[str, Any], operation: Operation) -> tuple[list[str], list[str]]:
    """(verbs, resources) of `operation` a Role rule grants; empty when it grants none."""
    groups = [str(group) for group in get(entry, "apiGroups", [])]
    if "*" not in groups and not any(group in operation.groups for group in groups):
        return [], []
    resources = [
        str(granted)
        for granted in get(entry, "resources", [])
        if any(_resource_matches(str(granted), wanted) for wanted in operation.resources)
    ]
    verbs = [str(verb) for verb in get(entry, "verbs", [])]
    if operation.verbs is not None:
        verbs = [verb for verb in verbs if verb == "*" or verb in operation.verbs]
    return (verbs, resources) if verbs and resources else ([], [])


def _rules(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, rule) for each rule of a Role, or of each Role in a list."""
    if resource.type.endswith("List"):
        for number, role in enumerate(items(resource.props, "items")):
            for index, entry in enumerate(items(role, "rules")):
                yield f"items[{number}].rules[{index}]", entry
        return
    for index, entry in enumerate(items(resource.props, "rules")):
        yield f"rules[{index}]", entry


@rule(
    PACK,
    name="k8s-rbac-no-dangerous-permissions",
    description=(
        "Roles and ClusterRoles grant none of the permissions that escalate: reading Secrets without "
        "resourceNames, creating or changing pods and pod-creating workloads, exec/attach, bind, escalate, "
        "impersonate, creating PersistentVolumes, nodes/proxy, approving CSRs, changing admission webhooks, "
        "creating ServiceAccount tokens without resourceNames, or services/status."
    ),
    severity="high",
    remediation=(
        "Grant the verbs and resources the subject needs by name: list the Secrets (and ServiceAccounts whose "
        "tokens it mints) in resourceNames, and leave pod creation, bind/escalate/impersonate, nodes/proxy, CSR "
        "approval and webhook configurations to cluster administrators (or waive the Role with a reason)."
    ),
    types=ROLE_TYPES,
)
def no_dangerous_permissions(resource: Resource, params: Params) -> Iterable[str]:
    for where, entry in _rules(resource):
        named = bool(get(entry, "resourceNames"))
        for danger in DANGERS:
            if danger.scoped_by_names and named:
                continue
            verbs: list[str] = []
            resources: list[str] = []
            for operation in danger.operations:
                granted_verbs, granted_resources = _grants(entry, operation)
                verbs += [verb for verb in granted_verbs if verb not in verbs]
                resources += [name for name in granted_resources if name not in resources]
            if verbs:
                unscoped = " without resourceNames" if danger.scoped_by_names else ""
                yield (
                    f"{where} {danger.what} ({', '.join(verbs)} on {', '.join(resources)}{unscoped}; "
                    f"{danger.control}); expected: {danger.expected}"
                )


# Labels that select the built-in roles into an aggregate: every default role (cluster-
# admin among them), or what `admin` and `edit` aggregate (Secrets, pods, impersonation).
_BUILT_IN_LABELS = (
    "kubernetes.io/bootstrapping",
    f"{_RBAC}/aggregate-to-admin",
    f"{_RBAC}/aggregate-to-edit",
)
CLUSTER_ROLES = tuple(t for t in ROLE_TYPES if ":ClusterRole" in t)


def _selector_problem(selector: Mapping[str, Any]) -> str | None:
    labels = get(selector, "matchLabels", {}) or {}
    expressions = items(selector, "matchExpressions")
    if not labels and not expressions:
        return "selects every ClusterRole, cluster-admin included"
    keys = [str(key) for key in labels] if isinstance(labels, Mapping) else []
    for expression in expressions:
        operator = get(expression, "operator")
        if operator in ("NotIn", "DoesNotExist"):
            return f"selects by a label's absence ({operator}), which the built-in roles, cluster-admin included, match"
        keys.append(str(get(expression, "key", "")))
    built_in = [key for key in keys if key in _BUILT_IN_LABELS]
    if built_in:
        return f"takes in built-in roles through {built_in[0]}, with their Secrets, pods and impersonation"
    return None


@rule(
    PACK,
    name="k8s-rbac-no-broad-aggregation",
    description=(
        "A ClusterRole's aggregationRule selects only the project's own ClusterRoles by a label of its own: "
        "no empty selector, no NotIn/DoesNotExist, no built-in aggregation label."
    ),
    severity="high",
    remediation=(
        "Select the ClusterRoles to aggregate with matchLabels on a label only they carry "
        "(e.g. project-ai.io/aggregate-to-reader: 'true')."
    ),
    types=CLUSTER_ROLES,
)
def no_broad_aggregation(resource: Resource, params: Params) -> Iterable[str]:
    roles = items(resource.props, "items") if resource.type.endswith("List") else [resource.props]
    for number, role in enumerate(roles):
        prefix = f"items[{number}]." if resource.type.endswith("List") else ""
        for index, selector in enumerate(items(role, "aggregationRule.clusterRoleSelectors")):
            problem = _selector_problem(selector)
            if problem:
                yield f"{prefix}aggregationRule.clusterRoleSelectors[{index}] {problem}"
