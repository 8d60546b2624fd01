"""The security group in front of a data service: one port, from the cluster's nodes
(by security group) and from the listed CIDRs only."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def service_access(
    name: str,
    service: str,
    port: int,
    vpc_id: pulumi.Input[str],
    client_groups: tuple[pulumi.Input[str], ...],
    tags: dict[str, str],
    parent: pulumi.Resource,
    cidrs: dict[str, tuple[str, ...]] | None = None,
) -> aws.ec2.SecurityGroup:
    """`cidrs`: who else may connect, by purpose (e.g. {"Vault's database engine": (...)})."""
    rules = [
        aws.ec2.SecurityGroupIngressArgs(
            description=f"{service} from the cluster",
            protocol="tcp",
            from_port=port,
            to_port=port,
            security_groups=list(client_groups),
        ),
        *(
            aws.ec2.SecurityGroupIngressArgs(
                description=f"{service} from {purpose}",
                protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_blocks=list(ranges),
            )
            for purpose, ranges in (cidrs or {}).items()
            if ranges
        ),
    ]
    return aws.ec2.SecurityGroup(
        f"{name}-clients",
        description=f"{service} from the cluster's nodes only",
        vpc_id=vpc_id,
        ingress=rules,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
