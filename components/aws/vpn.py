"""ReplicaVpnGateway: the VPN gateway a region's VPC takes Site-to-Site VPN connections
from replicas on another cloud on (prod-gcp's HA VPN, components/gcp/vpn.py), with the
routes it learns over BGP propagated into the private subnets' route tables, so the
database's answers find their way back through the tunnels.

The gateway is the VPC's own; each replica brings its customer gateways and VPN
connections to it (they need the replica's gateway addresses, which only its stack
knows). Who may reach the database through it is the database's security group's
business (components/aws/database.py): its replicas' ranges, on 5432 only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class ReplicaVpnGatewayArgs:
    owner: Ownership
    vpc_id: pulumi.Input[str]
    # The private subnets' route tables (where the database lives).
    route_table_ids: tuple[pulumi.Input[str], ...]
    # The gateway's Amazon-side BGP ASN; each peer's router has another.
    amazon_side_asn: int


class ReplicaVpnGateway(pulumi.ComponentResource):
    gateway: aws.ec2.VpnGateway

    def __init__(self, name: str, args: ReplicaVpnGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:ReplicaVpnGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.gateway = aws.ec2.VpnGateway(
            f"{name}-gateway",
            vpc_id=args.vpc_id,
            amazon_side_asn=str(args.amazon_side_asn),
            tags={**cloud_tags(args.owner, "network"), "Name": name},
            opts=child,
        )
        for index, table in enumerate(args.route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-routes-{index}", vpn_gateway_id=self.gateway.id, route_table_id=table, opts=child
            )
        self.register_outputs({"gatewayId": self.gateway.id, "asn": args.amazon_side_asn})
