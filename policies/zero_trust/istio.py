"""Zero-trust rules for Istio, where a stack installs it: strict mTLS everywhere (and
mesh-wide), an allow-nothing AuthorizationPolicy in every enrolled namespace, callers
named by exact principal, REGISTRY_ONLY egress, and no fault injection in production."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policies.core.pods import WORKLOAD_TYPES, namespace_of
from policies.core.props import as_list, get, items
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import EnvironmentParams

PEER_AUTHENTICATIONS = (
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
)
AUTHORIZATION_POLICIES = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
)
_NETWORKING = ("v1", "v1beta1", "v1alpha3")
SIDECARS = tuple(f"kubernetes:networking.istio.io/{v}:Sidecar" for v in _NETWORKING)
SERVICE_ENTRIES = tuple(f"kubernetes:networking.istio.io/{v}:ServiceEntry" for v in _NETWORKING)
VIRTUAL_SERVICES = tuple(f"kubernetes:networking.istio.io/{v}:VirtualService" for v in _NETWORKING)
ENVOY_FILTERS = ("kubernetes:networking.istio.io/v1alpha3:EnvoyFilter",)
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACES = ("kubernetes:core/v1:Namespace", "kubernetes:core/v1:NamespacePatch")
# Actions an AuthorizationPolicy may take other than allowing (anything else allows).
NOT_ALLOWING = ("DENY", "AUDIT", "CUSTOM")


def _chart(resource: Resource) -> str:
    """A Helm release's chart name, without a repository or OCI prefix."""
    return str(get(resource.props, "chart", "")).rstrip("/").rsplit("/", 1)[-1]


def _istiod_releases(stack: Stack) -> list[Resource]:
    return [r for r in stack.of_type(RELEASE) if _chart(r) == "istiod"]


def _enrolled(props: Mapping[str, Any]) -> bool:
    """A namespace whose pods join the mesh: injection by label or revision, or ambient."""
    labels = get(props, "metadata.labels", {})
    if not isinstance(labels, Mapping):
        return False
    # Keys with dots: read directly, not through `get`'s dotted paths.
    return (
        labels.get("istio-injection") == "enabled"
        or bool(labels.get("istio.io/rev"))
        or labels.get("istio.io/dataplane-mode") == "ambient"
    )


def _namespace_wide(props: Mapping[str, Any]) -> bool:
    spec = get(props, "spec", {})
    return not any(get(spec, key) for key in ("selector", "targetRef", "targetRefs"))


def _allows_nothing(props: Mapping[str, Any]) -> bool:
    """`spec: {}`: every workload of the namespace, no rule, so no request is allowed."""
    spec = get(props, "spec", {})
    return (
        _namespace_wide(props)
        and get(spec, "action", "ALLOW") == "ALLOW"
        and not items(spec, "rules")
        and not get(spec, "provider")
    )


@rule(
    PACK,
    name="istio-strict-mtls",
    description="PeerAuthentication is STRICT: no plaintext between workloads.",
    severity="critical",
    remediation="Set spec.mtls.mode: STRICT (and no port-level PERMISSIVE or DISABLE).",
    types=PEER_AUTHENTICATIONS,
)
def strict_mtls(resource: Resource, params: Params) -> Iterable[str]:
    mode = get(resource.props, "spec.mtls.mode", "UNSET")
    if mode != "STRICT":
        yield f"mtls.mode is {mode}"
    for port, setting in dict(get(resource.props, "spec.portLevelMtls", {})).items():
        if get(setting, "mode") != "STRICT":
            yield f"port {port} is {get(setting, 'mode', 'UNSET')}"


@rule(
    PACK,
    name="istio-mesh-wide-mtls",
    description="Where istiod is installed, a mesh-wide PeerAuthentication in its root namespace is STRICT.",
    severity="critical",
    remediation="Add a PeerAuthentication with no selector in istiod's namespace, spec.mtls.mode: STRICT.",
)
def mesh_wide_mtls(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    # Without one, Istio's default is PERMISSIVE: plaintext is accepted everywhere.
    for istiod in _istiod_releases(stack):
        root = get(istiod.props, "values.meshConfig.rootNamespace") or get(istiod.props, "namespace", "istio-system")
        mesh_wide = [
            r
            for r in stack.of_type(*PEER_AUTHENTICATIONS)
            if namespace_of(r.props) == root and _namespace_wide(r.props)
        ]
        if not any(get(r.props, "spec.mtls.mode") == "STRICT" for r in mesh_wide):
            yield istiod.urn, f"no mesh-wide STRICT PeerAuthentication in the root namespace '{root}'"


@rule(
    PACK,
    name="istio-authorization-per-namespace",
    description=(
        "With Istio, every namespace with workloads has an AuthorizationPolicy, and every namespace "
        "enrolled in the mesh an allow-nothing one."
    ),
    severity="high",
    remediation="Add an AuthorizationPolicy with an empty spec in the namespace (it denies all); then allow callers.",
)
def authorization_per_namespace(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    enrolled = [r for r in stack.of_type(*NAMESPACES) if _enrolled(r.props)]
    if not (stack.of_type(*PEER_AUTHENTICATIONS, *AUTHORIZATION_POLICIES) or enrolled or _istiod_releases(stack)):
        return  # no mesh in this stack
    policies = stack.of_type(*AUTHORIZATION_POLICIES)
    covered = {namespace_of(r.props) for r in policies}
    denied = {namespace_of(r.props) for r in policies if _allows_nothing(r.props)}
    reported: set[str] = set()
    for namespace_object in enrolled:
        namespace = get(namespace_object.props, "metadata.name", "?")
        if namespace not in denied:
            what = "allow-nothing AuthorizationPolicy (spec: {})" if namespace in covered else "AuthorizationPolicy"
            yield namespace_object.urn, f"enrolled namespace '{namespace}' has no {what}"
            reported.add(namespace)
    for workload in stack.of_type(*WORKLOAD_TYPES):
        namespace = namespace_of(workload.props)
        if namespace not in covered and namespace not in reported:
            yield workload.urn, f"namespace '{namespace}' has no AuthorizationPolicy"
            reported.add(namespace)


def _wildcards(values: Any) -> list[str]:
    return [str(value) for value in as_list(values) if "*" in str(value)]


@rule(
    PACK,
    name="istio-no-wildcard-principals",
    description="An allowing AuthorizationPolicy names every caller by exact principal: no wildcard, no open rule.",
    severity="critical",
    remediation=(
        "In ALLOW policies, give every rule a from[].source.principals of exact identities "
        "(<trust domain>/ns/<ns>/sa/<account>); no '*', no notPrincipals-only or namespace-only sources."
    ),
    types=AUTHORIZATION_POLICIES,
)
def no_wildcard_principals(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "spec.action", "ALLOW") in NOT_ALLOWING:
        return  # denying or auditing everyone opens nothing
    for index, rule_ in enumerate(items(resource.props, "spec.rules")):
        sources = [get(entry, "source", {}) for entry in items(rule_, "from")]
        if not sources:
            yield f"rule {index} has no from: every caller is allowed"
            continue
        for source in sources:
            for key in ("principals", "namespaces"):
                for value in _wildcards(get(source, key)):
                    yield f"rule {index} allows {key} '{value}'"
            if not as_list(get(source, "principals")):
                yield f"rule {index} has a source without principals: callers are not named"


@rule(
    PACK,
    name="istio-registry-only-egress",
    description="Sidecars reach only hosts in the registry: istiod's outbound mode is REGISTRY_ONLY, nothing opens it.",
    severity="high",
    remediation=(
        "Set meshConfig.outboundTrafficPolicy.mode: REGISTRY_ONLY in istiod's values, no Sidecar with "
        "ALLOW_ANY, and declare each upstream host exactly in a ServiceEntry."
    ),
    types=(RELEASE, *SIDECARS, *SERVICE_ENTRIES),
)
def registry_only_egress(resource: Resource, params: Params) -> Iterable[str]:
    if resource.type == RELEASE:
        if _chart(resource) == "istiod":
            mode = get(resource.props, "values.meshConfig.outboundTrafficPolicy.mode", "ALLOW_ANY (the default)")
            if mode != "REGISTRY_ONLY":
                yield f"istiod's outboundTrafficPolicy.mode is {mode}"
    elif resource.type in SIDECARS:
        mode = get(resource.props, "spec.outboundTrafficPolicy.mode")
        if mode is not None and mode != "REGISTRY_ONLY":
            yield f"Sidecar's outboundTrafficPolicy.mode is {mode}"
    else:
        for host in _wildcards(get(resource.props, "spec.hosts")):
            yield f"ServiceEntry host '{host}' admits every name it matches"


@rule(
    PACK,
    name="istio-no-fault-injection-in-prod",
    description="No fault injection (VirtualService http[].fault, Envoy's fault filter) in production.",
    severity="high",
    remediation="Inject faults in staging; remove http[].fault and fault EnvoyFilters from production stacks.",
    types=(*VIRTUAL_SERVICES, *ENVOY_FILTERS),
    params=EnvironmentParams,
)
def no_fault_injection_in_prod(resource: Resource, params: EnvironmentParams) -> Iterable[str]:
    if params.environment not in params.environments:
        return
    if resource.type in ENVOY_FILTERS:
        for index, patch in enumerate(items(resource.props, "spec.configPatches")):
            if "fault" in str(get(patch, "patch.value.name", "")).lower():
                yield f"configPatches[{index}] adds Envoy's fault filter in {params.environment}"
        return
    for index, route in enumerate(items(resource.props, "spec.http")):
        if get(route, "fault"):
            yield f"http[{index}] injects faults in {params.environment}"
