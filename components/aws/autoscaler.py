"""ClusterAutoscaler: the upstream cluster-autoscaler chart for EKS managed node groups,
with its AWS permissions through EKS Pod Identity, limited to this cluster's groups.

Cluster-autoscaler rather than Karpenter: the node groups are managed node groups with
fixed instance types per environment (what the cost pack allows), which the autoscaler
scales directly through their Auto Scaling groups. Karpenter would replace them with its
own provisioning and its own instance choice, a larger change for no gain at this size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import charts
from components.aws.eks import POD_IDENTITY_TRUST
from components.labels import Ownership, cloud_tags

CHART_REPOSITORY = "https://kubernetes.github.io/autoscaler"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "cluster-autoscaler"


@dataclass(frozen=True)
class ClusterAutoscalerArgs:
    owner: Ownership
    cluster_name: pulumi.Input[str]
    region: str
    chart_version: str


def policy(cluster_name: str) -> str:
    """Read anything it needs to plan; change only Auto Scaling groups tagged as this
    cluster's (managed node groups carry the tag)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
                    },
                },
            ],
        }
    )


class ClusterAutoscaler(pulumi.ComponentResource):
    """Takes both its providers through `opts.providers` (AWS and the cluster's Kubernetes):
    each child picks the one of its package from this component."""

    role: aws.iam.Role
    release: k8s.helm.v3.Release

    def __init__(self, name: str, args: ClusterAutoscalerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:ClusterAutoscaler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "kubernetes")
        self.role = role = aws.iam.Role(f"{name}-role", assume_role_policy=POD_IDENTITY_TRUST, tags=tags, opts=child)
        document = pulumi.Output.from_input(args.cluster_name).apply(policy)
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=document, opts=child)
        association = aws.eks.PodIdentityAssociation(
            f"{name}-identity",
            cluster_name=args.cluster_name,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            role_arn=role.arn,
            tags=tags,
            opts=child,
        )
        self.release = charts.release(
            f"{name}-release",
            "cluster-autoscaler",
            charts.Chart("cluster-autoscaler", CHART_REPOSITORY, args.chart_version),
            NAMESPACE,
            {
                "autoDiscovery": {"clusterName": args.cluster_name},
                "awsRegion": args.region,
                "rbac": {"serviceAccount": {"create": True, "name": SERVICE_ACCOUNT}},
                "extraArgs": {
                    "balance-similar-node-groups": True,
                    "expander": "least-waste",
                    "skip-nodes-with-system-pods": False,
                },
                # On the system group, which it never scales away from under itself.
                "nodeSelector": {"node-role": "system"},
                "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}],
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            },
            pulumi.ResourceOptions(parent=self, depends_on=[association]),
        )
        self.register_outputs({"roleArn": role.arn, "release": self.release.name})
