"""The `edge` role: Cloudflare in front of every production region.

Load-balancer pools, steering and WAF arrive with the edge issue; for now the edge reads
each origin region's contract, so a missing region or output fails here first.
"""

from __future__ import annotations

import pulumi

from stacks import contract
from stacks.model import EdgeStack


def build(config: EdgeStack) -> None:
    origins = [{"stack": stack, **contract.read_region_contract(stack)} for stack in config.edge.origins]
    pulumi.export("hostname", config.edge.hostname)
    pulumi.export("origins", origins)
