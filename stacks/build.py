"""Entry point of the program: validate the stack's config, then compose its role."""

from __future__ import annotations

from stacks import cluster, edge, region
from stacks.config import load
from stacks.model import ClusterStack, EdgeStack, RegionStack


def main() -> None:
    config = load()
    # Each role composes components; the config's model says which role this stack has.
    if isinstance(config, ClusterStack):
        cluster.build(config)
    elif isinstance(config, RegionStack):
        region.build(config)
    elif isinstance(config, EdgeStack):
        edge.build(config)
