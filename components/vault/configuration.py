"""VaultConfiguration: what one environment and one cluster need in Vault — the KV v2
mount, two audit devices, Kubernetes auth with one role per consumer, a policy per
consumer, and the database secrets engine with its runtime and migration roles.

Takes the Vault provider through `opts`; it never reads a token itself.
"""

from __future__ import annotations

import pulumi
import pulumi_vault as vault

from components.vault import policies
from components.vault.args import Consumer, DatabaseEngineArgs, VaultArgs

KUBERNETES_HOST_IN_CLUSTER = "https://kubernetes.default.svc"
POSTGRES_PLUGIN = "postgresql-database-plugin"


class VaultConfiguration(pulumi.ComponentResource):
    kv: vault.Mount | None
    audit_devices: list[vault.Audit]
    auth: vault.AuthBackend | vault.jwt.AuthBackend
    policies: dict[str, vault.Policy]
    roles: dict[str, vault.kubernetes.AuthBackendRole | vault.jwt.AuthBackendRole]
    database: vault.Mount | None
    database_roles: dict[str, vault.database.SecretBackendRole]

    def __init__(self, name: str, args: VaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:VaultConfiguration", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        layout = args.layout
        description = f"Project-AI {args.owner.environment} ({args.owner.team})"

        # An environment's mount is shared by its stacks (prod, prod-eu, prod-gcp): one owns it.
        self.kv = None
        if args.owns_kv_mount:
            self.kv = vault.Mount(
                f"{name}-kv",
                path=layout.kv_mount,
                type="kv",
                options={"version": "2"},
                description=f"{description}: application secrets",
                opts=child,
            )
            vault.kv.SecretBackendV2(
                f"{name}-kv-config",
                mount=self.kv.path,
                max_versions=args.kv_max_versions,
                opts=child,
            )
        # Audit devices are Vault-wide: each stack's carry its name, so stacks sharing a
        # Vault add theirs instead of colliding.
        self.audit_devices = [
            vault.Audit(
                f"{name}-audit-{path}",
                type="file",
                path=f"{path}-{layout.scope}",
                options={"file_path": file_path, "format": "json"},
                description=f"{description}: audit log ({file_path})",
                opts=child,
            )
            for path, file_path in (("file", args.audit.file_path), ("stdout", args.audit.second_path))
        ]

        auth = args.kubernetes
        if auth.oidc_issuer is not None:
            self.auth = vault.jwt.AuthBackend(
                f"{name}-cluster-auth",
                type="jwt",
                path=auth.mount,
                oidc_discovery_url=auth.oidc_issuer,
                bound_issuer=auth.oidc_issuer,
                description=f"{description}: service accounts of this cluster (OIDC)",
                opts=child,
            )
        else:
            self.auth = self._kubernetes_auth(name, args, description)
        self.policies, self.roles = self._consumers(name, args)
        self.database = None
        self.database_roles = {}
        if args.database:
            self.database, self.database_roles = self._database_engine(name, args, args.database, description)

        self.register_outputs(
            {
                "kvMount": layout.kv_mount,
                "authMount": self.auth.path,
                "roles": {role: resource.role_name for role, resource in self.roles.items()},
                "databaseMount": self.database.path if self.database else None,
            }
        )

    def _kubernetes_auth(self, name: str, args: VaultArgs, description: str) -> vault.AuthBackend:
        child = pulumi.ResourceOptions(parent=self)
        auth = args.kubernetes
        backend = vault.AuthBackend(
            f"{name}-kubernetes-auth",
            type="kubernetes",
            path=auth.mount,
            description=f"{description}: service accounts of this cluster",
            opts=child,
        )
        external = auth.host is not None
        vault.kubernetes.AuthBackendConfig(
            f"{name}-kubernetes-auth-config",
            backend=backend.path,
            kubernetes_host=auth.host or KUBERNETES_HOST_IN_CLUSTER,
            kubernetes_ca_cert=auth.ca_certificate,
            token_reviewer_jwt_wo=auth.reviewer_jwt if external else None,
            token_reviewer_jwt_wo_version=auth.reviewer_jwt_version if external else None,
            # Outside the cluster there is no local ServiceAccount to fall back on.
            disable_local_ca_jwt=external,
            opts=child,
        )
        return backend

    def _consumers(
        self, name: str, args: VaultArgs
    ) -> tuple[dict[str, vault.Policy], dict[str, vault.kubernetes.AuthBackendRole | vault.jwt.AuthBackendRole]]:
        """A policy per consumer, and a login role bound to its one ServiceAccount."""
        child = pulumi.ResourceOptions(parent=self)
        layout, auth = args.layout, args.kubernetes
        consumers: dict[str, tuple[Consumer, policies.Policy]] = {
            "app": (args.app, policies.app_policy(layout)),
            "external-secrets": (
                args.external_secrets,
                policies.external_secrets_policy(
                    layout,
                    args.synced_kv_paths,
                    (layout.runtime_role, layout.migration_role) if args.database else (),
                ),
            ),
        }
        if args.database and args.rotator:
            consumers["root-rotator"] = (args.rotator, policies.rotator_policy(layout))
        documents = [policy for _, policy in consumers.values()] + [policies.deployer_policy(layout)]
        for document in documents:
            problems = policies.violations(document)
            assert not problems, "; ".join(problems)
        created = {
            document.name: vault.Policy(
                f"{name}-policy-{document.name}", name=document.name, policy=document.hcl(), opts=child
            )
            for document in documents
        }
        # External Secrets revokes its token after each read, and revoking a token revokes
        # the leases it created: the database users it just fetched would be dropped. A
        # batch token cannot be revoked, and its leases live as long as it does, so the
        # operator logs in with one as long-lived as the users it fetches.
        lifetimes = {role: (auth.token_ttl_seconds, auth.token_max_ttl_seconds, "service") for role in consumers}
        if args.database:
            ttl = args.database.credential_ttl_seconds
            lifetimes["external-secrets"] = (ttl, ttl, "batch")
        roles: dict[str, vault.kubernetes.AuthBackendRole | vault.jwt.AuthBackendRole] = {}
        for role, (consumer, policy) in consumers.items():
            common = {
                "backend": self.auth.path,
                "role_name": layout.name(role),
                "token_policies": [created[policy.name].name],
                "token_ttl": lifetimes[role][0],
                "token_max_ttl": lifetimes[role][1],
                "token_type": lifetimes[role][2],
                "opts": child,
            }
            if auth.oidc_issuer is not None:
                # Exactly one ServiceAccount in exactly one namespace: the token's subject.
                roles[role] = vault.jwt.AuthBackendRole(
                    f"{name}-role-{role}",
                    role_type="jwt",
                    user_claim="sub",
                    bound_subject=f"system:serviceaccount:{consumer.namespace}:{consumer.service_account}",
                    bound_audiences=[auth.audience],
                    **common,
                )
            else:
                roles[role] = vault.kubernetes.AuthBackendRole(
                    f"{name}-role-{role}",
                    # Exactly one ServiceAccount in exactly one namespace.
                    bound_service_account_names=[consumer.service_account],
                    bound_service_account_namespaces=[consumer.namespace],
                    audience=auth.audience,
                    **common,
                )
        return created, roles

    def _database_engine(
        self, name: str, args: VaultArgs, database: DatabaseEngineArgs, description: str
    ) -> tuple[vault.Mount, dict[str, vault.database.SecretBackendRole]]:
        layout = args.layout
        assert layout.database_mount is not None
        child = pulumi.ResourceOptions(parent=self)
        mount = vault.Mount(
            f"{name}-database",
            path=layout.database_mount,
            type="database",
            description=f"{description}: short-lived PostgreSQL users",
            default_lease_ttl_seconds=database.credential_ttl_seconds,
            max_lease_ttl_seconds=database.credential_max_ttl_seconds,
            opts=child,
        )
        groups = database.groups
        roles = {layout.runtime_role: groups.runtime_creation(), layout.migration_role: groups.migration_creation()}
        connection = vault.database.SecretBackendConnection(
            f"{name}-database-connection",
            backend=mount.path,
            name=layout.database_connection,
            plugin_name=POSTGRES_PLUGIN,
            allowed_roles=list(roles),
            verify_connection=True,
            root_rotation_statements=groups.root_rotation(),
            postgresql=vault.database.SecretBackendConnectionPostgresqlArgs(
                # Vault fills {{username}} and {{password}}; the braces are doubled for format().
                connection_url=pulumi.Output.format(
                    "postgresql://{{{{username}}}}:{{{{password}}}}@{0}:{1}/{2}?sslmode={3}",
                    database.host,
                    database.port,
                    database.database,
                    database.ssl_mode,
                ),
                username=database.root_username,
                # Vault hashes new users' passwords before PostgreSQL sees (and logs) them.
                password_authentication="scram-sha-256",
                # Write-only: Vault rotates the root password, and Pulumi must never put
                # the first one back.
                password_wo=database.root_password,
                password_wo_version=database.root_password_version,
                max_open_connections=database.max_open_connections,
                # Rotated root credentials must not outlive a pooled connection for long.
                max_connection_lifetime=300,
            ),
            opts=child,
        )
        return mount, {
            role: vault.database.SecretBackendRole(
                f"{name}-database-role-{role}",
                backend=mount.path,
                name=role,
                db_name=connection.name,
                creation_statements=creation,
                revocation_statements=groups.revocation(),
                default_ttl=database.credential_ttl_seconds,
                max_ttl=database.credential_max_ttl_seconds,
                opts=child,
            )
            for role, creation in roles.items()
        }
