"""Turns the typed stack config into the Vault integration of a cluster: Vault itself in
dev mode where asked, its configuration, External Secrets with the Secrets the API and
monitoring read, Reloader, and the scheduled root-credential rotation.

The Secrets synced from Vault, by namespace:

| Secret | keys | Vault entry (KV mount unless noted) |
|---|---|---|
| `<app>-secrets` | APP_API_KEY_PEPPER(_PREVIOUS), APP_UPSTREAM_TOKEN | `<app>/pepper` (generated), `<app>/upstream` |
| `<app>-database` | APP_DATABASE_URL | database engine `creds/<app>`, or `<app>/database` url |
| `<app>-migration-database` | APP_DATABASE_URL | database engine `creds/<app>-migrate` |
| smoke-test Secret (blue-green) | api-key | `<app>/smoke-test` api-key |
| `alertmanager-pagerduty`, `-escalation` | routing-key | `monitoring/pagerduty`, `monitoring/pagerduty-escalation` |
| `alertmanager-slack` | webhook-url | `monitoring/slack` |
| `grafana-admin` | admin-user, admin-password | `monitoring/grafana` (generated, rotated) |
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault

from components.charts import NamespaceSetup
from components.delivery.analysis import SMOKE_TEST_KEY
from components.labels import kubernetes_labels, ownership_labels, pod_security_labels
from components.monitoring.alerting import ESCALATION_SECRET, PAGERDUTY_SECRET, SLACK_SECRET
from components.monitoring.stack import GRAFANA_ADMIN_SECRET
from components.network_policies import EgressRule
from components.rotation import rotating_pair, rotating_password
from components.vault import policies, reloader
from components.vault.args import (
    AuditArgs,
    Consumer,
    DatabaseEngineArgs,
    KubernetesAuthArgs,
    VaultArgs,
)
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
from stacks import rotation
from stacks.config import StackConfig
from stacks.workload import cluster_facts, ownership

DEV_NAMESPACE = "vault"
ROTATION_NAMESPACE = "vault-rotation"
ROTATOR_ACCOUNT = "vault-root-rotator"
ESO_NAMESPACE = "external-secrets"
REVIEWER = "vault-token-reviewer"
REVIEWER_NAMESPACE = "vault-auth"


@dataclass(frozen=True)
class SecretNames:
    """The Secrets the API's pods read as files: the API's, and the migration Job's (its
    own database user's in place of the runtime one)."""

    app: tuple[str, ...]
    migration: tuple[str, ...]
    # Those whose change needs new connections (database, cache): Reloader restarts the
    # pods. The app re-reads the others' files itself (pepper, upstream token).
    restart: tuple[str, ...]


@dataclass(frozen=True)
class DatabaseEndpoint:
    """The app's PostgreSQL as Vault's database engine reaches it, and its first root
    credential (from the stack's secret config, or generated with the database)."""

    host: pulumi.Input[str]
    port: int
    name: str
    ssl_mode: str
    root_username: str
    root_password: pulumi.Input[str]
    credential_ttl_seconds: int
    credential_max_ttl_seconds: int
    rotation_schedule: str
    # Create the group roles from the cluster before any user is issued (a database
    # the stack itself created); otherwise an administrator ran the bootstrap.
    bootstrap: bool = False


@dataclass(frozen=True)
class CacheEndpoint:
    """The app's Redis: its URL (with the AUTH token) goes into Vault, and reaches the
    pods as APP_REDIS_URL through External Secrets; a server CA the clients must trust
    (Memorystore's) reaches them as a file the URL names."""

    url: pulumi.Input[str]
    ca_certificate: pulumi.Input[str] | None = None


CACHE_CA_DIRECTORY = "/etc/project-ai/redis-ca"


@dataclass(frozen=True)
class ClusterSide:
    """What the cluster the workload runs on brings: its database and cache, and (for a
    cloud cluster) the OIDC issuer Vault verifies ServiceAccount tokens with."""

    database: DatabaseEndpoint | None = None
    cache: CacheEndpoint | None = None
    oidc_issuer: pulumi.Input[str] | None = None


def configured_side(config: StackConfig) -> ClusterSide:
    """A `cluster` stack's side: the database named in `vault.database`, if any."""
    assert config.vault is not None
    db = config.vault.database
    if db is None:
        return ClusterSide()
    assert config.database_root_password is not None, "validated by StackConfig"
    return ClusterSide(
        database=DatabaseEndpoint(
            host=db.host,
            port=db.port,
            name=db.name,
            ssl_mode=db.ssl_mode,
            root_username=db.root_username,
            root_password=pulumi.Output.secret(config.database_root_password),
            credential_ttl_seconds=db.credential_ttl_seconds,
            credential_max_ttl_seconds=db.credential_max_ttl_seconds,
            rotation_schedule=db.root_rotation_schedule,
        )
    )


def layout(config: StackConfig, side: ClusterSide) -> policies.Layout:
    assert config.vault is not None and config.app is not None, "validated by StackConfig for this role"
    return policies.Layout(
        kv_mount=config.vault.kv_mount or f"project-ai-{config.environment}",
        app=config.app.name,
        scope=pulumi.get_stack(),
        database_mount=f"database-{pulumi.get_stack()}" if side.database else None,
    )


def auth_mount(config: StackConfig) -> str:
    assert config.vault is not None
    return config.vault.auth_mount or f"kubernetes-{pulumi.get_stack()}"


def synced_secrets(config: StackConfig, where: policies.Layout, side: ClusterSide) -> list[SyncedSecret]:
    """Every Secret External Secrets writes for this stack, from the table above."""
    assert config.vault is not None and config.app is not None
    app, refresh = config.app, config.vault.refresh_interval
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
    if side.database:
        db = side.database
        # ESO's template reads `{{ .username }}`; the braces are doubled for format().
        url = pulumi.Output.format(
            "postgresql+psycopg://{{{{ .username }}}}:{{{{ .password | urlquery }}}}@{0}:{1}/{2}?sslmode={3}",
            db.host,
            db.port,
            db.name,
            db.ssl_mode,
        )
        users = {f"{app.name}-database": where.runtime_role, f"{app.name}-migration-database": where.migration_role}
        for secret, role in users.items():
            template = {"APP_DATABASE_URL": url}
            extract = f"creds/{role}"
            secrets.append(SyncedSecret(secret, app.namespace, database, refresh, extract=extract, template=template))
    else:
        url_entry = ("APP_DATABASE_URL", f"{where.app}/database", "url")
        secrets.append(kv_secret(f"{app.name}-database", app.namespace, url_entry))
    if side.cache:
        cache_entry = ("APP_REDIS_URL", cache_path(where), "url")
        secrets.append(kv_secret(f"{app.name}-cache", app.namespace, cache_entry))
        if side.cache.ca_certificate is not None:
            ca_entry = ("ca.pem", cache_path(where), "ca")
            secrets.append(kv_secret(f"{app.name}-cache-ca", app.namespace, ca_entry))
    if config.delivery.strategy == "blueGreen":
        key_entry = (SMOKE_TEST_KEY, f"{where.app}/smoke-test", "api-key")
        secrets.append(kv_secret(config.delivery.smoke_test_secret_name, app.namespace, key_entry))
    if config.monitoring.enabled:
        namespace, folder = config.monitoring.namespace, where.monitoring
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
    return secrets


def secret_names(config: StackConfig, side: ClusterSide) -> SecretNames:
    assert config.app is not None
    name = config.app.name
    database = f"{name}-database"
    # Without the database engine there is one database user, for both.
    migration_database = f"{name}-migration-database" if side.database else database
    cache = (f"{name}-cache",) if side.cache else ()
    return SecretNames(
        app=(f"{name}-secrets", database, *cache),
        migration=(f"{name}-secrets", migration_database, *cache),
        restart=(database, *cache),
    )


def cache_path(where: policies.Layout) -> str:
    """Each stack's own cache entry: the regions of one environment share the mount."""
    return f"{where.app}/{where.scope}/cache"


def secret_files(config: StackConfig, side: ClusterSide) -> tuple[tuple[str, str], ...]:
    """Secrets the pods read as files: the cache's CA, where clients must trust one."""
    assert config.app is not None
    if side.cache is None or side.cache.ca_certificate is None:
        return ()
    return ((f"{config.app.name}-cache-ca", CACHE_CA_DIRECTORY),)


def workload_annotations(config: StackConfig, side: ClusterSide) -> dict[str, str]:
    watched = (*secret_names(config, side).restart, *(secret for secret, _ in secret_files(config, side)))
    return reloader.annotations(watched, rollout=config.delivery.strategy != "rolling")


def vault_args(config: StackConfig, where: policies.Layout, kv_paths: tuple[str, ...], side: ClusterSide) -> VaultArgs:
    assert config.vault is not None and config.app is not None
    settings = config.vault
    database = None
    if side.database:
        db = side.database
        database = DatabaseEngineArgs(
            host=db.host,
            port=db.port,
            database=db.name,
            ssl_mode=db.ssl_mode,
            root_username=db.root_username,
            root_password=db.root_password,
            credential_ttl_seconds=db.credential_ttl_seconds,
            credential_max_ttl_seconds=db.credential_max_ttl_seconds,
        )
    return VaultArgs(
        owner=ownership(config),
        layout=where,
        kubernetes=KubernetesAuthArgs(
            mount=auth_mount(config),
            host=settings.kubernetes_host,
            ca_certificate=settings.kubernetes_ca_certificate,
            reviewer_jwt=pulumi.Output.secret(config.vault_token_reviewer_jwt)
            if config.vault_token_reviewer_jwt
            else None,
            reviewer_jwt_version=_version_of(config.vault_token_reviewer_jwt),
            audience=settings.audience,
            token_ttl_seconds=settings.token_ttl_seconds,
            token_max_ttl_seconds=settings.token_max_ttl_seconds,
            oidc_issuer=side.oidc_issuer,
        ),
        app=Consumer(service_account=config.app.name, namespace=config.app.namespace),
        external_secrets=Consumer(service_account=SERVICE_ACCOUNT, namespace=ESO_NAMESPACE),
        rotator=Consumer(service_account=ROTATOR_ACCOUNT, namespace=ROTATION_NAMESPACE) if database else None,
        synced_kv_paths=kv_paths,
        database=database,
        audit=AuditArgs(file_path=settings.audit_file_path or f"/vault/audit/{pulumi.get_stack()}.log"),
        owns_kv_mount=settings.owns_kv_mount,
    )


def _version_of(value: str | None) -> int:
    """A write-only value is sent again only when its version changes: a new token in the
    config must give a new version. 31 bits of a SHA-256 tell tokens apart and reveal
    nothing of a high-entropy secret."""
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) >> 1 if value else 1


def _vault_egress(config: StackConfig, address: str) -> EgressRule:
    """Where in-cluster clients of Vault may connect: the dev server's pods, or the
    external Vault's port on the internet."""
    assert config.vault is not None
    if config.vault.mode == "dev":
        return EgressRule(
            name="vault",
            ports=(PORT,),
            namespace=DEV_NAMESPACE,
            pod_labels={"app.kubernetes.io/name": RELEASE},
        )
    parsed = urlparse(address)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    # Any address, on Vault's port only: an in-house Vault usually sits in a private range.
    return EgressRule(name="vault", ports=(port,), cidr="0.0.0.0/0")


def integrate(config: StackConfig, on_cluster: pulumi.ResourceOptions, side: ClusterSide) -> SyncedSecrets:
    """Installs and configures Vault, External Secrets, Reloader and the rotation job.
    Returns the synced Secrets, for the API and monitoring to create in their namespaces."""
    assert config.vault is not None and config.app is not None and config.ingress is not None
    settings = config.vault
    owner = ownership(config)
    where = layout(config, side)
    secrets = synced_secrets(config, where, side)
    from_kv = (secret for secret in secrets if secret.store == ExternalSecretsOperator.KV_STORE)
    kv_paths = tuple(entry.vault_path for secret in from_kv for entry in secret.entries)

    dev: DevVault | None = None
    if settings.mode == "dev":
        assert settings.dev_ingress_host is not None
        dev = DevVault(
            "vault-dev",
            DevVaultArgs(
                owner=owner,
                chart_version=settings.openbao_chart_version,
                ingress_host=settings.dev_ingress_host,
                ingress_class=config.ingress.class_name,
                namespace=DEV_NAMESPACE,
                cluster=cluster_facts(config),
                client_namespaces=(ESO_NAMESPACE, ROTATION_NAMESPACE, config.ingress.controller_namespace),
            ),
            on_cluster,
        )
        # The provider checks its token as soon as it is configured: only once the server runs.
        ready_address = dev.release.status.apply(lambda _: dev.address)
        provider = vault.Provider("vault", address=ready_address, token=dev.root_token)
        address, cluster_address = dev.address, dev.cluster_address
    else:
        assert settings.address is not None
        # The token comes from VAULT_TOKEN (or a login method) in the deployer's environment.
        provider = vault.Provider("vault", address=settings.address, namespace=settings.namespace)
        address = cluster_address = settings.address
    on_vault = pulumi.ResourceOptions(provider=provider, depends_on=[dev.release] if dev else [])
    configuration = VaultConfiguration("vault", vault_args(config, where, kv_paths, side), on_vault)
    generated = _generated_values(config, where, configuration) if settings.owns_kv_mount else {}
    if dev:
        _seed_dev_values(secrets, configuration, where.kv_mount, skip=frozenset(generated))
    if side.cache:
        # The URL holds the AUTH token: it reaches the pods only through Vault.
        entry: dict[str, pulumi.Input[str]] = {"url": side.cache.url}
        if side.cache.ca_certificate is not None:
            # redis-py takes the CA file from the URL's `ssl_ca_certs`.
            ca_path = f"{CACHE_CA_DIRECTORY}/ca.pem"
            separator = pulumi.Output.from_input(side.cache.url).apply(lambda url: "&" if "?" in url else "?")
            url = pulumi.Output.concat(side.cache.url, separator, "ssl_ca_certs=", ca_path)
            entry = {"url": url, "ca": side.cache.ca_certificate}
        vault.kv.SecretV2(
            "vault-cache-url",
            mount=where.kv_mount,
            name=cache_path(where),
            data_json=pulumi.Output.secret(pulumi.Output.json_dumps(entry)),
            opts=pulumi.ResourceOptions(parent=configuration, depends_on=_mount_of(configuration)),
        )

    if settings.kubernetes_host and side.oidc_issuer is None:
        _token_reviewer(config, on_cluster)

    operator = ExternalSecretsOperator(
        "external-secrets",
        ExternalSecretsArgs(
            owner=owner,
            chart_version=settings.external_secrets_chart_version,
            namespace=ESO_NAMESPACE,
            replicas=2 if config.environment == "prod" else 1,
            cluster=cluster_facts(config),
            vault_egress=_vault_egress(config, address),
            stores=StoreArgs(
                vault_address=cluster_address,
                vault_namespace=settings.namespace,
                auth_mount=auth_mount(config),
                role=where.name("external-secrets"),
                audience=settings.audience,
                kv_mount=where.kv_mount,
                database_mount=where.database_mount,
                namespaces=tuple(sorted({secret.namespace for secret in secrets})),
                database_namespace=config.app.namespace,
                auth_method="jwt" if side.oidc_issuer is not None else "kubernetes",
            ),
        ),
        pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[configuration])),
    )
    Reloader(
        "reloader",
        ReloaderArgs(
            owner=owner,
            chart_version=settings.reloader_chart_version,
            watched_namespaces=(config.app.namespace, config.monitoring.namespace)
            if config.monitoring.enabled
            else (config.app.namespace,),
            cluster=cluster_facts(config),
        ),
        on_cluster,
    )
    if side.database and where.database_mount:
        RootRotation(
            "vault-root-rotation",
            RootRotationArgs(
                owner=owner,
                image=settings.cli_image,
                vault_address=cluster_address,
                vault_namespace=settings.namespace,
                auth_mount=auth_mount(config),
                role=where.name("root-rotator"),
                audience=settings.audience,
                database_mount=where.database_mount,
                connection=where.database_connection,
                schedule=side.database.rotation_schedule,
                vault_egress=_vault_egress(config, address),
                kubernetes_version=config.kubernetes.version,
                namespace=ROTATION_NAMESPACE,
                service_account=ROTATOR_ACCOUNT,
            ),
            pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[configuration])),
        )
    pulumi.export("vault", {"address": address, "kvMount": where.kv_mount, "authMount": auth_mount(config)})
    return SyncedSecrets(config, secrets, operator, on_cluster, side)


class SyncedSecrets:
    """Creates each namespace's ExternalSecrets once that namespace exists, for the
    component that owns the namespace to wait on before its pods start."""

    def __init__(
        self,
        config: StackConfig,
        secrets: list[SyncedSecret],
        operator: ExternalSecretsOperator,
        on_cluster: pulumi.ResourceOptions,
        side: ClusterSide,
    ) -> None:
        self._config = config
        self._secrets = secrets
        self._operator = operator
        self._on_cluster = on_cluster
        self._side = side
        self._labels = kubernetes_labels(
            ownership(config), name="project-ai-secrets", instance="vault", component="secrets"
        )

    def setup(self, namespace: str) -> NamespaceSetup:
        def create(created: k8s.core.v1.Namespace) -> list[pulumi.Resource]:
            opts = pulumi.ResourceOptions.merge(
                self._on_cluster,
                pulumi.ResourceOptions(parent=self._operator, depends_on=[created, *self._operator.stores.values()]),
            )
            bootstrap = self._bootstrap(namespace, created)
            return [
                external_secret(
                    f"secret-{secret.namespace}-{secret.name}",
                    secret,
                    self._labels,
                    # Users of the database engine join group roles the bootstrap creates.
                    pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=bootstrap))
                    if secret.store == ExternalSecretsOperator.DATABASE_STORE
                    else opts,
                )
                for secret in self._secrets
                if secret.namespace == namespace
            ]

        return create

    def _bootstrap(self, namespace: str, created: k8s.core.v1.Namespace) -> list[pulumi.Resource]:
        config, database = self._config, self._side.database
        if database is None or not database.bootstrap or config.app is None or namespace != config.app.namespace:
            return []
        url = pulumi.Output.format(
            "postgresql://{0}:{1}@{2}:{3}/{4}?sslmode={5}",
            database.root_username,
            database.root_password,
            database.host,
            database.port,
            database.name,
            database.ssl_mode,
        )
        labels = {
            **ownership_labels(ownership(config)),
            # The API's family: its egress policies (DNS, the database) apply.
            "app.kubernetes.io/name": config.app.name,
            "app.kubernetes.io/component": "database-bootstrap",
        }
        statements = GroupRoles().bootstrap(database.name, database.root_username, create_vault_user=False)
        job = database_bootstrap(
            "database-bootstrap",
            BootstrapArgs(
                namespace=namespace,
                image=config.app.image.reference,
                labels=labels,
                url=url,
                statements=tuple(statements),
                run_as_user=config.app.run_as_user,
            ),
            pulumi.ResourceOptions.merge(
                self._on_cluster, pulumi.ResourceOptions(parent=self._operator, depends_on=[created])
            ),
        )
        return [job]


def _generated_values(
    config: StackConfig, where: policies.Layout, configuration: VaultConfiguration
) -> dict[str, vault.kv.SecretV2]:
    """The KV entries this program generates and renews on the stack's schedule
    (components/rotation.py), by path: the API-key pepper with its predecessor, which
    the app accepts for one more period, and the Grafana admin password. Written by the
    stack that owns the environment's mount, read by every region of it."""
    schedule = rotation.schedule(config.secrets.rotation_days)
    child = pulumi.ResourceOptions(parent=configuration)
    current, previous = rotating_pair("vault-pepper", schedule, child)
    values: dict[str, dict[str, pulumi.Input[str]]] = {f"{where.app}/pepper": {"value": current, "previous": previous}}
    if config.monitoring.enabled:
        # Grafana reads it at start: without persistence, every start sets it afresh.
        password = rotating_password("vault-grafana-admin", schedule, child).result
        values[f"{where.monitoring}/grafana"] = {"admin-user": "admin", "admin-password": password}
    return {
        path: vault.kv.SecretV2(
            f"vault-generated-{path}",
            mount=where.kv_mount,
            name=path,
            data_json=pulumi.Output.secret(pulumi.Output.json_dumps(data)),
            opts=pulumi.ResourceOptions(parent=configuration, depends_on=_mount_of(configuration)),
        )
        for path, data in values.items()
    }


def _seed_dev_values(
    secrets: list[SyncedSecret], configuration: VaultConfiguration, mount: str, skip: frozenset[str]
) -> None:
    """A dev server starts empty: give every synced KV entry a random value, so that the
    Secrets sync and the pods start. Overwrite them in Vault to use real ones; Pulumi
    leaves the values alone after the first write. Entries the program generates
    (`skip`) have values already."""
    properties: dict[str, list[str]] = {}
    for secret in secrets:
        for entry in secret.entries:
            if entry.vault_path not in skip:
                properties.setdefault(entry.vault_path, []).append(entry.vault_property)
    for path, names in properties.items():
        child = pulumi.ResourceOptions(parent=configuration)
        values = {
            name: random.RandomPassword(f"vault-dev-{path}-{name}", length=32, special=False, opts=child).result
            for name in names
        }
        vault.kv.SecretV2(
            f"vault-dev-{path}",
            mount=mount,
            name=path,
            data_json=pulumi.Output.secret(pulumi.Output.json_dumps(values)),
            opts=pulumi.ResourceOptions(
                parent=configuration, depends_on=_mount_of(configuration), ignore_changes=["dataJson"]
            ),
        )


def _mount_of(configuration: VaultConfiguration) -> list[pulumi.Resource]:
    """Entries wait for the KV mount where this stack creates it."""
    return [configuration.kv] if configuration.kv is not None else []


def _token_reviewer(config: StackConfig, on_cluster: pulumi.ResourceOptions) -> None:
    """The identity a Vault outside the cluster reviews logins with: allowed TokenReviews
    (system:auth-delegator) and nothing else. Its token is the operator's to create."""
    labels = kubernetes_labels(ownership(config), name=REVIEWER, instance="vault", component="secrets")
    namespace = k8s.core.v1.Namespace(
        REVIEWER_NAMESPACE,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=REVIEWER_NAMESPACE, labels={**labels, **pod_security_labels(config.kubernetes.version)}
        ),
        opts=on_cluster,
    )
    in_namespace = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[namespace]))
    k8s.core.v1.ServiceAccount(
        REVIEWER,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=REVIEWER, namespace=REVIEWER_NAMESPACE, labels=labels),
        automount_service_account_token=False,
        opts=in_namespace,
    )
    k8s.rbac.v1.ClusterRoleBinding(
        REVIEWER,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=REVIEWER, labels=labels),
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="system:auth-delegator"
        ),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=REVIEWER, namespace=REVIEWER_NAMESPACE)],
        opts=in_namespace,
    )
