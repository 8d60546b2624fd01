"""AwsNetwork: a VPC over three availability zones with public and private subnets, NAT
gateways (one per zone, or one shared), flow logs to CloudWatch with bounded retention,
and the VPC endpoints a private EKS cluster needs."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.kms import log_group_key
from components.labels import Ownership, cloud_tags

# Interface endpoints a cluster with private nodes needs to pull images, get tokens,
# ship logs and scale; S3 (image layers) is a gateway endpoint, free of charge.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs", "ec2", "elasticloadbalancing", "autoscaling")
GATEWAY_ENDPOINTS = ("s3",)
# Subnet tags the AWS Load Balancer Controller and Karpenter look for.
PUBLIC_ELB_TAG = {"kubernetes.io/role/elb": "1"}
PRIVATE_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}


@dataclass(frozen=True)
class AwsNetworkArgs:
    owner: Ownership
    region: str
    cidr: str
    zones: tuple[str, ...]
    # One NAT gateway per zone (a zone outage keeps the others' egress) or one shared.
    nat_per_zone: bool
    flow_log_retention_days: int
    # The cluster whose load balancers may use the subnets (its discovery tag).
    cluster_name: str


def subnet_ranges(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(public, private) CIDRs: private subnets get a quarter of the VPC each (pods take
    VPC addresses under the VPC CNI), public ones a small slice of the last quarter."""
    network = ipaddress.ip_network(cidr)
    quarters = list(network.subnets(prefixlen_diff=2))
    private = [str(quarter) for quarter in quarters[:zones]]
    public = [str(subnet) for subnet in list(quarters[3].subnets(prefixlen_diff=3))[:zones]]
    return public, private


class AwsNetwork(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    nat_gateways: list[aws.ec2.NatGateway]
    # One per zone: a VPN gateway propagates the routes it learns into them.
    private_route_tables: list[aws.ec2.RouteTable]
    endpoint_security_group: aws.ec2.SecurityGroup

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:AwsNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "network")

        def named(suffix: str, extra: dict[str, str] | None = None) -> dict[str, str]:
            return {**tags, "Name": f"{name}-{suffix}", **(extra or {})}

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=named("vpc"),
            opts=child,
        )
        # The default security group admits its own members: strip it of every rule.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, tags=named("default"), opts=child)
        internet = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=named("igw"), opts=child)

        public_ranges, private_ranges = subnet_ranges(args.cidr, len(args.zones))
        discovery = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        self.public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                # Nothing gets a public address unless it asks: load balancers do.
                map_public_ip_on_launch=False,
                tags=named(f"public-{zone}", PUBLIC_ELB_TAG),
                opts=child,
            )
            for zone, cidr in zip(args.zones, public_ranges, strict=True)
        ]
        self.private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=named(f"private-{zone}", {**PRIVATE_ELB_TAG, **discovery}),
                opts=child,
            )
            for zone, cidr in zip(args.zones, private_ranges, strict=True)
        ]

        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=internet.id)],
            tags=named("public"),
            opts=child,
        )
        for zone, subnet in zip(args.zones, self.public_subnets, strict=True):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )

        nat_zones = args.zones if args.nat_per_zone else args.zones[:1]
        self.nat_gateways = []
        for zone, subnet in zip(nat_zones, self.public_subnets, strict=False):
            address = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=named(f"nat-{zone}"), opts=child)
            self.nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{zone}",
                    allocation_id=address.id,
                    subnet_id=subnet.id,
                    tags=named(f"nat-{zone}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[internet]),
                )
            )
        private_tables = []
        for index, (zone, subnet) in enumerate(zip(args.zones, self.private_subnets, strict=True)):
            nat = self.nat_gateways[index if args.nat_per_zone else 0]
            table = aws.ec2.RouteTable(
                f"{name}-private-{zone}-routes",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=named(f"private-{zone}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            private_tables.append(table)
        self.private_route_tables = private_tables

        self._flow_logs(name, args, tags)
        self.endpoint_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            description="HTTPS from the VPC to its interface endpoints",
            vpc_id=self.vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="HTTPS from the VPC",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.cidr],
                )
            ],
            tags=named("endpoints"),
            opts=child,
        )
        for service in INTERFACE_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service.replace('.', '-')}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in self.private_subnets],
                security_group_ids=[self.endpoint_security_group.id],
                tags=named(f"endpoint-{service}"),
                opts=child,
            )
        for service in GATEWAY_ENDPOINTS:
            aws.ec2.VpcEndpoint(
                f"{name}-endpoint-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[table.id for table in private_tables],
                tags=named(f"endpoint-{service}"),
                opts=child,
            )
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "privateSubnetIds": [subnet.id for subnet in self.private_subnets],
                "publicSubnetIds": [subnet.id for subnet in self.public_subnets],
            }
        )

    def _flow_logs(self, name: str, args: AwsNetworkArgs, tags: dict[str, str]) -> None:
        """Every flow of the VPC to CloudWatch Logs, kept a bounded time."""
        child = pulumi.ResourceOptions(parent=self)
        log_group_name = f"/aws/vpc/{name}/flow-logs"
        key = log_group_key(f"{args.cluster_name}-flow-logs", log_group_name, args.region, tags, self)
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=log_group_name,
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = aws.iam.Role(f"{name}-flow-logs", assume_role_policy=json.dumps(trust), tags=tags, opts=child)
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tags,
            opts=child,
        )
