"""A private EKS cluster with managed node groups: the API endpoint on the VPC only,
Secrets envelope-encrypted, every control-plane log on, nodes from a launch template
that requires IMDSv2 and encrypts their gp3 volumes, an ECR repository for the images
and a bastion-free admin host reached through SSM."""

import json

import pulumi
import pulumi_aws as aws

TAGS = {"team": "platform", "cost-center": "cc-2001", "environment": "dev", "service": "eks"}
ACCOUNT = "123456789012"
CIDR = "10.40.0.0/16"


def assume(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


key = aws.kms.Key(
    "eks",
    description="EKS secrets and node volumes",
    enable_key_rotation=True,
    policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    ),
    tags=TAGS,
)

vpc = aws.ec2.Vpc("eks", cidr_block=CIDR, enable_dns_hostnames=True, enable_dns_support=True, tags=TAGS)
aws.ec2.DefaultSecurityGroup("eks-default", vpc_id=vpc.id, tags=TAGS)
subnets = [
    aws.ec2.Subnet(
        f"nodes-{zone}",
        vpc_id=vpc.id,
        cidr_block=f"10.40.{index * 16}.0/20",
        availability_zone=f"eu-west-1{zone}",
        tags={**TAGS, "kubernetes.io/role/internal-elb": "1"},
    )
    for index, zone in enumerate(("a", "b", "c"))
]
flow_logs = aws.cloudwatch.LogGroup("eks-vpc-flow-logs", retention_in_days=14, kms_key_id=key.arn, tags=TAGS)
flow_role = aws.iam.Role("eks-vpc-flow-logs", assume_role_policy=assume("vpc-flow-logs.amazonaws.com"), tags=TAGS)
aws.ec2.FlowLog(
    "eks", vpc_id=vpc.id, traffic_type="ALL", log_destination=flow_logs.arn, iam_role_arn=flow_role.arn, tags=TAGS
)

nodes_group = aws.ec2.SecurityGroup(
    "eks-nodes",
    vpc_id=vpc.id,
    description="EKS nodes",
    ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True}],
    egress=[
        {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [CIDR]},
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "prefix_list_ids": ["pl-6da54004"]},
    ],
    tags=TAGS,
)

control_plane_logs = aws.cloudwatch.LogGroup(
    "eks-control-plane", name="/aws/eks/apps/cluster", retention_in_days=14, kms_key_id=key.arn, tags=TAGS
)
cluster_role = aws.iam.Role("eks-cluster", assume_role_policy=assume("eks.amazonaws.com"), tags=TAGS)
aws.iam.RolePolicyAttachment(
    "eks-cluster", role=cluster_role.name, policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
)
cluster = aws.eks.Cluster(
    "apps",
    name="apps",
    role_arn=cluster_role.arn,
    version="1.33",
    vpc_config={
        "subnet_ids": [s.id for s in subnets],
        "security_group_ids": [nodes_group.id],
        "endpoint_private_access": True,
        "endpoint_public_access": False,
    },
    access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": False},
    encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
    enabled_cluster_log_types=["api", "audit", "authenticator", "controllerManager", "scheduler"],
    tags=TAGS,
    opts=pulumi.ResourceOptions(depends_on=[control_plane_logs]),
)

node_role = aws.iam.Role("eks-nodes", assume_role_policy=assume("ec2.amazonaws.com"), tags=TAGS)
for index, policy in enumerate(
    ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore")
):
    aws.iam.RolePolicyAttachment(
        f"eks-nodes-{index}", role=node_role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}"
    )

template = aws.ec2.LaunchTemplate(
    "eks-nodes",
    metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
    block_device_mappings=[
        {
            "device_name": "/dev/xvda",
            "ebs": {"volume_size": 50, "volume_type": "gp3", "encrypted": "true", "kms_key_id": key.arn},
        }
    ],
    vpc_security_group_ids=[nodes_group.id],
    tag_specifications=[{"resource_type": "instance", "tags": TAGS}, {"resource_type": "volume", "tags": TAGS}],
    tags=TAGS,
)
# Spot workers from two interchangeable types, beside an on-demand pool for when spot is reclaimed.
for pool, capacity in (("system", "ON_DEMAND"), ("steady", "ON_DEMAND"), ("workers", "SPOT")):
    aws.eks.NodeGroup(
        pool,
        cluster_name=cluster.name,
        node_role_arn=node_role.arn,
        subnet_ids=[s.id for s in subnets],
        instance_types=["t3.large", "m6i.large"],
        capacity_type=capacity,
        scaling_config={"desired_size": 2, "min_size": 1, "max_size": 4},
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        labels={"node-role": pool},
        tags=TAGS,
    )

# The VPC CNI's network policy agent: NetworkPolicies are enforced, not just declared.
aws.eks.Addon(
    "vpc-cni",
    cluster_name=cluster.name,
    addon_name="vpc-cni",
    configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
    tags=TAGS,
)

repository = aws.ecr.Repository(
    "apps",
    image_tag_mutability="IMMUTABLE",
    image_scanning_configuration={"scan_on_push": True},
    encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
    tags=TAGS,
)
aws.ecr.LifecyclePolicy(
    "apps",
    repository=repository.name,
    policy=json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 7,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    ),
)

# An admin host without a public address: reached through SSM Session Manager.
admin_profile = aws.iam.InstanceProfile("eks-admin", role=node_role.name, tags=TAGS)
aws.ec2.Instance(
    "eks-admin",
    ami="ami-0abcdef1234567890",
    instance_type="t3.medium",
    subnet_id=subnets[0].id,
    vpc_security_group_ids=[nodes_group.id],
    iam_instance_profile=admin_profile.name,
    associate_public_ip_address=False,
    metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
    root_block_device={"volume_type": "gp3", "volume_size": 20, "encrypted": True, "kms_key_id": key.arn},
    tags=TAGS,
)
aws.ebs.Volume(
    "eks-admin-scratch",
    availability_zone="eu-west-1a",
    size=20,
    type="gp3",
    encrypted=True,
    kms_key_id=key.arn,
    tags=TAGS,
)

aws.budgets.Budget(
    "eks-monthly",
    budget_type="COST",
    limit_amount="600",
    limit_unit="USD",
    time_unit="MONTHLY",
    notifications=[
        {
            "comparison_operator": "GREATER_THAN",
            "threshold": threshold,
            "threshold_type": "PERCENTAGE",
            "notification_type": "FORECASTED",
            "subscriber_email_addresses": ["platform@example.com"],
        }
        for threshold in (80, 100)
    ],
    tags=TAGS,
)
