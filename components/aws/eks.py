"""EksCluster: an EKS control plane and its managed node groups, written with the
pulumi_aws resources themselves, and a Kubernetes provider built from its outputs.

- Endpoint private, or public only to listed CIDRs; Secrets envelope-encrypted with a
  rotating KMS key; every control-plane log type, into a log group with retention.
- Authentication through access entries (API mode): no aws-auth ConfigMap, and the
  creator gets no hidden admin rights.
- Node groups through launch templates: IMDSv2 required with hop limit 1 (pods cannot
  reach the node's credentials), encrypted gp3 root volumes, no public addresses.
- Managed add-ons at pinned versions; the VPC CNI and the EBS CSI driver get their AWS
  permissions through EKS Pod Identity, not the node role.
- Optionally a group's nights (off-hours): two scheduled actions on its Auto Scaling
  group, `<group resource>-night` down to a floor and `<group resource>-morning` back to
  the group's size. The cluster autoscaler stays within the group's bounds; EKS drains
  the nodes it takes away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.kms import log_group_key, rotating_key
from components.kubeconfig import exec_kubeconfig
from components.labels import Ownership, cloud_tags

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
MANAGED = "arn:aws:iam::aws:policy/"
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
# Add-on -> (service account, managed policy) for those that call AWS APIs.
ADDON_IDENTITIES = {
    "vpc-cni": ("aws-node", "AmazonEKS_CNI_Policy"),
    "aws-ebs-csi-driver": ("ebs-csi-controller-sa", "service-role/AmazonEBSCSIDriverPolicy"),
}
ADDON_CONFIGURATION = {"vpc-cni": json.dumps({"enableNetworkPolicy": "true"})}
# Add-ons that must run before any node joins (it would stay NotReady without a CNI);
# the others (CoreDNS, the CSI driver) need nodes to run on, so they come after.
NODE_PREREQUISITES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")


@dataclass(frozen=True)
class OffHours:
    """When a node group is scaled down: weekly crons (5 fields, numeric) in an IANA zone."""

    scale_down: str
    scale_up: str
    time_zone: str
    # Nodes kept at night (min, desired and max).
    floor: int = 0


@dataclass(frozen=True)
class NodeGroupArgs:
    name: str
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    capacity_type: str = "ON_DEMAND"
    disk_gib: int = 50
    labels: dict[str, str] = field(default_factory=dict)
    # (key, value, effect) as Kubernetes taints, e.g. the system group's.
    taints: tuple[tuple[str, str, str], ...] = ()
    # Scaled down at night (an app group outside prod; never the system group).
    off_hours: OffHours | None = None


@dataclass(frozen=True)
class PodIdentity:
    """An AWS role for one ServiceAccount, and the policy document it holds."""

    name: str
    namespace: str
    service_account: str
    policy: dict[str, Any]


@dataclass(frozen=True)
class EksClusterArgs:
    owner: Ownership
    cluster_name: str
    region: str
    kubernetes_version: str
    subnet_ids: pulumi.Input[list[str]]
    # Empty: the endpoint is private only.
    public_access_cidrs: tuple[str, ...]
    admin_role_arns: tuple[str, ...]
    node_groups: tuple[NodeGroupArgs, ...]
    # Managed add-on -> pinned version.
    addons: dict[str, str]
    pod_identities: tuple[PodIdentity, ...] = ()
    log_retention_days: int = 30
    deletion_protection: bool = False


def _trust(service: str, actions: tuple[str, ...] = ("sts:AssumeRole",)) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions)}],
        }
    )


POD_IDENTITY_TRUST = _trust("pods.eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession"))


class EksCluster(pulumi.ComponentResource):
    cluster: aws.eks.Cluster
    node_groups: dict[str, aws.eks.NodeGroup]
    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:EksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "kubernetes")
        key = rotating_key(f"{args.cluster_name}-secrets", "Envelope encryption of Kubernetes Secrets", tags, self)

        cluster_role = aws.iam.Role(
            f"{name}-cluster", assume_role_policy=_trust("eks.amazonaws.com"), tags=tags, opts=child
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy", role=cluster_role.name, policy_arn=f"{MANAGED}AmazonEKSClusterPolicy", opts=child
        )
        # Created first, with retention: EKS would otherwise create it to keep logs forever
        # (and unencrypted by a key of ours).
        log_group_name = f"/aws/eks/{args.cluster_name}/cluster"
        logs_key = log_group_key(f"{args.cluster_name}-control-plane-logs", log_group_name, args.region, tags, self)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=logs_key.arn,
            tags=tags,
            opts=child,
        )
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=bool(args.public_access_cidrs),
                public_access_cidrs=list(args.public_access_cidrs) or None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn), resources=["secrets"]
            ),
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            # The VPC CNI, CoreDNS and kube-proxy come as managed add-ons below.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment, logs]),
        )
        for index, role_arn in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{index}", cluster_name=self.cluster.name, principal_arn=role_arn, tags=tags, opts=child
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}",
                cluster_name=self.cluster.name,
                principal_arn=role_arn,
                policy_arn=ADMIN_POLICY,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )

        # The CNI, kube-proxy and the Pod Identity agent first: nodes join Ready with them.
        prerequisites = self._addons(name, args, tags, NODE_PREREQUISITES, after=[])
        self.node_groups = self._node_groups(name, args, tags, after=prerequisites)
        others = tuple(addon for addon in args.addons if addon not in NODE_PREREQUISITES)
        self._addons(name, args, tags, others, after=list(self.node_groups.values()))
        for identity in args.pod_identities:
            self._pod_identity(name, identity, tags)

        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.endpoint, self.cluster.certificate_authority.data, self.cluster.name).apply(
                lambda values: kubeconfig(*values, region=args.region)
            )
        )
        self.provider = k8s.Provider(f"{name}-kubernetes", kubeconfig=self.kubeconfig, opts=child)
        self.register_outputs(
            {
                "clusterName": self.cluster.name,
                "endpoint": self.cluster.endpoint,
                "version": self.cluster.version,
                "clusterSecurityGroupId": self.cluster.vpc_config.cluster_security_group_id,
                "oidcIssuer": self.cluster.identities.apply(lambda identities: identities[0].oidcs[0].issuer),
            }
        )

    def _node_groups(
        self, name: str, args: EksClusterArgs, tags: dict[str, str], after: list[pulumi.Resource]
    ) -> dict[str, aws.eks.NodeGroup]:
        child = pulumi.ResourceOptions(parent=self)
        node_role = aws.iam.Role(f"{name}-nodes", assume_role_policy=_trust("ec2.amazonaws.com"), tags=tags, opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}", role=node_role.name, policy_arn=f"{MANAGED}{policy}", opts=child
            )
            for policy in NODE_POLICIES
        ]
        groups = {}
        for group in args.node_groups:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{group.name}",
                description=f"{args.cluster_name} {group.name} nodes",
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
                ),
                block_device_mappings=[
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_type="gp3",
                            volume_size=group.disk_gib,
                            encrypted="true",
                            delete_on_termination="true",
                        ),
                    )
                ],
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                    for kind in ("instance", "volume")
                ],
                update_default_version=True,
                tags=tags,
                opts=child,
            )
            groups[group.name] = aws.eks.NodeGroup(
                f"{name}-{group.name}",
                cluster_name=self.cluster.name,
                node_group_name=group.name,
                node_role_arn=node_role.arn,
                subnet_ids=args.subnet_ids,
                instance_types=list(group.instance_types),
                capacity_type=group.capacity_type,
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=group.min_size, desired_size=group.desired_size, max_size=group.max_size
                ),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                labels=group.labels or None,
                taints=[aws.eks.NodeGroupTaintArgs(key=k, value=v, effect=e) for k, v, e in group.taints] or None,
                tags=tags,
                # The cluster autoscaler owns the size once the group exists.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[*attachments, *after], ignore_changes=["scalingConfig.desiredSize"]
                ),
            )
            if group.off_hours is not None:
                self._nights(f"{name}-{group.name}", args.cluster_name, group, groups[group.name])
        return groups

    def _nights(self, resource: str, cluster: str, group: NodeGroupArgs, node_group: aws.eks.NodeGroup) -> None:
        """The group's Auto Scaling group down to the floor at night, back in the morning."""
        off = group.off_hours
        assert off is not None
        # EKS creates one Auto Scaling group per managed node group.
        asg = node_group.resources.apply(lambda resources: resources[0].autoscaling_groups[0].name)
        night = (off.scale_down, off.floor, off.floor, off.floor)
        morning = (off.scale_up, group.min_size, group.desired_size, group.max_size)
        for when, (recurrence, low, desired, high) in (("night", night), ("morning", morning)):
            aws.autoscaling.Schedule(
                f"{resource}-{when}",
                scheduled_action_name=f"{cluster}-{group.name}-{when}",
                autoscaling_group_name=asg,
                recurrence=recurrence,
                time_zone=off.time_zone,
                min_size=low,
                desired_capacity=desired,
                max_size=high,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[node_group]),
            )

    def _addons(
        self,
        name: str,
        args: EksClusterArgs,
        tags: dict[str, str],
        which: tuple[str, ...],
        after: list[pulumi.Resource],
    ) -> list[aws.eks.Addon]:
        """The managed add-ons named in `which` (those the cluster is configured with)."""
        child = pulumi.ResourceOptions(parent=self)
        created = []
        for addon in which:
            if addon not in args.addons:
                continue
            identities = None
            if addon in ADDON_IDENTITIES:
                account, policy = ADDON_IDENTITIES[addon]
                role = aws.iam.Role(f"{name}-{addon}", assume_role_policy=POD_IDENTITY_TRUST, tags=tags, opts=child)
                aws.iam.RolePolicyAttachment(
                    f"{name}-{addon}", role=role.name, policy_arn=f"{MANAGED}{policy}", opts=child
                )
                identities = [aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=account)]
            created.append(
                aws.eks.Addon(
                    f"{name}-{addon}",
                    cluster_name=self.cluster.name,
                    addon_name=addon,
                    addon_version=args.addons[addon],
                    pod_identity_associations=identities,
                    # The VPC CNI enforces NetworkPolicies only when asked: every namespace here
                    # relies on them.
                    configuration_values=ADDON_CONFIGURATION.get(addon),
                    resolve_conflicts_on_create="OVERWRITE",
                    resolve_conflicts_on_update="OVERWRITE",
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=after),
                )
            )
        return created

    def _pod_identity(self, name: str, identity: PodIdentity, tags: dict[str, str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-{identity.name}", assume_role_policy=POD_IDENTITY_TRUST, tags=tags, opts=child)
        aws.iam.RolePolicy(f"{name}-{identity.name}", role=role.id, policy=json.dumps(identity.policy), opts=child)
        aws.eks.PodIdentityAssociation(
            f"{name}-{identity.name}",
            cluster_name=self.cluster.name,
            namespace=identity.namespace,
            service_account=identity.service_account,
            role_arn=role.arn,
            tags=tags,
            opts=child,
        )


def kubeconfig(endpoint: str, certificate: str, cluster: str, region: str) -> str:
    args = ["eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json"]
    return exec_kubeconfig(cluster, endpoint, certificate, {"command": "aws", "args": args})
