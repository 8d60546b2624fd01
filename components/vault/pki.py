"""MeshPki: the Vault side of the mesh's workload certificates (issue #17).

A PKI secrets engine per stack (`pki-mesh-<stack>`) holds an intermediate CA whose key
is generated in Vault and never leaves it, and one role that signs exactly what the mesh
needs, through cert-manager's Vault Issuer (which istio-csr asks):

- workload certificates: URI SANs `spiffe://<trust domain>/ns/<namespace>/sa/<account>`
  and nothing else (no common name, no DNS name, no IP);
- istiod's serving certificate and istio-csr's own: the DNS names given in `dns_names`,
  exactly (no subdomains, no globs, no wildcards, no localhost);
- client and server authentication, an RSA or EC key of the configured size, at most
  `workload_ttl_hours` (a request for longer is cut to it). Nothing is stored in Vault
  (`no_store`): workload certificates are many and short-lived.

Who may ask: one policy, `update` on `<mount>/sign/<role>` and nothing else (not
`issue`, which would have Vault generate and see the private key), and one login role
bound to the Issuer's ServiceAccount, for the audience cert-manager puts in the tokens it
requests for that Issuer. Batch tokens: cert-manager logs in for every request, and a
batch token costs Vault no storage.

Who signs the intermediate (`signer`):

- `OrganisationRoot`: the organisation's root CA, outside the program. The first
  `pulumi up` generates the CSR (stack output `meshIntermediateCsr`); the root's
  operators sign it (path length 0, ideally with name constraints: see the README), and
  the signed certificate with its chain up to the root comes back as stack config. The
  next `pulumi up` imports it (`SecretBackendIntermediateSetSigned`). Certificates are
  public, so the config value is plain; the key stays in Vault.
- `LocalRoot`: for the `local` stack's dev OpenBao only, a root CA in a second mount of
  the same Vault signs the CSR in the same run (`SecretBackendRootSignIntermediate`), with
  path length 0 and the DNS names as name constraints.

Rotation: the intermediate is renewed every `rotation.period_days`. Its key and CSR are
named after the schedule's generation, so the first `pulumi up` of a new period
generates a new key and CSR; with a local root it is signed and becomes the mount's
default issuer at once, with the organisation's root once the new certificate is in the
config. Each intermediate is valid for two periods, so certificates the previous one
signed stay verifiable through the change, and a missed run is not an outage. Trust is
anchored on the root (`trust_anchor`), which does not change when the intermediate does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_vault as vault

from components.labels import Ownership
from components.rotation import RotationSchedule
from components.vault import policies
from components.vault.args import Consumer

HOURS = 3600
# The local root: ten years, far beyond any intermediate it signs.
LOCAL_ROOT_TTL_HOURS = 87600
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$")


@dataclass(frozen=True)
class OrganisationRoot:
    """The organisation's root CA signs the intermediate outside the program.

    `certificate`: the signed intermediate, followed by the chain up to and including the
    root (PEM); None until the root's operators returned it. `root_certificate`: the root
    alone (PEM), which the mesh trusts."""

    certificate: str | None = None
    root_certificate: str | None = None
    kind: Literal["organisation"] = "organisation"


@dataclass(frozen=True)
class LocalRoot:
    """A root CA in a second mount of the same Vault (dev OpenBao, the `local` stack)."""

    mount: str
    ttl_hours: int = LOCAL_ROOT_TTL_HOURS
    kind: Literal["local"] = "local"


@dataclass(frozen=True)
class IssuerLogin:
    """How cert-manager's Vault Issuer logs in: the stack's cluster auth mount (Kubernetes
    or JWT auth), the Issuer's ServiceAccount, and the audience cert-manager puts in the
    tokens it requests for that Issuer (`vault://<namespace>/<issuer>`)."""

    auth_mount: pulumi.Input[str]
    method: Literal["kubernetes", "jwt"]
    service_account: Consumer
    audience: str
    token_ttl_seconds: int = 300


@dataclass(frozen=True)
class MeshPkiArgs:
    owner: Ownership
    # Policy and login role names carry the stack (they are Vault-wide).
    layout: policies.Layout
    # The PKI mount of this stack's mesh.
    mount: str
    trust_domain: str
    # The only DNS names the role signs (istiod's and istio-csr's serving certificates).
    dns_names: tuple[str, ...]
    signer: OrganisationRoot | LocalRoot
    login: IssuerLogin
    # The intermediate's rotation period (its lifetime is two periods).
    rotation: RotationSchedule
    # The longest workload (and serving) certificate the role signs.
    workload_ttl_hours: int = 24
    key_type: Literal["rsa", "ec"] = "rsa"
    key_bits: int = 2048
    organization: str = "Project-AI"
    role: str = "mesh-workloads"
    # Subject of the intermediate (default: "<trust domain> mesh intermediate CA"); the
    # generation is appended.
    common_name: str | None = None


def role_uri_sans(trust_domain: str) -> list[str]:
    """The SPIFFE IDs Istio gives workloads, within the trust domain only."""
    return [f"spiffe://{trust_domain}/ns/*/sa/*"]


def sign_path(mount: str, role: str) -> str:
    """The one path cert-manager's Issuer calls (its `spec.vault.path`)."""
    return f"{mount}/sign/{role}"


def issuer_policy(layout: policies.Layout, mount: str, role: str) -> policies.Policy:
    """Sign CSRs with the mesh role: nothing else, `issue` included."""
    return policies.Policy(layout.name("mesh-issuer"), (policies.Rule(sign_path(mount, role), ("update",)),))


def intermediate_ttl_hours(rotation: RotationSchedule) -> int:
    """Two rotation periods: the previous intermediate outlives its successor's arrival."""
    return 2 * rotation.period_days * 24


def signed_chain(certificate: str | None, issuing_ca: str | None) -> str | None:
    """The bundle handed to the intermediate mount: the intermediate first (so the first
    issuer Vault imports is the one that has the key), then the root."""
    if not certificate or not issuing_ca:
        return None
    return f"{certificate.strip()}\n{issuing_ca.strip()}\n"


def current_issuer(imported: list[str] | None) -> str | None:
    """The issuer the role signs with: the first one imported, the intermediate."""
    return imported[0] if imported else None


def check(args: MeshPkiArgs) -> list[str]:
    """What makes the args unusable, one line per problem; empty when they are fine."""
    problems = []
    if not _TRUST_DOMAIN.match(args.trust_domain):
        problems.append(f"trust domain {args.trust_domain!r} is not a SPIFFE trust domain name")
    for name in args.dns_names:
        if not _DNS_NAME.match(name):
            problems.append(f"DNS name {name!r} is not a host name (no wildcards)")
    if not args.dns_names:
        problems.append("no DNS names: istiod and istio-csr need their serving certificates")
    if args.workload_ttl_hours < 1:
        problems.append("workload_ttl_hours must be at least 1")
    if args.workload_ttl_hours >= intermediate_ttl_hours(args.rotation) // 2:
        problems.append("workload certificates must be much shorter than a rotation period of the intermediate")
    signer = args.signer
    if isinstance(signer, OrganisationRoot) and (signer.certificate is None) != (signer.root_certificate is None):
        problems.append("the organisation's signed certificate and its root certificate come together")
    allowed_bits = {"rsa": (2048, 3072, 4096), "ec": (256, 384)}[args.key_type]
    if args.key_bits not in allowed_bits:
        problems.append(f"{args.key_type} keys of {args.key_bits} bits: expected one of {allowed_bits}")
    return problems


class MeshPki(pulumi.ComponentResource):
    mount: vault.Mount
    intermediate: vault.pkisecret.SecretBackendIntermediateCertRequest
    root_mount: vault.Mount | None
    root: vault.pkisecret.SecretBackendRootCert | None
    signed: vault.pkisecret.SecretBackendRootSignIntermediate | None
    imported: vault.pkisecret.SecretBackendIntermediateSetSigned | None
    role: vault.pkisecret.SecretBackendRole
    policy: vault.Policy
    login_role: vault.kubernetes.AuthBackendRole | vault.jwt.AuthBackendRole
    # The root certificate the mesh trusts (PEM); None until an organisation root gave it.
    trust_anchor: pulumi.Output[str | None]
    sign_path: str

    def __init__(self, name: str, args: MeshPkiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:MeshPki", name, None, opts)
        problems = check(args)
        if problems:
            raise ValueError("; ".join(problems))
        child = pulumi.ResourceOptions(parent=self)
        description = f"Project-AI {args.owner.environment} ({args.owner.team}): mesh workload certificates"
        generation = args.rotation.generation
        common_name = f"{args.common_name or args.trust_domain + ' mesh intermediate CA'} {generation}"

        self.mount = vault.Mount(
            f"{name}-mount",
            path=args.mount,
            type="pki",
            description=description,
            default_lease_ttl_seconds=args.workload_ttl_hours * HOURS,
            # Nothing this mount signs outlives a workload certificate.
            max_lease_ttl_seconds=args.workload_ttl_hours * HOURS,
            opts=child,
        )
        # Generated inside Vault (`internal`): the private key never leaves it. A new
        # generation is a new key and CSR (every input forces a replacement).
        self.intermediate = vault.pkisecret.SecretBackendIntermediateCertRequest(
            f"{name}-intermediate",
            backend=self.mount.path,
            type="internal",
            common_name=common_name,
            organization=args.organization,
            key_type=args.key_type,
            key_bits=args.key_bits,
            key_name=f"mesh-intermediate-{generation}",
            add_basic_constraints=True,
            opts=child,
        )

        self.root_mount = self.root = self.signed = self.imported = None
        certificate: pulumi.Input[str] | None
        trust_anchor: pulumi.Input[str | None]
        if isinstance(args.signer, LocalRoot):
            certificate, trust_anchor = self._local_root(name, args, args.signer, common_name)
        else:
            certificate, trust_anchor = args.signer.certificate, args.signer.root_certificate
        self.trust_anchor = pulumi.Output.from_input(trust_anchor)
        if certificate is not None:
            self.imported = vault.pkisecret.SecretBackendIntermediateSetSigned(
                f"{name}-intermediate-signed",
                backend=self.mount.path,
                certificate=certificate,
                # The key it belongs to, and (local root) the signing, explicitly: the
                # certificate may be plain config that carries no dependency.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[self.intermediate, *([self.signed] if self.signed else [])]
                ),
            )
            # The new intermediate signs from now on; its predecessor stays in the mount
            # until its certificates have expired.
            vault.pkisecret.SecretBackendConfigIssuers(
                f"{name}-default-issuer",
                backend=self.mount.path,
                default=self.imported.imported_issuers.apply(current_issuer),
                default_follows_latest_issuer=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.imported]),
            )

        ttl = str(args.workload_ttl_hours * HOURS)
        self.role = vault.pkisecret.SecretBackendRole(
            f"{name}-role",
            backend=self.mount.path,
            name=args.role,
            issuer_ref="default",
            # SPIFFE IDs in the trust domain, as given: no templating.
            allowed_uri_sans=role_uri_sans(args.trust_domain),
            allowed_uri_sans_template=False,
            # Exactly these host names, nothing under or around them.
            allowed_domains=list(args.dns_names),
            allowed_domains_template=False,
            allow_bare_domains=True,
            allow_subdomains=False,
            allow_glob_domains=False,
            allow_wildcard_certificates=False,
            allow_any_name=False,
            allow_localhost=False,
            allow_ip_sans=False,
            enforce_hostnames=True,
            # Workload CSRs carry no common name; istiod's is one of the DNS names.
            require_cn=False,
            cn_validations=["hostname"],
            use_csr_common_name=True,
            use_csr_sans=True,
            server_flag=True,
            client_flag=True,
            code_signing_flag=False,
            email_protection_flag=False,
            key_type=args.key_type,
            key_bits=args.key_bits,
            ttl=ttl,
            max_ttl=ttl,
            no_store=True,
            generate_lease=False,
            opts=child,
        )

        document = issuer_policy(args.layout, args.mount, args.role)
        problems = policies.violations(document)
        assert not problems, "; ".join(problems)
        self.policy = vault.Policy(f"{name}-policy", name=document.name, policy=document.hcl(), opts=child)
        self.login_role = self._login_role(name, args)
        self.sign_path = sign_path(args.mount, args.role)

        self.register_outputs(
            {
                "mount": self.mount.path,
                "signPath": self.sign_path,
                "loginRole": self.login_role.role_name,
                "intermediateCsr": self.intermediate.csr,
                "trustAnchor": self.trust_anchor,
            }
        )

    def _local_root(
        self, name: str, args: MeshPkiArgs, signer: LocalRoot, common_name: str
    ) -> tuple[pulumi.Output[str | None], pulumi.Output[str]]:
        child = pulumi.ResourceOptions(parent=self)
        self.root_mount = vault.Mount(
            f"{name}-root-mount",
            path=signer.mount,
            type="pki",
            description=f"Project-AI {args.owner.environment}: local root of the mesh (development only)",
            max_lease_ttl_seconds=signer.ttl_hours * HOURS,
            opts=child,
        )
        self.root = vault.pkisecret.SecretBackendRootCert(
            f"{name}-root",
            backend=self.root_mount.path,
            type="internal",
            common_name=f"{args.trust_domain} mesh root CA (development)",
            organization=args.organization,
            key_type=args.key_type,
            key_bits=args.key_bits,
            ttl=str(signer.ttl_hours * HOURS),
            issuer_name="mesh-root",
            opts=child,
        )
        self.signed = vault.pkisecret.SecretBackendRootSignIntermediate(
            f"{name}-intermediate-signing",
            backend=self.root_mount.path,
            csr=self.intermediate.csr,
            common_name=common_name,
            organization=args.organization,
            ttl=str(intermediate_ttl_hours(args.rotation) * HOURS),
            # The intermediate signs leaves only, and only these host names.
            max_path_length=0,
            permitted_dns_domains=list(args.dns_names),
            use_csr_values=False,
            format="pem",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.root, self.intermediate]),
        )
        signed = self.signed
        chain = pulumi.Output.all(signed.certificate, signed.issuing_ca).apply(lambda pair: signed_chain(*pair))
        return chain, self.root.certificate

    def _login_role(self, name: str, args: MeshPkiArgs) -> vault.kubernetes.AuthBackendRole | vault.jwt.AuthBackendRole:
        login, account = args.login, args.login.service_account
        common = {
            "backend": login.auth_mount,
            "role_name": args.layout.name("mesh-issuer"),
            "token_policies": [self.policy.name],
            "token_ttl": login.token_ttl_seconds,
            "token_max_ttl": login.token_ttl_seconds,
            "token_type": "batch",
            "opts": pulumi.ResourceOptions(parent=self),
        }
        if login.method == "jwt":
            # Exactly one ServiceAccount in exactly one namespace: the token's subject.
            return vault.jwt.AuthBackendRole(
                f"{name}-login",
                role_type="jwt",
                user_claim="sub",
                bound_subject=f"system:serviceaccount:{account.namespace}:{account.service_account}",
                bound_audiences=[login.audience],
                **common,
            )
        return vault.kubernetes.AuthBackendRole(
            f"{name}-login",
            bound_service_account_names=[account.service_account],
            bound_service_account_namespaces=[account.namespace],
            audience=login.audience,
            **common,
        )
