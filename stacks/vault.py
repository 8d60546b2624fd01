"""Turns the typed stack config into the arguments of the Vault integration."""

from __future__ import annotations

import pulumi

from components.vault import policies
from components.vault.args import DatabaseEngineArgs
from components.vault.integration import (
    AppIdentity,
    CacheEndpoint,
    DatabaseEndpoint,
    LoginArgs,
    VaultIntegrationArgs,
    VaultServer,
)
from stacks import rotation
from stacks.heal import heal_secrets
from stacks.model import ClusterStack, WorkloadStack
from stacks.workload import cluster_facts, controller_replicas, ownership


def configured_database(config: ClusterStack) -> DatabaseEndpoint | None:
    """A `cluster` stack's database: the one named in `vault.database`, if any."""
    db = config.vault.database
    if db is None or config.database_root_password is None:
        return None
    return DatabaseEndpoint(
        engine=DatabaseEngineArgs(
            host=db.host,
            port=db.port,
            database=db.name,
            ssl_mode=db.ssl_mode,
            root_username=db.root_username,
            root_password=pulumi.Output.secret(config.database_root_password),
            credential_ttl_seconds=db.credential_ttl_seconds,
            credential_max_ttl_seconds=db.credential_max_ttl_seconds,
        ),
        rotation_schedule=db.root_rotation_schedule,
        reader_host=db.reader_host,
    )


def vault_integration_args(
    config: WorkloadStack,
    database: DatabaseEndpoint | None,
    cache: CacheEndpoint | None = None,
    oidc_issuer: pulumi.Input[str] | None = None,
) -> VaultIntegrationArgs:
    """The integration of the stack's cluster with the Vault the config names, for the
    database and cache the stack's platform brings (and its OIDC issuer, on a cloud)."""
    settings, app, stack = config.vault, config.app, pulumi.get_stack()
    return VaultIntegrationArgs(
        owner=ownership(config),
        cluster=cluster_facts(config),
        server=VaultServer(
            mode=settings.mode,
            address=settings.address,
            namespace=settings.namespace,
            openbao_chart_version=settings.openbao_chart_version,
            dev_ingress_host=settings.dev_ingress_host,
            ingress_class=config.ingress.class_name,
        ),
        app=AppIdentity(name=app.name, namespace=app.namespace, image=app.image.reference, run_as_user=app.run_as_user),
        login=LoginArgs(
            auth_mount=settings.auth_mount or f"kubernetes-{stack}",
            audience=settings.audience,
            token_ttl_seconds=settings.token_ttl_seconds,
            token_max_ttl_seconds=settings.token_max_ttl_seconds,
            kubernetes_host=settings.kubernetes_host,
            kubernetes_ca_certificate=settings.kubernetes_ca_certificate,
            reviewer_jwt=config.vault_token_reviewer_jwt,
            oidc_issuer=oidc_issuer,
        ),
        layout=policies.Layout(
            kv_mount=settings.kv_mount or f"project-ai-{config.environment}",
            app=app.name,
            scope=stack,
            database_mount=f"database-{stack}" if database else None,
        ),
        owns_kv_mount=settings.owns_kv_mount,
        refresh_interval=settings.refresh_interval,
        audit_file_path=settings.audit_file_path or f"/vault/audit/{stack}.log",
        external_secrets_chart_version=settings.external_secrets_chart_version,
        reloader_chart_version=settings.reloader_chart_version,
        operator_replicas=controller_replicas(config),
        cli_image=settings.cli_image,
        rotation=rotation.schedule(config.secrets.rotation_days),
        database=database,
        cache=cache,
        monitoring_namespace=config.monitoring.namespace if config.monitoring.enabled else None,
        smoke_test_secret=config.delivery.smoke_test_secret_name if config.delivery.strategy == "blueGreen" else None,
        rollout=config.delivery.strategy != "rolling",
        self_healing=heal_secrets(config, config.self_healing),
    )
