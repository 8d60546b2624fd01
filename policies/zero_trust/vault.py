"""Zero-trust rules for Vault objects: policies, Kubernetes and JWT auth roles, the token
lifetimes of every auth backend's roles, and audit devices."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from policies.core.props import as_list, get
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK

POLICY = "vault:index/policy:Policy"
KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
# Every pulumi-vault (7.x) auth backend role whose tokens carry tokenTtl, tokenMaxTtl,
# tokenExplicitMaxTtl and tokenPeriod. LDAP and Okta groups/users carry no token fields.
TOKEN_ROLES = (
    KUBERNETES_ROLE,
    JWT_ROLE,
    "vault:appRole/authBackendRole:AuthBackendRole",
    "vault:aws/authBackendRole:AuthBackendRole",
    "vault:gcp/authBackendRole:AuthBackendRole",
    "vault:azure/authBackendRole:AuthBackendRole",
    "vault:alicloud/authBackendRole:AuthBackendRole",
    "vault:cf/authBackendRole:AuthBackendRole",
    "vault:saml/authBackendRole:AuthBackendRole",
    "vault:spiffe/authBackendRole:AuthBackendRole",
    "vault:index/certAuthBackendRole:CertAuthBackendRole",
    "vault:index/ociAuthBackendRole:OciAuthBackendRole",
    "vault:index/scepAuthBackendRole:ScepAuthBackendRole",
    "vault:index/tpmAuthBackendRole:TpmAuthBackendRole",
    "vault:tokenauth/authBackendRole:AuthBackendRole",
)
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


# Claims that name who the caller is (a CI system's repository or project, a workload's
# subject), rather than only what it runs (a branch, an environment, an event).
SUBJECT_CLAIMS = (
    "sub",
    "repository",
    "repository_id",
    "job_workflow_ref",
    "workflow_ref",
    "project_path",
    "project_id",
    "email",
)
# What Vault's glob-typed bound claims treat as a wildcard.
_GLOB = re.compile(r"[*?\[]")


class JwtRoleParams(Params):
    subject_claims: tuple[str, ...] = SUBJECT_CLAIMS


def _kubernetes_issued(resource: Resource) -> bool:
    """A role for a Kubernetes issuer: its subject (or a claim) names a ServiceAccount."""
    if str(get(resource.props, "boundSubject", "")).startswith("system:serviceaccount:"):
        return True
    claims = get(resource.props, "boundClaims", {})
    return isinstance(claims, Mapping) and any(str(key).startswith("kubernetes.io") for key in claims)


@rule(
    PACK,
    name="vault-jwt-role-bound",
    description=(
        "JWT/OIDC auth roles bind an audience and one subject: a ServiceAccount in a namespace for a "
        "Kubernetes issuer; for another issuer (a CI system), an exact subject or exact identity claims."
    ),
    severity="critical",
    remediation=(
        "Set boundAudiences (no '*'). For Kubernetes, boundSubject system:serviceaccount:<namespace>:<name>; "
        "for another issuer, boundSubject or boundClaims naming the exact repository/project (and ref), "
        "with no glob in a glob-typed claim."
    ),
    types=(JWT_ROLE,),
    params=JwtRoleParams,
)
def jwt_role_bound(resource: Resource, params: JwtRoleParams) -> Iterable[str]:
    subject = str(get(resource.props, "boundSubject", ""))
    if _kubernetes_issued(resource):
        if not subject.startswith("system:serviceaccount:") or "*" in subject or subject.count(":") != 3:
            yield f"boundSubject is {subject or 'unset'}: any token of the issuer would log in"
    else:
        yield from _bound_claims(resource, params, subject)
    audiences = as_list(get(resource.props, "boundAudiences"))
    if not audiences:
        yield "no boundAudiences: a token minted for any other service would log in"
    elif any("*" in str(audience) for audience in audiences):
        yield f"boundAudiences {audiences} hold a wildcard"


def _bound_claims(resource: Resource, params: JwtRoleParams, subject: str) -> Iterable[str]:
    """Another issuer's role (GitHub Actions, GitLab, ...): bound by its subject or its identity claims."""
    if "*" in subject:
        yield f"boundSubject is {subject}: any token of the issuer would log in"
    claims = get(resource.props, "boundClaims", {})
    claims = {str(key): claims[key] for key in claims} if isinstance(claims, Mapping) else {}
    glob = get(resource.props, "boundClaimsType", "string") == "glob"
    for key, value in sorted(claims.items()):
        # A claim's expected value may be a comma-separated list of values.
        wild = [v for v in str(value).split(",") if not v.strip() or (glob and _GLOB.search(v))]
        if wild:
            yield f"boundClaims.{key} is {value}: a glob matches any {key}"
    identity = [key for key in claims if key in params.subject_claims]
    if not subject and not identity:
        named = f"boundClaims name only {sorted(claims)}" if claims else "no boundSubject or boundClaims"
        yield f"{named}: any token of the issuer would log in (bind {', '.join(params.subject_claims[:3])} ...)"


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
    description=(
        "Tokens of every auth backend role (and token role) are short-lived: a TTL and max TTL within "
        "the cap, and a periodic token bounded by an explicit max TTL."
    ),
    severity="high",
    remediation=(
        "Set tokenTtl and tokenMaxTtl at or below maxTtlSeconds; with tokenPeriod, also tokenExplicitMaxTtl "
        "at or below it."
    ),
    types=TOKEN_ROLES,
    params=TokenTtlParams,
)
def token_ttl(resource: Resource, params: TokenTtlParams) -> Iterable[str]:
    for key in ("tokenTtl", "tokenMaxTtl"):
        value = get(resource.props, key)
        if not value or int(value) > params.max_ttl_seconds:
            yield f"{key} is {value or 'unset (system default)'}, cap {params.max_ttl_seconds}"
    # A periodic token renews past tokenMaxTtl: only an explicit max TTL ends it.
    period = get(resource.props, "tokenPeriod")
    explicit = get(resource.props, "tokenExplicitMaxTtl")
    if period and not explicit:
        yield f"tokenPeriod is {period} with no tokenExplicitMaxTtl: a periodic token renews forever"
    elif period and int(explicit) > params.max_ttl_seconds:
        yield f"tokenExplicitMaxTtl is {explicit}, cap {params.max_ttl_seconds}"


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
