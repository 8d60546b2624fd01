"""Typed arguments of the Vault components: plain values, validated upstream by stacks/."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.labels import Ownership
from components.vault.database import GroupRoles
from components.vault.policies import Layout


@dataclass(frozen=True)
class Consumer:
    """A workload that logs in to Vault: its ServiceAccount, in one namespace."""

    service_account: str
    namespace: str


@dataclass(frozen=True)
class KubernetesAuthArgs:
    mount: str
    # The API server Vault sends TokenReviews to. None: Vault runs in this cluster and
    # uses its own ServiceAccount, CA and host (in-cluster defaults). Outside the cluster
    # it reviews logins with `reviewer_jwt` (a ServiceAccount bound to
    # system:auth-delegator), written write-only; raise the version to replace it.
    host: str | None = None
    ca_certificate: pulumi.Input[str] | None = None
    reviewer_jwt: pulumi.Input[str] | None = None
    reviewer_jwt_version: int = 1
    # A cloud cluster's OIDC issuer (EKS, GKE publish one): Vault then checks
    # ServiceAccount tokens against its public keys (JWT auth), with no reviewer token
    # and no route to the API server. Takes precedence over `host`.
    oidc_issuer: pulumi.Input[str] | None = None
    audience: str = "vault"
    token_ttl_seconds: int = 900
    token_max_ttl_seconds: int = 3600


@dataclass(frozen=True)
class DatabaseEngineArgs:
    host: pulumi.Input[str]
    port: int
    database: str
    ssl_mode: str
    root_username: str
    # The root credential Vault starts from; write-only, so Vault's own rotations are
    # never overwritten. Raise the version to hand Vault a new one.
    root_password: pulumi.Input[str]
    root_password_version: int = 1
    groups: GroupRoles = field(default_factory=GroupRoles)
    credential_ttl_seconds: int = 14400
    credential_max_ttl_seconds: int = 86400
    max_open_connections: int = 4


@dataclass(frozen=True)
class AuditArgs:
    """Two devices: Vault refuses requests only when every device fails, so one full
    disk or one stalled pipe does not stop it."""

    file_path: str = "/vault/audit/audit.log"
    # The second device writes to the server's stdout, collected by the node's logging.
    second_path: str = "stdout"


@dataclass(frozen=True)
class VaultArgs:
    owner: Ownership
    layout: Layout
    kubernetes: KubernetesAuthArgs
    app: Consumer
    external_secrets: Consumer
    rotator: Consumer | None
    # Every KV entry External Secrets syncs, relative to the KV mount.
    synced_kv_paths: tuple[str, ...]
    database: DatabaseEngineArgs | None = None
    audit: AuditArgs = field(default_factory=AuditArgs)
    kv_max_versions: int = 10
    # False where another stack of the environment owns the KV mount.
    owns_kv_mount: bool = True
