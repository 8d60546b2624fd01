"""Zero-trust rules for Vault objects: policies, Kubernetes auth roles, token lifetimes
and audit devices."""

from __future__ import annotations

import re
from collections.abc import Iterable

from policies.core.props import as_list, get
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK

POLICY = "vault:index/policy:Policy"
KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
AUDIT = "vault:index/audit:Audit"
_BLOCK = re.compile(r'path\s+"([^"]+)"\s*\{(.*?)\}', re.S)
_CAPABILITIES = re.compile(r"capabilities\s*=\s*\[([^\]]*)\]")


def policy_rules(document: str) -> list[tuple[str, list[str]]]:
    """(path, capabilities) of every block of an HCL policy."""
    found = []
    for path, body in _BLOCK.findall(document):
        match = _CAPABILITIES.search(body)
        found.append((path, re.findall(r'"([^"]+)"', match.group(1)) if match else []))
    return found


@rule(
    PACK,
    name="vault-policy-least-privilege",
    description="No Vault policy grants sudo, touches sys/, or globs the root of a mount.",
    severity="critical",
    remediation="Name the consumer's own paths; a glob only after the consumer's own prefix; no sudo.",
    types=(POLICY,),
)
def policy_least_privilege(resource: Resource, params: Params) -> Iterable[str]:
    for path, capabilities in policy_rules(str(get(resource.props, "policy", ""))):
        if "sudo" in capabilities:
            yield f"{path}: grants sudo"
        if path.startswith(("sys/", "+/sys/")) or path in ("*", "+", "sys"):
            yield f"{path}: reaches into sys/ or the root"
        elif re.match(r"^[^/]+/\*$|^[^/]+/(data|metadata)/\*$", path) or path.startswith(("*", "+")):
            yield f"{path}: globs a whole mount"


@rule(
    PACK,
    name="vault-jwt-role-bound",
    description="JWT auth roles bind one subject (a ServiceAccount in a namespace) and an audience.",
    severity="critical",
    remediation="Set boundSubject to system:serviceaccount:<namespace>:<name> and boundAudiences; no globs.",
    types=(JWT_ROLE,),
)
def jwt_role_bound(resource: Resource, params: Params) -> Iterable[str]:
    subject = str(get(resource.props, "boundSubject", ""))
    if not subject.startswith("system:serviceaccount:") or "*" in subject:
        yield f"boundSubject is {subject or 'unset'}: any token of the issuer would log in"
    if not as_list(get(resource.props, "boundAudiences")):
        yield "no boundAudiences: a token minted for any other service would log in"


@rule(
    PACK,
    name="vault-kubernetes-role-bound",
    description="Kubernetes auth roles bind named ServiceAccounts in named namespaces, and an audience.",
    severity="critical",
    remediation="List the exact ServiceAccount and namespace; never '*'; set audience.",
    types=(KUBERNETES_ROLE,),
)
def kubernetes_role_bound(resource: Resource, params: Params) -> Iterable[str]:
    for key in ("boundServiceAccountNames", "boundServiceAccountNamespaces"):
        values = as_list(get(resource.props, key))
        if not values or any("*" in str(value) for value in values):
            yield f"{key} is {values or 'empty'}"
    if not get(resource.props, "audience"):
        yield "no audience: a token minted for any other service would log in"


class TokenTtlParams(Params):
    max_ttl_seconds: int = 86400


@rule(
    PACK,
    name="vault-token-ttl-cap",
    description="Kubernetes auth tokens are short-lived: a TTL and max TTL within the cap.",
    severity="high",
    remediation="Set tokenTtl and tokenMaxTtl at or below maxTtlSeconds.",
    types=(KUBERNETES_ROLE, JWT_ROLE),
    params=TokenTtlParams,
)
def token_ttl(resource: Resource, params: TokenTtlParams) -> Iterable[str]:
    for key in ("tokenTtl", "tokenMaxTtl"):
        value = get(resource.props, key)
        if not value or int(value) > params.max_ttl_seconds:
            yield f"{key} is {value or 'unset (system default)'}, cap {params.max_ttl_seconds}"


@rule(
    PACK,
    name="vault-audit-device",
    description="A stack that configures Vault declares at least one audit device.",
    severity="high",
    remediation="Add vault.Audit devices (two, so one blocked device does not stop Vault).",
)
def audit_device(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    configures_vault = [r for r in stack.resources if r.type.startswith("vault:") and r.type != AUDIT]
    if configures_vault and not stack.of_type(AUDIT):
        yield configures_vault[0].urn, "Vault is configured but no audit device is declared"
