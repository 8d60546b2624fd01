"""Zero-trust rules for Istio, where a stack installs it: strict mTLS, and an
AuthorizationPolicy in every namespace with workloads."""

from __future__ import annotations

from collections.abc import Iterable

from policies.core.pods import WORKLOAD_TYPES, namespace_of
from policies.core.props import get
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK

PEER_AUTHENTICATIONS = (
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
)
AUTHORIZATION_POLICIES = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
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
            yield f"port {port} is {get(setting, 'mode')}"


@rule(
    PACK,
    name="istio-authorization-per-namespace",
    description="With Istio, every namespace with workloads has an AuthorizationPolicy.",
    severity="high",
    remediation="Add an AuthorizationPolicy in the namespace (an empty spec denies all; then allow callers).",
)
def authorization_per_namespace(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    if not stack.of_type(*PEER_AUTHENTICATIONS, *AUTHORIZATION_POLICIES):
        return  # no mesh in this stack
    covered = {namespace_of(r.props) for r in stack.of_type(*AUTHORIZATION_POLICIES)}
    for workload in stack.of_type(*WORKLOAD_TYPES):
        namespace = namespace_of(workload.props)
        if namespace not in covered:
            yield workload.urn, f"namespace '{namespace}' has no AuthorizationPolicy"
            covered.add(namespace)
