"""Entry point of the program: validate the stack's config, then compose its role."""

from __future__ import annotations

from stacks import cluster, edge, region
from stacks.config import load

COMPOSITIONS = {"cluster": cluster.build, "region": region.build, "edge": edge.build}


def main() -> None:
    config = load()
    COMPOSITIONS[config.role](config)
