"""Memorystore for Redis: reachable through private service access only, TLS in
transit, AUTH on, RDB snapshots, highly available in prod."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class MemorystoreArgs:
    owner: Ownership
    name: str
    region: str
    memory_gib: int
    high_availability: bool
    network: pulumi.Input[str]
    redis_version: str = "REDIS_7_2"


def memorystore(name: str, args: MemorystoreArgs, opts: pulumi.ResourceOptions) -> gcp.redis.Instance:
    """One resource, so a function: its `opts` carry the provider and what it waits for
    (private service access, through `depends_on`)."""
    return gcp.redis.Instance(
        f"{name}-redis",
        name=args.name,
        region=args.region,
        tier="STANDARD_HA" if args.high_availability else "BASIC",
        memory_size_gb=args.memory_gib,
        redis_version=args.redis_version,
        authorized_network=args.network,
        connect_mode="PRIVATE_SERVICE_ACCESS",
        transit_encryption_mode="SERVER_AUTHENTICATION",
        auth_enabled=True,
        # Snapshots outlive a restart or a lost node (a BASIC instance has no replica).
        persistence_config=gcp.redis.InstancePersistenceConfigArgs(
            persistence_mode="RDB", rdb_snapshot_period="TWELVE_HOURS"
        ),
        labels=cloud_tags(args.owner, "cache"),
        opts=opts,
    )
