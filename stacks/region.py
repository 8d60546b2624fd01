"""The `region` role: a regional cloud platform (AWS or GCP) and its contract.

A secondary region reads its primary's contract: on AWS it joins the primary's Aurora
global database. The API, its delivery, monitoring and Vault integration run on the
region's cluster through a provider built from the cluster's outputs.
"""

from __future__ import annotations

import pulumi

from components.vault.args import DatabaseEngineArgs
from components.vault.integration import CacheEndpoint, DatabaseEndpoint
from stacks import api, contract
from stacks.model import AwsRegionStack, RegionStack, VaultDatabaseConfig
from stacks.platforms import DATABASE, RegionalPlatform, aws_platform, gcp_platform

PRIMARY = "primary"


def build(config: RegionStack) -> None:
    primary_stack = config.stack_references.get(PRIMARY)
    # An AWS secondary joins the primary's global database, so it must have one.
    needs = (contract.GLOBAL_DATABASE,) if isinstance(config, AwsRegionStack) else ()
    primary = contract.read_region_contract(primary_stack, also_require=needs) if primary_stack else None
    platform = aws_platform(config, primary) if isinstance(config, AwsRegionStack) else gcp_platform(config)
    contract.export_region_contract(
        config,
        {
            contract.CLUSTER_NAME: platform.cluster_name,
            contract.DATABASE_WRITER: platform.database_writer,
            contract.DATABASE_READER: platform.database_reader,
            contract.GLOBAL_DATABASE: platform.global_database,
            contract.REGISTRY_URL: platform.registry_url,
            contract.REGISTRY_REPLICAS: platform.registry_replicas,
        },
    )
    if primary is not None:
        pulumi.export("primaryRegion", primary[contract.REGION])
    if primary is not None and primary_stack is not None and isinstance(config, AwsRegionStack):
        primary[contract.REGISTRY_REPLICAS].apply(lambda regions: _replicated(primary_stack, regions, config.region))
    if not config.platform.deploy_workload:
        return
    database = _database(platform)
    cache = CacheEndpoint(url=platform.cache_url, ca_certificate=platform.cache_ca)
    args = api.api_deployment_args(config, database, cache, platform.oidc_issuer)
    deployment = api.deploy(config, args, pulumi.ResourceOptions(providers=[platform.provider]))
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
            credential_ttl_seconds=defaults["credential_ttl_seconds"],
            credential_max_ttl_seconds=defaults["credential_max_ttl_seconds"],
        ),
        rotation_schedule=defaults["root_rotation_schedule"],
        # The region created the database: it creates the group roles too.
        bootstrap=True,
    )
