"""VaultIntegration: everything a cluster needs to take its secrets from Vault.

Vault itself in dev mode where asked, the Vault provider, Vault's configuration for this
cluster (auth, policies, roles, the database engine, the KV entries this stack writes),
External Secrets with the Secrets the API and monitoring read, Reloader, the scheduled
root-credential rotation, and the reviewer identity an external Vault checks logins with.

The Secrets synced from Vault, by namespace:

| Secret | keys | Vault entry (KV mount unless noted) |
|---|---|---|
| `<app>-secrets` | APP_API_KEY_PEPPER(_PREVIOUS), APP_UPSTREAM_TOKEN | `<app>/pepper` (generated), `<app>/upstream` |
| `<app>-database` | APP_DATABASE_URL (APP_DATABASE_READ_URL) | database engine `creds/<app>`, or `<app>/database` url |
| `<app>-migration-database` | APP_DATABASE_URL (APP_DATABASE_READ_URL) | database engine `creds/<app>-migrate` |
| smoke-test Secret (blue-green) | api-key | `<app>/smoke-test` api-key |
| `alertmanager-pagerduty`, `-escalation` | routing-key | `monitoring/pagerduty`, `monitoring/pagerduty-escalation` |
| `alertmanager-slack` | webhook-url | `monitoring/slack` |
| `grafana-admin` | admin-user, admin-password | `monitoring/grafana` (generated, rotated) |
| `cloudflare-api-token` (cert-manager's namespace, regions) | api-token | `<app>/cloudflare-dns` api-token |
| `project-ai-heal` (self-healing) | webhook-token, approval-token | `<app>/<stack>/heal` (generated) |
| | cloudflare-api-token, pagerduty-routing-key | `<app>/cloudflare-edge`, `monitoring/pagerduty` |
| `alertmanager-heal` (self-healing) | webhook-token | `<app>/<stack>/heal` (generated) |

With the database engine and a reader host (a region's reader endpoint), the same user's
credentials also render APP_DATABASE_READ_URL, the reader's URL, from the same read.

The ExternalSecrets of a namespace are created by `setup(namespace)` once the component
that owns the namespace has created it, and wait for it; they are this component's own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault

from components import aliases, heal
from components.charts import Cluster, NamespaceSetup
from components.delivery.analysis import SMOKE_TEST_KEY
from components.labels import Ownership, kubernetes_labels, ownership_labels, pod_security_labels
from components.monitoring.alerting import ESCALATION_SECRET, PAGERDUTY_SECRET, SLACK_SECRET
from components.monitoring.stack import GRAFANA_ADMIN_SECRET
from components.network_policies import EgressRule
from components.rotation import RotationSchedule, rotating_pair, rotating_password
from components.vault import policies, reloader
from components.vault.args import AuditArgs, Consumer, DatabaseEngineArgs, KubernetesAuthArgs, VaultArgs
from components.vault.bootstrap import BootstrapArgs, database_bootstrap
from components.vault.configuration import VaultConfiguration
from components.vault.database import GroupRoles
from components.vault.dev_server import PORT, RELEASE, DevVault, DevVaultArgs
from components.vault.external_secrets import (
    SERVICE_ACCOUNT,
    Entry,
    ExternalSecretsArgs,
    ExternalSecretsOperator,
    StoreArgs,
    SyncedSecret,
    external_secret,
)
from components.vault.reloader import Reloader, ReloaderArgs
from components.vault.rotation import RootRotation, RootRotationArgs

DEV_NAMESPACE = "vault"
ROTATION_NAMESPACE = "vault-rotation"
ROTATOR_ACCOUNT = "vault-root-rotator"
ESO_NAMESPACE = "external-secrets"
REVIEWER = "vault-token-reviewer"
REVIEWER_NAMESPACE = "vault-auth"
CACHE_CA_DIRECTORY = "/etc/project-ai/redis-ca"
# cert-manager's Cloudflare API token (DNS-01), and its key.
CLOUDFLARE_TOKEN_SECRET = "cloudflare-api-token"
CLOUDFLARE_TOKEN_KEY = "api-token"
# Where this component's children lived before it existed: at the stack's root, and
# (KV entries; ExternalSecrets and the bootstrap Job) inside two of them.
_CONFIGURATION = ("projectai:vault:VaultConfiguration", "vault")
_OPERATOR = ("projectai:vault:ExternalSecretsOperator", "external-secrets")


@dataclass(frozen=True)
class DatabaseEndpoint:
    """The app's PostgreSQL as Vault's database engine reaches it, with its first root
    credential (from the stack's secret config, or generated with the database), and
    when Vault rotates that credential."""

    engine: DatabaseEngineArgs
    rotation_schedule: str
    # Create the group roles from the cluster before any user is issued (a database
    # the stack itself created); otherwise an administrator ran the bootstrap.
    bootstrap: bool = False
    # The database's reader endpoint (its replicas), on the engine's port: the app reads
    # what tolerates lag there, as the same user. None: every read goes to `engine.host`.
    reader_host: pulumi.Input[str] | None = None
    # The role that owns the database's objects when a copy created them (a promoted DMS
    # standby's `cloudsqlexternalsync`): the bootstrap hands them to the owner group.
    adopt_objects_of: str | None = None


@dataclass(frozen=True)
class CacheEndpoint:
    """The app's Redis: its URL (with the AUTH token) goes into Vault, and reaches the
    pods as APP_REDIS_URL through External Secrets; a server CA the clients must trust
    (Memorystore's) reaches them as a file the URL names."""

    url: pulumi.Input[str]
    ca_certificate: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class VaultServer:
    """Which Vault: OpenBao in dev mode inside the cluster, or one the platform team runs."""

    mode: Literal["dev", "external"]
    # The external Vault's address (its token comes from the deployer's environment).
    address: str | None
    namespace: str | None
    # Dev mode: the chart, and the ingress the deployer reaches the server through.
    openbao_chart_version: str
    dev_ingress_host: str | None
    ingress_class: str


@dataclass(frozen=True)
class AppIdentity:
    """The API as Vault sees it: its ServiceAccount (named after it), its namespace, and
    the image the database bootstrap Job runs."""

    name: str
    namespace: str
    image: str
    run_as_user: int


@dataclass(frozen=True)
class LoginArgs:
    """How pods log in: Kubernetes or JWT auth at `auth_mount`."""

    auth_mount: str
    audience: str
    token_ttl_seconds: int
    token_max_ttl_seconds: int
    # The cluster's API server, for a Vault outside the cluster to review tokens with
    # the reviewer's token; unused where Vault checks tokens against `oidc_issuer`.
    kubernetes_host: str | None
    kubernetes_ca_certificate: str | None
    reviewer_jwt: str | None
    oidc_issuer: pulumi.Input[str] | None


@dataclass(frozen=True)
class VaultIntegrationArgs:
    owner: Ownership
    cluster: Cluster
    server: VaultServer
    app: AppIdentity
    login: LoginArgs
    # Vault paths: the environment's KV mount, this stack's scope within it.
    layout: policies.Layout
    owns_kv_mount: bool
    refresh_interval: str
    audit_file_path: str
    external_secrets_chart_version: str
    reloader_chart_version: str
    operator_replicas: int
    # The image of the root-rotation job (OpenBao's CLI speaks the Vault API).
    cli_image: str
    # When the secrets this stack generates (pepper, Grafana admin) are renewed.
    rotation: RotationSchedule
    database: DatabaseEndpoint | None
    cache: CacheEndpoint | None
    # None without monitoring: no alerting or Grafana Secrets.
    monitoring_namespace: str | None
    # The blue-green smoke test's Secret, where the strategy runs one.
    smoke_test_secret: str | None
    # Argo Rollouts manage the API's pods (Reloader restarts them through the Rollout).
    rollout: bool
    # cert-manager's namespace, where it solves ACME DNS-01 through Cloudflare: the API
    # token it uses is synced there (a region's). None: no token.
    cloudflare_dns_namespace: str | None = None
    # The self-healing receiver's Secrets, where it runs (components/heal.py).
    self_healing: heal.HealSecrets | None = None
    # Secrets other components read from the KV mount (OpenCost's GCP pricing key).
    other_secrets: tuple[SyncedSecret, ...] = ()


@dataclass(frozen=True)
class SecretNames:
    """The Secrets the API's pods read as files: the API's, and the migration Job's (its
    own database user's in place of the runtime one)."""

    app: tuple[str, ...]
    migration: tuple[str, ...]
    # Those whose change needs new connections (database, cache): Reloader restarts the
    # pods. The app re-reads the others' files itself (pepper, upstream token).
    restart: tuple[str, ...]


class VaultIntegration(pulumi.ComponentResource):
    provider: vault.Provider
    egress: EgressRule
    configuration: VaultConfiguration
    operator: ExternalSecretsOperator
    # The Kubernetes Secrets this stack syncs, and the ExternalSecrets created so far.
    secrets: list[SyncedSecret]
    synced: dict[str, k8s.apiextensions.CustomResource]
    # KV entries this stack writes, by path.
    kv_entries: dict[str, vault.kv.SecretV2]

    def __init__(self, name: str, args: VaultIntegrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:vault:VaultIntegration", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        was_top_level = aliases.moved(child, aliases.formerly_top_level())
        where = args.layout
        self.secrets = synced_secrets(args)
        self.names = secret_names(args)
        self.secret_files = secret_files(args)
        watched = (*self.names.restart, *(secret for secret, _ in self.secret_files))
        self.workload_annotations = reloader.annotations(watched, rollout=args.rollout)
        self.synced = {}
        from_kv = (secret for secret in self.secrets if secret.store == ExternalSecretsOperator.KV_STORE)
        kv_paths = tuple(entry.vault_path for secret in from_kv for entry in secret.entries)

        server = args.server
        if server.mode == "dev" and server.dev_ingress_host is None:
            raise ValueError("a dev-mode Vault needs dev_ingress_host: Pulumi reaches the server through it")
        if server.mode == "external" and server.address is None:
            raise ValueError("an external Vault needs its address")
        self.dev: DevVault | None = None
        if server.mode == "dev" and server.dev_ingress_host is not None:
            dev = self.dev = DevVault(
                "vault-dev",
                DevVaultArgs(
                    owner=args.owner,
                    chart_version=server.openbao_chart_version,
                    ingress_host=server.dev_ingress_host,
                    ingress_class=server.ingress_class,
                    namespace=DEV_NAMESPACE,
                    cluster=args.cluster,
                    client_namespaces=(ESO_NAMESPACE, ROTATION_NAMESPACE, args.cluster.ingress_namespace),
                ),
                was_top_level,
            )
            # The provider checks its token as soon as it is configured: only once the server runs.
            ready_address = dev.release.status.apply(lambda _: dev.address)
            self.provider = vault.Provider("vault", address=ready_address, token=dev.root_token, opts=was_top_level)
            self.address, self.cluster_address = dev.address, dev.cluster_address
        else:
            # The token comes from VAULT_TOKEN (or a login method) in the deployer's environment.
            address = str(server.address)
            self.provider = vault.Provider("vault", address=address, namespace=server.namespace, opts=was_top_level)
            self.address = self.cluster_address = address
        on_vault = aliases.moved(
            pulumi.ResourceOptions(
                parent=self, provider=self.provider, depends_on=[self.dev.release] if self.dev else []
            ),
            aliases.formerly_top_level(),
        )
        self.configuration = VaultConfiguration("vault", _vault_args(args, kv_paths), on_vault)
        self.kv_entries = self._kv_entries(args)

        self.reviewer: list[pulumi.Resource] = []
        if args.login.kubernetes_host and args.login.oidc_issuer is None:
            self.reviewer = self._token_reviewer(was_top_level)

        vault_egress = _vault_egress(server)
        # Where in-cluster clients reach Vault (cert-manager's Vault Issuer, for the mesh).
        self.egress = vault_egress
        after_configuration = pulumi.ResourceOptions.merge(
            was_top_level, pulumi.ResourceOptions(depends_on=[self.configuration])
        )
        self.operator = ExternalSecretsOperator(
            "external-secrets",
            ExternalSecretsArgs(
                owner=args.owner,
                chart_version=args.external_secrets_chart_version,
                namespace=ESO_NAMESPACE,
                replicas=args.operator_replicas,
                cluster=args.cluster,
                vault_egress=vault_egress,
                stores=StoreArgs(
                    vault_address=self.cluster_address,
                    vault_namespace=server.namespace,
                    auth_mount=args.login.auth_mount,
                    role=where.name("external-secrets"),
                    audience=args.login.audience,
                    kv_mount=where.kv_mount,
                    database_mount=where.database_mount,
                    namespaces=tuple(sorted({secret.namespace for secret in self.secrets})),
                    database_namespace=args.app.namespace,
                    auth_method="jwt" if args.login.oidc_issuer is not None else "kubernetes",
                ),
            ),
            after_configuration,
        )
        watched_namespaces = (args.app.namespace, *((args.monitoring_namespace,) if args.monitoring_namespace else ()))
        self.reloader = Reloader(
            "reloader",
            ReloaderArgs(
                owner=args.owner,
                chart_version=args.reloader_chart_version,
                watched_namespaces=watched_namespaces,
                cluster=args.cluster,
            ),
            was_top_level,
        )
        self.root_rotation: RootRotation | None = None
        if args.database and where.database_mount:
            self.root_rotation = RootRotation(
                "vault-root-rotation",
                RootRotationArgs(
                    owner=args.owner,
                    image=args.cli_image,
                    vault_address=self.cluster_address,
                    vault_namespace=server.namespace,
                    auth_mount=args.login.auth_mount,
                    role=where.name("root-rotator"),
                    audience=args.login.audience,
                    database_mount=where.database_mount,
                    connection=where.database_connection,
                    schedule=args.database.rotation_schedule,
                    vault_egress=vault_egress,
                    kubernetes_version=args.cluster.kubernetes_version,
                    namespace=ROTATION_NAMESPACE,
                    service_account=ROTATOR_ACCOUNT,
                ),
                after_configuration,
            )
        self.register_outputs(
            {
                "address": self.address,
                "kvMount": where.kv_mount,
                "authMount": args.login.auth_mount,
                "secrets": [secret.name for secret in self.secrets],
            }
        )

    def setup(self, namespace: str) -> NamespaceSetup:
        """Creates the namespace's ExternalSecrets (and, in the app's namespace, the
        database bootstrap Job) once the namespace exists; the owner of the namespace
        waits for them before its pods start."""

        def create(created: k8s.core.v1.Namespace) -> list[pulumi.Resource]:
            in_namespace = aliases.moved(
                pulumi.ResourceOptions(parent=self, depends_on=[created, *self.operator.stores.values()]),
                aliases.formerly_under(*_OPERATOR),
            )
            bootstrap = self._bootstrap(namespace, created)
            labels = kubernetes_labels(
                self._args.owner, name="project-ai-secrets", instance="vault", component="secrets"
            )
            for secret in self.secrets:
                if secret.namespace != namespace:
                    continue
                # Users of the database engine join group roles the bootstrap creates.
                needs_roles = secret.store == ExternalSecretsOperator.DATABASE_STORE
                opts = pulumi.ResourceOptions.merge(in_namespace, pulumi.ResourceOptions(depends_on=bootstrap))
                self.synced[secret.name] = external_secret(
                    f"secret-{secret.namespace}-{secret.name}", secret, labels, opts if needs_roles else in_namespace
                )
            return [self.synced[secret.name] for secret in self.secrets if secret.namespace == namespace]

        return create

    def _bootstrap(self, namespace: str, created: k8s.core.v1.Namespace) -> list[pulumi.Resource]:
        args, endpoint = self._args, self._args.database
        if endpoint is None or not endpoint.bootstrap or namespace != args.app.namespace:
            return []
        database = endpoint.engine
        url = pulumi.Output.format(
            "postgresql://{0}:{1}@{2}:{3}/{4}?sslmode={5}",
            database.root_username,
            database.root_password,
            database.host,
            database.port,
            database.database,
            database.ssl_mode,
        )
        labels = {
            **ownership_labels(args.owner),
            # The API's family: its egress policies (DNS, the database) apply.
            "app.kubernetes.io/name": args.app.name,
            "app.kubernetes.io/component": "database-bootstrap",
        }
        groups = GroupRoles()
        statements = groups.bootstrap(database.database, database.root_username, create_vault_user=False)
        if endpoint.adopt_objects_of is not None:
            # Other statements: a new Job (its name hashes them), run on this database.
            statements += groups.adoption(endpoint.adopt_objects_of)
        job = database_bootstrap(
            "database-bootstrap",
            BootstrapArgs(
                namespace=namespace,
                image=args.app.image,
                labels=labels,
                url=url,
                statements=tuple(statements),
                run_as_user=args.app.run_as_user,
            ),
            aliases.moved(
                pulumi.ResourceOptions(parent=self, depends_on=[created]), aliases.formerly_under(*_OPERATOR)
            ),
        )
        return [job]

    def _kv_entries(self, args: VaultIntegrationArgs) -> dict[str, vault.kv.SecretV2]:
        """What this stack writes into the KV mount: generated values (where it owns the
        mount), the self-healing receiver's tokens, the cache's URL, and random values a
        dev server starts with."""
        entries: dict[str, vault.kv.SecretV2] = {}
        generated = self._generated_values(args) if args.owns_kv_mount else {}
        if args.self_healing:
            # The stack's own tokens, whoever owns the mount: no one else needs to know them.
            generated[heal.tokens_path(args.layout)] = heal.generated_tokens(self._formerly_in_configuration())
        for path, data in generated.items():
            entries[path] = self._entry(f"vault-generated-{path}", path, data)
        if self.dev:
            for path, data in self._dev_values(skip=frozenset(generated)).items():
                entries[path] = self._entry(f"vault-dev-{path}", path, data, ignore_changes=["dataJson"])
        if args.cache:
            # The URL holds the AUTH token: it reaches the pods only through Vault.
            cache: dict[str, pulumi.Input[str]] = {"url": args.cache.url}
            if args.cache.ca_certificate is not None:
                # redis-py takes the CA file from the URL's `ssl_ca_certs`.
                ca_path = f"{CACHE_CA_DIRECTORY}/ca.pem"
                separator = pulumi.Output.from_input(args.cache.url).apply(lambda url: "&" if "?" in url else "?")
                url = pulumi.Output.concat(args.cache.url, separator, "ssl_ca_certs=", ca_path)
                cache = {"url": url, "ca": args.cache.ca_certificate}
            entries[cache_path(args.layout)] = self._entry("vault-cache-url", cache_path(args.layout), cache)
        return entries

    def _entry(
        self, name: str, path: str, data: dict[str, pulumi.Input[str]], ignore_changes: list[str] | None = None
    ) -> vault.kv.SecretV2:
        # Entries wait for the KV mount where this stack creates it.
        mount = [self.configuration.kv] if self.configuration.kv is not None else []
        return vault.kv.SecretV2(
            name,
            mount=self._args.layout.kv_mount,
            name=path,
            data_json=pulumi.Output.secret(pulumi.Output.json_dumps(data)),
            opts=self._formerly_in_configuration(
                provider=self.provider, depends_on=mount, ignore_changes=ignore_changes
            ),
        )

    def _formerly_in_configuration(self, **options: object) -> pulumi.ResourceOptions:
        return aliases.moved(
            pulumi.ResourceOptions(parent=self, **options),  # type: ignore[arg-type]
            aliases.formerly_under(*_CONFIGURATION),
        )

    def _generated_values(self, args: VaultIntegrationArgs) -> dict[str, dict[str, pulumi.Input[str]]]:
        """The KV entries this program generates and renews on the stack's schedule
        (components/rotation.py), by path: the API-key pepper with its predecessor, which
        the app accepts for one more period, and the Grafana admin password. Written by
        the stack that owns the environment's mount, read by every region of it."""
        child = self._formerly_in_configuration()
        current, previous = rotating_pair("vault-pepper", args.rotation, child)
        values: dict[str, dict[str, pulumi.Input[str]]] = {
            f"{args.layout.app}/pepper": {"value": current, "previous": previous}
        }
        if args.monitoring_namespace:
            # Grafana reads it at start: without persistence, every start sets it afresh.
            password = rotating_password("vault-grafana-admin", args.rotation, child).result
            values[f"{args.layout.monitoring}/grafana"] = {"admin-user": "admin", "admin-password": password}
        return values

    def _dev_values(self, skip: frozenset[str]) -> dict[str, dict[str, pulumi.Input[str]]]:
        """A dev server starts empty: give every synced KV entry a random value, so that the
        Secrets sync and the pods start. Overwrite them in Vault to use real ones; Pulumi
        leaves the values alone after the first write. Entries the program generates
        (`skip`) have values already."""
        properties: dict[str, list[str]] = {}
        for secret in self.secrets:
            for entry in secret.entries:
                if entry.vault_path not in skip:
                    properties.setdefault(entry.vault_path, []).append(entry.vault_property)
        child = self._formerly_in_configuration()
        return {
            path: {
                name: random.RandomPassword(f"vault-dev-{path}-{name}", length=32, special=False, opts=child).result
                for name in names
            }
            for path, names in properties.items()
        }

    def _token_reviewer(self, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """The identity a Vault outside the cluster reviews logins with: allowed TokenReviews
        (system:auth-delegator) and nothing else. Its token is the operator's to create."""
        labels = kubernetes_labels(self._args.owner, name=REVIEWER, instance="vault", component="secrets")
        namespace = k8s.core.v1.Namespace(
            REVIEWER_NAMESPACE,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=REVIEWER_NAMESPACE,
                labels={**labels, **pod_security_labels(self._args.cluster.kubernetes_version)},
            ),
            opts=opts,
        )
        in_namespace = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
        account = k8s.core.v1.ServiceAccount(
            REVIEWER,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=REVIEWER, namespace=REVIEWER_NAMESPACE, labels=labels),
            automount_service_account_token=False,
            opts=in_namespace,
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            REVIEWER,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=REVIEWER, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="system:auth-delegator"
            ),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=REVIEWER, namespace=REVIEWER_NAMESPACE)],
            opts=in_namespace,
        )
        return [namespace, account, binding]


def synced_secrets(args: VaultIntegrationArgs) -> list[SyncedSecret]:
    """Every Secret External Secrets writes for this stack, from the table above."""
    app, where, refresh = args.app, args.layout, args.refresh_interval
    kv, database = ExternalSecretsOperator.KV_STORE, ExternalSecretsOperator.DATABASE_STORE

    def kv_secret(name: str, namespace: str, *entries: tuple[str, str, str]) -> SyncedSecret:
        return SyncedSecret(
            name, namespace, kv, refresh, entries=tuple(Entry(key, path, prop) for key, path, prop in entries)
        )

    secrets = [
        kv_secret(
            f"{app.name}-secrets",
            app.namespace,
            ("APP_API_KEY_PEPPER", f"{where.app}/pepper", "value"),
            ("APP_API_KEY_PEPPER_PREVIOUS", f"{where.app}/pepper", "previous"),
            ("APP_UPSTREAM_TOKEN", f"{where.app}/upstream", "token"),
        )
    ]
    if args.database:
        db = args.database.engine
        template = {"APP_DATABASE_URL": database_url(db, db.host)}
        if args.database.reader_host is not None:
            # The same user (one read of the engine) on the reader endpoint.
            template["APP_DATABASE_READ_URL"] = database_url(db, args.database.reader_host)
        users = {f"{app.name}-database": where.runtime_role, f"{app.name}-migration-database": where.migration_role}
        for secret, role in users.items():
            extract = f"creds/{role}"
            secret_template = dict(template)
            secrets.append(
                SyncedSecret(secret, app.namespace, database, refresh, extract=extract, template=secret_template)
            )
    else:
        url_entry = ("APP_DATABASE_URL", f"{where.app}/database", "url")
        secrets.append(kv_secret(f"{app.name}-database", app.namespace, url_entry))
    if args.cache:
        cache_entry = ("APP_REDIS_URL", cache_path(where), "url")
        secrets.append(kv_secret(f"{app.name}-cache", app.namespace, cache_entry))
        if args.cache.ca_certificate is not None:
            ca_entry = ("ca.pem", cache_path(where), "ca")
            secrets.append(kv_secret(f"{app.name}-cache-ca", app.namespace, ca_entry))
    if args.smoke_test_secret:
        key_entry = (SMOKE_TEST_KEY, f"{where.app}/smoke-test", "api-key")
        secrets.append(kv_secret(args.smoke_test_secret, app.namespace, key_entry))
    if args.monitoring_namespace:
        namespace, folder = args.monitoring_namespace, where.monitoring
        secrets += [
            kv_secret(PAGERDUTY_SECRET, namespace, ("routing-key", f"{folder}/pagerduty", "routing-key")),
            kv_secret(ESCALATION_SECRET, namespace, ("routing-key", f"{folder}/pagerduty-escalation", "routing-key")),
            kv_secret(SLACK_SECRET, namespace, ("webhook-url", f"{folder}/slack", "webhook-url")),
            kv_secret(
                GRAFANA_ADMIN_SECRET,
                namespace,
                ("admin-user", f"{folder}/grafana", "admin-user"),
                ("admin-password", f"{folder}/grafana", "admin-password"),
            ),
        ]
    if args.cloudflare_dns_namespace:
        token_entry = (CLOUDFLARE_TOKEN_KEY, f"{where.app}/cloudflare-dns", "api-token")
        secrets.append(kv_secret(CLOUDFLARE_TOKEN_SECRET, args.cloudflare_dns_namespace, token_entry))
    if args.self_healing:
        secrets += heal.synced_secrets(args.self_healing, where, refresh)
    secrets += args.other_secrets
    return secrets


def database_url(db: DatabaseEngineArgs, host: pulumi.Input[str]) -> pulumi.Output[str]:
    """An ExternalSecret template of the app's URL to `host`, with the user the engine
    issued (ESO's template reads `{{ .username }}`; the braces are doubled for format())."""
    return pulumi.Output.format(
        "postgresql+psycopg://{{{{ .username }}}}:{{{{ .password | urlquery }}}}@{0}:{1}/{2}?sslmode={3}",
        host,
        db.port,
        db.database,
        db.ssl_mode,
    )


def secret_names(args: VaultIntegrationArgs) -> SecretNames:
    name = args.app.name
    database = f"{name}-database"
    # Without the database engine there is one database user, for both.
    migration_database = f"{name}-migration-database" if args.database else database
    cache = (f"{name}-cache",) if args.cache else ()
    return SecretNames(
        app=(f"{name}-secrets", database, *cache),
        migration=(f"{name}-secrets", migration_database, *cache),
        restart=(database, *cache),
    )


def cache_path(where: policies.Layout) -> str:
    """Each stack's own cache entry: the regions of one environment share the mount."""
    return f"{where.app}/{where.scope}/cache"


def secret_files(args: VaultIntegrationArgs) -> tuple[tuple[str, str], ...]:
    """Secrets the pods read as files: the cache's CA, where clients must trust one."""
    if args.cache is None or args.cache.ca_certificate is None:
        return ()
    return ((f"{args.app.name}-cache-ca", CACHE_CA_DIRECTORY),)


def _vault_args(args: VaultIntegrationArgs, kv_paths: tuple[str, ...]) -> VaultArgs:
    login = args.login
    database = args.database.engine if args.database else None
    return VaultArgs(
        owner=args.owner,
        layout=args.layout,
        kubernetes=KubernetesAuthArgs(
            mount=login.auth_mount,
            host=login.kubernetes_host,
            ca_certificate=login.kubernetes_ca_certificate,
            reviewer_jwt=pulumi.Output.secret(login.reviewer_jwt) if login.reviewer_jwt else None,
            reviewer_jwt_version=_version_of(login.reviewer_jwt),
            audience=login.audience,
            token_ttl_seconds=login.token_ttl_seconds,
            token_max_ttl_seconds=login.token_max_ttl_seconds,
            oidc_issuer=login.oidc_issuer,
        ),
        app=Consumer(service_account=args.app.name, namespace=args.app.namespace),
        external_secrets=Consumer(service_account=SERVICE_ACCOUNT, namespace=ESO_NAMESPACE),
        rotator=Consumer(service_account=ROTATOR_ACCOUNT, namespace=ROTATION_NAMESPACE) if database else None,
        synced_kv_paths=kv_paths,
        database=database,
        audit=AuditArgs(file_path=args.audit_file_path),
        owns_kv_mount=args.owns_kv_mount,
    )


def _version_of(value: str | None) -> int:
    """A write-only value is sent again only when its version changes: a new token in the
    config must give a new version. 31 bits of a SHA-256 tell tokens apart and reveal
    nothing of a high-entropy secret."""
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) >> 1 if value else 1


def _vault_egress(server: VaultServer) -> EgressRule:
    """Where in-cluster clients of Vault may connect: the dev server's pods, or the
    external Vault's port on the internet."""
    if server.mode == "dev":
        return EgressRule(
            name="vault",
            ports=(PORT,),
            namespace=DEV_NAMESPACE,
            pod_labels={"app.kubernetes.io/name": RELEASE},
        )
    parsed = urlparse(server.address)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    # Any address, on Vault's port only: an in-house Vault usually sits in a private range.
    return EgressRule(name="vault", ports=(port,), cidr="0.0.0.0/0")
