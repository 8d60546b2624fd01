"""The `region` role: a regional cloud platform (AWS or GCP) and its contract.

A secondary region reads its primary's contract: on AWS it joins the primary's Aurora
global database. The workload (AppService, delivery, monitoring, Vault integration) on
the regional cluster is the next step; see the README.
"""

from __future__ import annotations

import pulumi

from stacks import contract
from stacks.config import StackConfig
from stacks.platforms import aws_platform, gcp_platform

PRIMARY = "primary"


def build(config: StackConfig) -> None:
    primary_stack = config.stack_references.get(PRIMARY)
    # An AWS secondary joins the primary's global database, so it must have one.
    needs = (contract.GLOBAL_DATABASE,) if config.cloud == "aws" else ()
    primary = contract.read_region_contract(primary_stack, also_require=needs) if primary_stack else None
    if config.cloud == "aws":
        join = primary[contract.GLOBAL_DATABASE] if primary else None
        platform = aws_platform(config, join_global=join)
    else:
        platform = gcp_platform(config)
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
