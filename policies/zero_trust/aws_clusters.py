"""Zero-trust rules for EKS beyond the control plane's endpoint, encryption and logs:
NetworkPolicies that are enforced (the VPC CNI's network policy agent, or Cilium or
Calico), access through access entries only, and node groups without SSH from anywhere."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy.proxy import UnknownValueError

from policies.core.props import as_list, get, json_document
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import EKS_CLUSTER, known, names

ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RELEASES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


class NetworkPolicyParams(Params):
    # Charts of CNIs that enforce NetworkPolicies, when the stack installs one instead.
    enforcing_charts: tuple[str, ...] = ("cilium", "calico", "tigera-operator")
    # A CNI that enforces NetworkPolicies is installed by another stack (named, for the record).
    enforced_by: str = ""


def _of_cluster(addons: list[Resource], cluster: Resource) -> list[Resource]:
    """The add-ons of a cluster: those that depend on it, or name it in clusterName."""
    return [
        addon
        for addon in addons
        if cluster.urn in addon.dependencies or names(str(known(addon.props, "clusterName") or ""), cluster, "name")
    ]


def _network_policy_on(addon: Resource) -> bool | None:
    """For the vpc-cni add-on: whether its configuration turns the network policy agent on
    (None while the configuration is unknown)."""
    try:
        configuration = json_document(get(addon.props, "configurationValues")) or {}
    except UnknownValueError:
        return None
    return str(get(configuration, "enableNetworkPolicy", "")).strip().lower() == "true"


def _chart(resource: Resource) -> str:
    return str(known(resource.props, "chart") or "").rstrip("/").rsplit("/", 1)[-1].split(".tgz")[0].lower()


@rule(
    PACK,
    name="aws-eks-network-policy-enforced",
    description=(
        "Each EKS cluster enforces NetworkPolicies: its vpc-cni add-on turns on the network policy agent "
        '(configurationValues enableNetworkPolicy "true"), or the stack installs an enforcing CNI '
        "(enforcingCharts: Cilium, Calico), or one is installed elsewhere (enforcedBy)."
    ),
    severity="high",
    remediation=(
        'Declare aws.eks.Addon(addon_name="vpc-cni", cluster_name=<the cluster>, '
        'configuration_values=json.dumps({"enableNetworkPolicy": "true"})), or install Cilium or Calico.'
    ),
    params=NetworkPolicyParams,
)
def eks_network_policy_enforced(stack: Stack, params: NetworkPolicyParams) -> Iterable[tuple[str, str]]:
    clusters = stack.of_type(EKS_CLUSTER)
    wanted = {chart.lower() for chart in params.enforcing_charts}
    releases = [release for kind in RELEASES for release in stack.of_type(kind)] if clusters else []
    if params.enforced_by or any(_chart(release) in wanted for release in releases):
        return
    vpc_cni = [addon for addon in stack.of_type(ADDON) if str(known(addon.props, "addonName") or "") == "vpc-cni"]
    for cluster in clusters:
        cni = _of_cluster(vpc_cni, cluster)
        states = [_network_policy_on(addon) for addon in cni]
        if not cni:
            yield cluster.urn, f"cluster {cluster.name} has no vpc-cni add-on with the network policy agent on"
        elif False in states:
            yield cluster.urn, f"cluster {cluster.name}'s vpc-cni add-on leaves enableNetworkPolicy off"


@rule(
    PACK,
    name="aws-eks-access-entries",
    description=(
        "EKS clusters grant access through access entries only (authenticationMode API, not the aws-auth "
        "ConfigMap) and give the creator no hidden cluster-admin (bootstrapClusterCreatorAdminPermissions false)."
    ),
    severity="high",
    remediation=(
        "Set accessConfig: {authenticationMode: API, bootstrapClusterCreatorAdminPermissions: false} and "
        "grant access with aws.eks.AccessEntry and AccessPolicyAssociation."
    ),
    types=(EKS_CLUSTER,),
)
def eks_access_entries(resource: Resource, params: Params) -> Iterable[str]:
    mode = str(get(resource.props, "accessConfig.authenticationMode", "CONFIG_MAP")).strip().upper()
    if mode != "API":
        yield f"authenticationMode is {mode}: the aws-auth ConfigMap grants access, expected API"
    if get(resource.props, "accessConfig.bootstrapClusterCreatorAdminPermissions", True) is not False:
        yield "the cluster's creator gets cluster-admin (bootstrapClusterCreatorAdminPermissions is not false)"


@rule(
    PACK,
    name="aws-eks-node-group-ssh-restricted",
    description=(
        "EKS node groups with SSH access (remoteAccess.ec2SshKey) name the security groups it may come from; "
        "without them, port 22 is open to the internet."
    ),
    severity="high",
    remediation=(
        "Drop remoteAccess and reach nodes through SSM Session Manager, or set "
        "remoteAccess.sourceSecurityGroupIds to a bastion's security group."
    ),
    types=(NODE_GROUP,),
)
def eks_node_group_ssh_restricted(resource: Resource, params: Params) -> Iterable[str]:
    remote = get(resource.props, "remoteAccess")
    if get(remote, "ec2SshKey") and not as_list(get(remote, "sourceSecurityGroupIds")):
        yield "SSH to the nodes is open to 0.0.0.0/0 (remoteAccess without sourceSecurityGroupIds)"
