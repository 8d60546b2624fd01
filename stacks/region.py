"""The `region` role: a regional platform on AWS or GCP.

The cloud platform and the workload on it arrive with the regional-platform issue; for
now a region validates its config and publishes its contract, and a secondary region
proves it can read its primary's.
"""

from __future__ import annotations

import pulumi

from stacks import contract
from stacks.config import StackConfig

PRIMARY = "primary"


def build(config: StackConfig) -> None:
    contract.export_region_contract(config)
    primary = config.stack_references.get(PRIMARY)
    if primary is not None:
        pulumi.export("primaryRegion", contract.read_region_contract(primary)[contract.REGION])
