"""RedisCache: ElastiCache (Valkey, Redis-compatible) with encryption in transit and at
rest, an AUTH token, Multi-AZ failover when it has replicas, reachable only from the
cluster's nodes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.access import service_access
from components.aws.kms import rotating_key
from components.labels import Ownership, cloud_tags
from components.rotation import RotationSchedule, rotating_password

PORT = 6379


@dataclass(frozen=True)
class CacheArgs:
    owner: Ownership
    identifier: str
    node_type: str
    replicas: int
    subnet_ids: pulumi.Input[list[str]]
    vpc_id: pulumi.Input[str]
    client_security_group_ids: tuple[pulumi.Input[str], ...]
    # When the AUTH token is renewed (components/rotation.py).
    auth_rotation: RotationSchedule
    engine_version: str = "8.0"


class RedisCache(pulumi.ComponentResource):
    group: aws.elasticache.ReplicationGroup
    auth_token: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:RedisCache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "cache")
        key = rotating_key(f"{args.identifier}-cache", "ElastiCache data at rest", tags, self)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", description="Private subnets", subnet_ids=args.subnet_ids, tags=tags, opts=child
        )
        security_group = service_access(name, "Redis", PORT, args.vpc_id, args.client_security_group_ids, tags, self)
        token = rotating_password(f"{name}-auth", args.auth_rotation, child, length=64)
        self.auth_token = pulumi.Output.secret(token.result)
        replicated = args.replicas > 0
        self.group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            replication_group_id=args.identifier,
            description=f"{args.identifier}: rate limits and cache",
            engine="valkey",
            engine_version=args.engine_version,
            node_type=args.node_type,
            num_cache_clusters=args.replicas + 1,
            automatic_failover_enabled=replicated,
            multi_az_enabled=replicated,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            kms_key_id=key.arn,
            auth_token=self.auth_token,
            # ROTATE: the new token is accepted beside the one in use, so pods still on the
            # old URL keep working until Reloader restarts them onto the new one.
            auth_token_update_strategy="ROTATE",
            subnet_group_name=subnets.name,
            security_group_ids=[security_group.id],
            snapshot_retention_limit=1,
            tags=tags,
            opts=child,
        )
        self.register_outputs({"endpoint": self.group.primary_endpoint_address, "port": PORT})
