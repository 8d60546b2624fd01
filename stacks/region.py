"""The `region` role: a regional cloud platform (AWS or GCP) and its contract.

A secondary region reads its primary's contract: on AWS it joins the primary's Aurora
global database; on GCP, with `platform.replication`, it replicates the primary's
database into a standby over an HA VPN to the primary's VPC, and once that standby is
promoted (`disasterRecovery.standbyPromoted`), serves from it. The API, its delivery,
monitoring and Vault integration run on the region's cluster through a provider built
from the cluster's outputs.
"""

from __future__ import annotations

import pulumi

from components.gcp.replication import DatabaseReplication
from components.vault.args import DatabaseEngineArgs
from components.vault.integration import CacheEndpoint, DatabaseEndpoint
from stacks import api, contract, janitor
from stacks.model import PRIMARY, AwsRegionStack, GcpRegionStack, RegionStack, VaultDatabaseConfig
from stacks.platforms import DATABASE, RegionalPlatform, aws_platform, gcp_platform


def build(config: RegionStack) -> None:
    primary_stack = config.stack_references.get(PRIMARY)
    primary = contract.read_region_contract(primary_stack, also_require=_needs(config)) if primary_stack else None
    aws = isinstance(config, AwsRegionStack)
    platform = aws_platform(config, primary) if aws else gcp_platform(config, primary)  # type: ignore[arg-type]
    contract.export_region_contract(
        config,
        {
            contract.CLUSTER_NAME: platform.cluster_name,
            contract.DATABASE_WRITER: platform.database_writer,
            contract.DATABASE_READER: platform.database_reader,
            contract.GLOBAL_DATABASE: platform.global_database,
            contract.REGISTRY_URL: platform.registry_url,
            contract.REGISTRY_REPLICAS: platform.registry_replicas,
            contract.ACCOUNT_ID: platform.account_id,
            contract.VPN_GATEWAY: platform.vpn_gateway,
            contract.VPN_GATEWAY_ASN: platform.vpn_gateway_asn,
            contract.REPLICATION_CIDRS: platform.replication_cidrs,
        },
    )
    if primary is not None:
        pulumi.export("primaryRegion", primary[contract.REGION])
    if primary is not None and primary_stack is not None and isinstance(config, AwsRegionStack):
        primary[contract.REGISTRY_REPLICAS].apply(lambda regions: _replicated(primary_stack, regions, config.region))
    if primary is not None and primary_stack is not None and isinstance(config, GcpRegionStack):
        standby = config.platform.private_services_cidr
        if platform.replication is not None:
            primary[contract.REPLICATION_CIDRS].apply(lambda cidrs: _admitted(primary_stack, cidrs, standby))
            _export_replication(platform.replication, primary[contract.DATABASE_WRITER])
    if not config.platform.deploy_workload:
        # The region's unused resources, found (and, where it applies, deleted) on a schedule.
        janitor.deploy(config, platform)
        return
    database = _database(platform)
    cache = CacheEndpoint(url=platform.cache_url, ca_certificate=platform.cache_ca)
    # A secondary's app reaches databases its Vault engine does not name (the URL in the
    # KV store points at the primary's writer; its reads at the local cluster): the mesh
    # must declare them, or REGISTRY_ONLY cuts the app off.
    unmanaged = ()
    if database is None and primary is not None:
        local = tuple(host for host in (platform.database_writer, platform.regional_reader) if host is not None)
        unmanaged = (primary[contract.DATABASE_WRITER], *local)
    args = api.api_deployment_args(config, database, cache, platform.oidc_issuer, unmanaged)
    deployment = api.deploy(config, args, pulumi.ResourceOptions(providers=[platform.provider]))
    # The region's unused resources, found (and, where it applies, deleted) on a schedule;
    # after the mesh, whose policies its namespace then carries.
    janitor.deploy(config, platform, deployment.mesh)
    if deployment.origin is not None:
        # The edge stack owns the regional hostname's (proxied) record: it points it here.
        pulumi.export(contract.INGRESS_ADDRESS, deployment.origin.address)
    if database is not None:
        # For the one-time bootstrap of the group roles (README), right after the first
        # `pulumi up`; rotating the root in Vault afterwards makes this copy useless.
        pulumi.export(
            "databaseBootstrap",
            pulumi.Output.secret(
                {
                    "host": database.engine.host,
                    "user": database.engine.root_username,
                    "password": database.engine.root_password,
                }
            ),
        )


def _needs(config: RegionStack) -> tuple[str, ...]:
    """What a secondary requires of its primary's contract, beyond every region's keys."""
    if isinstance(config, AwsRegionStack):
        # An AWS secondary joins the primary's global database, so it must have one.
        return (contract.GLOBAL_DATABASE,)
    if isinstance(config, GcpRegionStack) and config.replicates:
        return contract.CROSS_CLOUD_SOURCE_KEYS
    return ()


def _admitted(primary: str, cidrs: list[str] | None, standby: str) -> None:
    """The primary's database admits a cross-cloud replica from the ranges its stack
    lists: this region's standby's must be one, or the replication never connects."""
    if cidrs is not None and standby not in cidrs:
        pulumi.log.warn(
            f"the primary stack '{primary}' does not admit this region's replication standby: add '{standby}' to "
            f"projectai:platform.crossCloudReplicas.cidrs in Pulumi.{primary}.yaml, or the migration job cannot connect"
        )


def _export_replication(replication: DatabaseReplication, source: pulumi.Output[str]) -> None:
    """Where the replication runs (for `ops dr`), and, as a secret, what the primary's
    administrator needs once to let it in (README, Disaster recovery)."""
    pulumi.export(
        "replication",
        {"migrationJob": pulumi.Output.unsecret(replication.job.name), "standbyAddress": replication.standby_address},
    )
    pulumi.export(
        "replicationBootstrap",
        pulumi.Output.secret(
            {
                "sourceHost": source,
                "sourceUser": replication.source_username,
                "sourcePassword": replication.source_password,
                "standbyRootPassword": replication.standby_root_password,
            }
        ),
    )


def _replicated(primary: str, regions: list[str] | None, region: str) -> None:
    """A secondary pulls the API's images from its region's replica of the primary's
    registry: the primary's stack must list the region, or the pods never start. A
    primary last deployed before it exported the list is not checked."""
    if regions is not None and region not in regions:
        pulumi.log.warn(
            f"the primary stack '{primary}' does not replicate its registry to {region}: add '{region}' to "
            f"projectai:platform.registryReplicas in Pulumi.{primary}.yaml, or this region's pods cannot pull the API"
        )


def _database(platform: RegionalPlatform) -> DatabaseEndpoint | None:
    """The region's own database, for Vault's database engine to issue users on. A
    secondary's database is a read-only replica: its app reads its URL from the KV
    mount instead (the deployer points it at the primary's writer)."""
    if platform.database_root is None:
        return None
    username, password = platform.database_root
    # The same lifetimes and rotation schedule a `cluster` stack's vault.database defaults to.
    defaults = {name: field.default for name, field in VaultDatabaseConfig.model_fields.items()}
    return DatabaseEndpoint(
        engine=DatabaseEngineArgs(
            host=platform.database_writer,
            port=5432,
            database=DATABASE,
            # Aurora and Cloud SQL refuse plaintext; `require` encrypts without a CA bundle.
            ssl_mode="require",
            root_username=username,
            root_password=password,
            root_password_version=platform.database_root_version,
            credential_ttl_seconds=defaults["credential_ttl_seconds"],
            credential_max_ttl_seconds=defaults["credential_max_ttl_seconds"],
        ),
        # The app's reads that tolerate lag go to the region's replicas (APP_DATABASE_READ_URL).
        reader_host=platform.regional_reader,
        rotation_schedule=defaults["root_rotation_schedule"],
        # The region created the database: it creates the group roles too, and takes over
        # the objects a copy left to another role (a promoted standby's).
        bootstrap=True,
        adopt_objects_of=platform.database_objects_owner,
    )
