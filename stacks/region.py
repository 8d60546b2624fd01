"""The `region` role: a regional cloud platform (AWS or GCP) and its contract.

A secondary region reads its primary's contract: on AWS it joins the primary's Aurora
global database. The API, its delivery, monitoring and Vault integration run on the
region's cluster through a provider built from the cluster's outputs.
"""

from __future__ import annotations

import pulumi

from stacks import contract, vault
from stacks.cluster import deploy
from stacks.config import StackConfig
from stacks.model import VaultDatabaseConfig
from stacks.platforms import DATABASE, RegionalPlatform, aws_platform, gcp_platform

PRIMARY = "primary"


def build(config: StackConfig) -> None:
    primary_stack = config.stack_references.get(PRIMARY)
    # An AWS secondary joins the primary's global database, so it must have one.
    needs = (contract.GLOBAL_DATABASE,) if config.cloud == "aws" else ()
    primary = contract.read_region_contract(primary_stack, also_require=needs) if primary_stack else None
    platform = aws_platform(config, primary) if config.cloud == "aws" else gcp_platform(config)
    contract.export_region_contract(
        config,
        {
            contract.CLUSTER_NAME: platform.cluster_name,
            contract.DATABASE_WRITER: platform.database_writer,
            contract.DATABASE_READER: platform.database_reader,
            contract.GLOBAL_DATABASE: platform.global_database,
            contract.REGISTRY_URL: platform.registry_url,
        },
    )
    if primary is not None:
        pulumi.export("primaryRegion", primary[contract.REGION])
    assert config.platform is not None
    if not config.platform.deploy_workload:
        return
    side = vault.ClusterSide(
        database=_database(config, platform),
        cache=vault.CacheEndpoint(url=platform.cache_url, ca_certificate=platform.cache_ca),
        oidc_issuer=platform.oidc_issuer,
    )
    api = deploy(config, pulumi.ResourceOptions(providers=[platform.provider]), side)
    pulumi.export("namespace", api.namespace.metadata.name)
    pulumi.export("url", api.url)
    if side.database is not None:
        # For the one-time bootstrap of the group roles (README), right after the first
        # `pulumi up`; rotating the root in Vault afterwards makes this copy useless.
        pulumi.export(
            "databaseBootstrap",
            pulumi.Output.secret(
                {
                    "host": side.database.host,
                    "user": side.database.root_username,
                    "password": side.database.root_password,
                }
            ),
        )


def _database(config: StackConfig, platform: RegionalPlatform) -> vault.DatabaseEndpoint | None:
    """The region's own database, for Vault's database engine to issue users on. A
    secondary's database is a read-only replica: its app reads its URL from the KV
    mount instead (the deployer points it at the primary's writer)."""
    if platform.database_root is None:
        return None
    username, password = platform.database_root
    # The same lifetimes and rotation schedule a `cluster` stack's vault.database defaults to.
    defaults = {name: field.default for name, field in VaultDatabaseConfig.model_fields.items()}
    return vault.DatabaseEndpoint(
        host=platform.database_writer,
        port=5432,
        name=DATABASE,
        # Aurora and Cloud SQL refuse plaintext; `require` encrypts without a CA bundle.
        ssl_mode="require",
        root_username=username,
        root_password=password,
        credential_ttl_seconds=defaults["credential_ttl_seconds"],
        credential_max_ttl_seconds=defaults["credential_max_ttl_seconds"],
        rotation_schedule=defaults["root_rotation_schedule"],
        # The region created the database: it creates the group roles too.
        bootstrap=True,
    )
