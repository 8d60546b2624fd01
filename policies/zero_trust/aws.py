"""Zero-trust rules for AWS: network exposure, storage and database encryption, IAM,
EKS, instance metadata, KMS, ElastiCache, ECR and VPC flow logs; identities and paths to
public exposure (static access keys, public function URLs, public key policies, public IPs)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from policies.core.props import as_list, get, items, json_document, known, names
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
# The VPC's default group, which the provider adopts: its rules are declared the same way.
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
BUCKET = "aws:s3/bucket:Bucket"
# The provider's older name for the same bucket.
BUCKETS = (BUCKET, "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
BUCKET_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
RDS_GLOBAL_CLUSTER = "aws:rds/globalCluster:GlobalCluster"
IAM_POLICIES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")


class OpenIngressParams(Params):
    # Security groups of public load balancers: the only ones open to the internet,
    # and on these ports only. Matched against a group's resource name, name and Name
    # tag, and a rule's own resource name or securityGroupId.
    public_load_balancer_groups: tuple[str, ...] = ()
    public_ports: tuple[int, ...] = (80, 443)


def _internet_wide(cidr: Any) -> bool:
    """0.0.0.0/0 or ::/0 however spelled (::0/0, 0.0.0.0/00), or a range wide enough to take
    in much of the internet, as a split around the check does (0.0.0.0/1 and 128.0.0.0/1,
    2000::/3). No private range is wider than 10.0.0.0/8 or fc00::/7."""
    try:
        network = ipaddress.ip_network(str(cidr).strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen < (8 if network.version == 4 else 7)


def _open_ranges(entry: Mapping[str, Any], v4: str, v6: str) -> list[str]:
    return [str(cidr) for cidr in as_list(get(entry, v4)) + as_list(get(entry, v6)) if _internet_wide(cidr)]


def _group_names(resource: Resource) -> set[str]:
    """A group's name, Name tag and resource name; for a rule, also the group it joins."""
    names = {resource.name, str(get(resource.props, "name", "")), str(get(resource.props, "securityGroupId", ""))}
    tags = get(resource.props, "tags", {})
    if isinstance(tags, Mapping):
        names.add(str(tags.get("Name", "")))
    return names - {""}


def _all_traffic(entry: Mapping[str, Any], protocol_key: str) -> bool:
    """Protocol -1 ("all"): every port, whatever fromPort and toPort say."""
    return str(get(entry, protocol_key, "")).lower() in ("-1", "all")


def _allowed(resource: Resource, params: OpenIngressParams, entry: Mapping[str, Any], protocol_key: str) -> bool:
    public = bool(_group_names(resource) & set(params.public_load_balancer_groups))
    from_port, to_port = get(entry, "fromPort"), get(entry, "toPort")
    tcp = str(get(entry, protocol_key, "tcp")).lower() in ("tcp", "6")
    return public and tcp and from_port == to_port and from_port in params.public_ports


def _rule_entries(resource: Resource, direction: str) -> tuple[list[Any], tuple[str, str], str]:
    """A group's rules in one direction (ingress or egress), wherever they are declared:
    the keys of their IPv4 and IPv6 ranges, and of their protocol."""
    if resource.type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        return items(resource.props, direction), ("cidrBlocks", "ipv6CidrBlocks"), "protocol"
    if resource.type == SECURITY_GROUP_RULE:
        entries = [resource.props] if str(get(resource.props, "type", "")).lower() == direction else []
        return entries, ("cidrBlocks", "ipv6CidrBlocks"), "protocol"
    wanted = INGRESS_RULE if direction == "ingress" else EGRESS_RULE
    return ([resource.props] if resource.type == wanted else []), ("cidrIpv4", "cidrIpv6"), "ipProtocol"


def _ports(entry: Mapping[str, Any], protocol_key: str) -> str:
    if _all_traffic(entry, protocol_key):
        return "every port (all protocols)"
    return f"ports {get(entry, 'fromPort')}-{get(entry, 'toPort')}"


@rule(
    PACK,
    name="aws-security-group-no-open-ingress",
    description=(
        "No security group (the VPC's default one included), nor a rule declared on its own (SecurityGroupRule "
        "of type ingress, vpc.SecurityGroupIngressRule), admits 0.0.0.0/0 or ::/0, except public load balancers "
        "on 80/443."
    ),
    severity="critical",
    remediation="Narrow the source to known CIDRs or security groups; only public load balancers take 80/443.",
    types=(SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, INGRESS_RULE),
    params=OpenIngressParams,
)
def no_open_ingress(resource: Resource, params: OpenIngressParams) -> Iterable[str]:
    entries, keys, protocol_key = _rule_entries(resource, "ingress")
    for entry in entries:
        opened = _open_ranges(entry, *keys)
        if opened and not _allowed(resource, params, entry, protocol_key):
            yield f"ingress from {', '.join(opened)} on {_ports(entry, protocol_key)}"


class OpenEgressParams(Params):
    # TCP/UDP ports on which a group may reach the whole internet (public APIs over HTTPS);
    # every other port goes to known ranges, prefix lists or security groups.
    internet_ports: tuple[int, ...] = (443,)


def _within(entry: Mapping[str, Any], protocol_key: str, ports: tuple[int, ...]) -> bool:
    """Whether the rule opens TCP or UDP ports that are all in `ports`."""
    if str(get(entry, protocol_key, "")).lower() not in ("tcp", "udp", "6", "17"):
        return False
    low, high = get(entry, "fromPort"), get(entry, "toPort")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or high - low >= len(ports):
        return False
    return all(port in ports for port in range(int(low), int(high) + 1))


@rule(
    PACK,
    name="aws-security-group-no-open-egress",
    description=(
        "No security group (the VPC's default one included), nor a rule declared on its own (SecurityGroupRule "
        "of type egress, vpc.SecurityGroupEgressRule), lets traffic out to 0.0.0.0/0 or ::/0 on every port: "
        "only on the listed ports (internetPorts, 443)."
    ),
    severity="high",
    remediation=(
        "Send egress to the CIDRs, prefix lists (VPC endpoints) or security groups it needs; keep 0.0.0.0/0 "
        "and ::/0 to TCP 443 (or the ports in internetPorts)."
    ),
    types=(SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, EGRESS_RULE),
    params=OpenEgressParams,
)
def no_open_egress(resource: Resource, params: OpenEgressParams) -> Iterable[str]:
    entries, keys, protocol_key = _rule_entries(resource, "egress")
    for entry in entries:
        opened = _open_ranges(entry, *keys)
        if opened and not _within(entry, protocol_key, params.internet_ports):
            allowed = ", ".join(str(port) for port in params.internet_ports) or "none"
            yield f"egress to {', '.join(opened)} on {_ports(entry, protocol_key)}; internet ports allowed: {allowed}"


PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _blocks_of(stack: Stack, buckets: list[Resource]) -> dict[str, list[Resource]]:
    """Each bucket's public access blocks, by bucket URN: a block belongs to the bucket its
    `bucket` names; while that is unknown (or names no bucket of the stack), to the one
    bucket it depends on."""
    found: dict[str, list[Resource]] = {bucket.urn: [] for bucket in buckets}
    for block in stack.of_type(PUBLIC_ACCESS_BLOCK):
        value = known(block.props, "bucket")
        named = [b for b in buckets if isinstance(value, str) and names(value, b, "bucket")]
        depended = [b for b in buckets if b.urn in block.dependencies]
        if not named and len(depended) == 1:
            named = depended
        elif len(named) > 1:
            named = [b for b in named if b.urn in block.dependencies] or named
        for bucket in named:
            found[bucket.urn].append(block)
    return found


@rule(
    PACK,
    name="aws-s3-public-access-block",
    description="Every S3 bucket has a public access block, naming that bucket, with all four settings on.",
    severity="critical",
    remediation=(
        "Add aws.s3.BucketPublicAccessBlock(bucket=<the bucket's id>) with all four block/ignore/restrict flags true."
    ),
)
def s3_public_access_block(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    buckets = stack.of_type(*BUCKETS)
    blocks = _blocks_of(stack, buckets)
    for bucket in buckets:
        if not blocks[bucket.urn]:
            yield bucket.urn, f"bucket {bucket.name} has no public access block"
        for block in blocks[bucket.urn]:
            off = [flag for flag in PUBLIC_ACCESS_FLAGS if get(block.props, flag) is not True]
            if off:
                yield bucket.urn, f"bucket {bucket.name}'s public access block leaves {', '.join(off)} off"


@rule(
    PACK,
    name="aws-s3-encryption",
    description="Every S3 bucket has default server-side encryption (SSE-KMS or SSE-S3).",
    severity="high",
    remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with aws:kms (preferred) or AES256.",
)
def s3_encryption(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for bucket in stack.of_type(*BUCKETS):
        inline = get(bucket.props, "serverSideEncryptionConfiguration")
        if not inline and not stack.attached(bucket, *BUCKET_ENCRYPTION):
            yield bucket.urn, f"bucket {bucket.name} has no default encryption"


def _denies_plain_http(document: Any) -> bool:
    for statement in as_list(get(document, "Statement")):
        condition = get(statement, "Condition.Bool.aws:SecureTransport")
        if get(statement, "Effect") == "Deny" and str(condition).lower() == "false":
            return True
    return False


@rule(
    PACK,
    name="aws-s3-tls-only",
    description="Every S3 bucket's policy denies requests without TLS (aws:SecureTransport false).",
    severity="high",
    remediation="Add a bucket policy statement: Effect Deny, Principal *, Condition Bool aws:SecureTransport false.",
)
def s3_tls_only(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for bucket in stack.of_type(*BUCKETS):
        attached = [get(p.props, "policy") for p in stack.attached(bucket, BUCKET_POLICY)]
        documents = [json_document(policy) for policy in [get(bucket.props, "policy"), *attached] if policy]
        if not any(_denies_plain_http(document) for document in documents):
            yield bucket.urn, f"bucket {bucket.name} accepts requests without TLS"


@rule(
    PACK,
    name="aws-rds-encrypted",
    description="RDS instances, Aurora and Multi-AZ clusters and Aurora global databases encrypt their storage.",
    severity="critical",
    remediation="Set storageEncrypted: true with a customer-managed KMS key (kmsKeyId).",
    types=(RDS_CLUSTER, RDS_INSTANCE, RDS_GLOBAL_CLUSTER),
)
def rds_encrypted(resource: Resource, params: Params) -> Iterable[str]:
    encrypted = get(resource.props, "storageEncrypted")
    # A read replica, or a global database made from a cluster, has its source's encryption.
    copied = get(resource.props, "replicateSourceDb") or get(resource.props, "sourceDbClusterIdentifier")
    if encrypted is not True and not (copied and encrypted is None):
        yield "storageEncrypted is not true"


@rule(
    PACK,
    name="aws-rds-not-public",
    description="No database instance is publicly accessible.",
    severity="critical",
    remediation="Set publiclyAccessible: false and place the instance in private subnets.",
    types=(RDS_INSTANCE, RDS_CLUSTER_INSTANCE),
)
def rds_not_public(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "publiclyAccessible") is True:
        yield "publiclyAccessible is true"


class EnvironmentParams(Params):
    environment: str = "prod"
    # Environments where the rule applies.
    environments: tuple[str, ...] = ("prod",)


@rule(
    PACK,
    name="aws-rds-deletion-protection",
    description="Production databases have deletion protection.",
    severity="high",
    remediation="Set deletionProtection: true.",
    types=(RDS_CLUSTER, RDS_INSTANCE),
    params=EnvironmentParams,
)
def rds_deletion_protection(resource: Resource, params: EnvironmentParams) -> Iterable[str]:
    if params.environment in params.environments and get(resource.props, "deletionProtection") is not True:
        yield f"deletionProtection is not true in {params.environment}"


def _statements(resource: Resource) -> list[Mapping[str, Any]]:
    document = json_document(get(resource.props, "policy"))
    return [statement for statement in as_list(get(document, "Statement")) if isinstance(statement, Mapping)]


@rule(
    PACK,
    name="aws-iam-no-admin",
    description="No IAM policy allows every action on every resource.",
    severity="critical",
    remediation="Grant the specific actions and resources the principal needs.",
    types=IAM_POLICIES,
)
def iam_no_admin(resource: Resource, params: Params) -> Iterable[str]:
    for statement in _statements(resource):
        actions, resources = as_list(get(statement, "Action")), as_list(get(statement, "Resource"))
        if get(statement, "Effect") == "Allow" and ("*" in actions or "*:*" in actions) and "*" in resources:
            yield "a statement allows '*' on '*'"


@rule(
    PACK,
    name="aws-iam-no-pass-role-on-any",
    description="No IAM policy allows iam:PassRole on every role.",
    severity="high",
    remediation="Limit iam:PassRole to the ARNs of the roles that must be passed, with iam:PassedToService.",
    types=IAM_POLICIES,
)
def iam_pass_role(resource: Resource, params: Params) -> Iterable[str]:
    for statement in _statements(resource):
        actions = [str(a).lower() for a in as_list(get(statement, "Action"))]
        passes = any(a in ("iam:passrole", "iam:*", "iam:pass*") for a in actions)
        if get(statement, "Effect") == "Allow" and passes and "*" in as_list(get(statement, "Resource")):
            yield "a statement allows iam:PassRole on '*'"


@rule(
    PACK,
    name="aws-eks-endpoint-restricted",
    description="The EKS API endpoint is private, or public only to listed CIDRs.",
    severity="critical",
    remediation="Set vpcConfig.endpointPublicAccess: false, or publicAccessCidrs to your office or VPN ranges.",
    types=(EKS_CLUSTER,),
)
def eks_endpoint(resource: Resource, params: Params) -> Iterable[str]:
    vpc = get(resource.props, "vpcConfig", {})
    if get(vpc, "endpointPublicAccess", True) is not False:
        cidrs = as_list(get(vpc, "publicAccessCidrs"))
        if not cidrs or any(_internet_wide(cidr) for cidr in cidrs):
            yield "the public endpoint is open to the internet"


@rule(
    PACK,
    name="aws-eks-secrets-encrypted",
    description="EKS envelope-encrypts Kubernetes Secrets with a KMS key.",
    severity="high",
    remediation="Set encryptionConfig: {resources: [secrets], provider: {keyArn: <rotating KMS key>}}.",
    types=(EKS_CLUSTER,),
)
def eks_secrets(resource: Resource, params: Params) -> Iterable[str]:
    config = get(resource.props, "encryptionConfig", {})
    if "secrets" not in as_list(get(config, "resources")) or not get(config, "provider.keyArn"):
        yield "Secrets are not envelope-encrypted with a KMS key"


@rule(
    PACK,
    name="aws-eks-control-plane-logging",
    description="EKS sends every control-plane log type to CloudWatch.",
    severity="medium",
    remediation=f"Set enabledClusterLogTypes to {list(CONTROL_PLANE_LOGS)}.",
    types=(EKS_CLUSTER,),
)
def eks_logging(resource: Resource, params: Params) -> Iterable[str]:
    missing = sorted(set(CONTROL_PLANE_LOGS) - set(as_list(get(resource.props, "enabledClusterLogTypes"))))
    if missing:
        yield f"control-plane logs off: {', '.join(missing)}"


@rule(
    PACK,
    name="aws-imdsv2-required",
    description="Instances require IMDSv2 with a hop limit of 1 (pods cannot reach node credentials).",
    severity="high",
    remediation="Set metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 1, httpEndpoint: enabled}.",
    types=(LAUNCH_TEMPLATE, INSTANCE),
)
def imdsv2(resource: Resource, params: Params) -> Iterable[str]:
    options = get(resource.props, "metadataOptions", {})
    if get(options, "httpEndpoint") == "disabled":
        return
    if get(options, "httpTokens") != "required":
        yield "IMDSv2 is not required (metadataOptions.httpTokens)"
    if get(options, "httpPutResponseHopLimit") != 1:
        yield f"metadata hop limit is {get(options, 'httpPutResponseHopLimit', 'unset')}, expected 1"


@rule(
    PACK,
    name="aws-kms-rotation",
    description="Symmetric KMS keys rotate automatically.",
    severity="medium",
    remediation="Set enableKeyRotation: true.",
    types=(KMS_KEY,),
)
def kms_rotation(resource: Resource, params: Params) -> Iterable[str]:
    spec = get(resource.props, "customerMasterKeySpec") or get(resource.props, "keySpec") or "SYMMETRIC_DEFAULT"
    if spec == "SYMMETRIC_DEFAULT" and get(resource.props, "enableKeyRotation") is not True:
        yield "enableKeyRotation is not true"


@rule(
    PACK,
    name="aws-elasticache-encryption",
    description="ElastiCache encrypts in transit and at rest.",
    severity="high",
    remediation="Set transitEncryptionEnabled: true and atRestEncryptionEnabled: true (and an AUTH token).",
    types=(REPLICATION_GROUP,),
)
def elasticache_encryption(resource: Resource, params: Params) -> Iterable[str]:
    for key in ("transitEncryptionEnabled", "atRestEncryptionEnabled"):
        if get(resource.props, key) is not True:
            yield f"{key} is not true"


@rule(
    PACK,
    name="aws-ecr-scan-on-push",
    description="ECR scans images on push.",
    severity="medium",
    remediation="Set imageScanningConfiguration.scanOnPush: true.",
    types=(ECR_REPOSITORY,),
)
def ecr_scan(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "imageScanningConfiguration.scanOnPush") is not True:
        yield "scanOnPush is not true"


@rule(
    PACK,
    name="aws-ecr-immutable-tags",
    description="ECR tags are immutable.",
    severity="medium",
    remediation="Set imageTagMutability: IMMUTABLE.",
    types=(ECR_REPOSITORY,),
)
def ecr_immutable(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "imageTagMutability") != "IMMUTABLE":
        yield f"imageTagMutability is {get(resource.props, 'imageTagMutability', 'MUTABLE')}"


@rule(
    PACK,
    name="aws-vpc-flow-logs",
    description="Every VPC has flow logs.",
    severity="medium",
    remediation="Add aws.ec2.FlowLog for the VPC (trafficType ALL) to CloudWatch Logs with bounded retention.",
)
def vpc_flow_logs(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for vpc in stack.of_type(VPC):
        if not stack.attached(vpc, FLOW_LOG):
            yield vpc.urn, f"VPC {vpc.name} has no flow log"


@rule(
    PACK,
    name="aws-iam-no-static-access-keys",
    description="No IAM user has a static access key: identities get short-lived credentials.",
    severity="high",
    remediation=(
        "Delete the aws.iam.AccessKey; give workloads an IAM role (IRSA or EKS Pod Identity, instance profiles) "
        "and people IAM Identity Center, and CI an OIDC role."
    ),
    types=(ACCESS_KEY,),
)
def iam_no_static_access_keys(resource: Resource, params: Params) -> Iterable[str]:
    user = known(resource.props, "user")
    yield f"a static access key for IAM user {user}" if user else "a static access key for an IAM user"


@rule(
    PACK,
    name="aws-lambda-function-url-auth",
    description="Lambda function URLs require IAM authorization.",
    severity="high",
    remediation="Set authorizationType: AWS_IAM, or put the function behind API Gateway with an authorizer.",
    types=(FUNCTION_URL,),
)
def lambda_function_url_auth(resource: Resource, params: Params) -> Iterable[str]:
    if str(get(resource.props, "authorizationType", "")).upper() == "NONE":
        yield "the function URL is public (authorizationType NONE)"


def every_principal(principal: Any) -> bool:
    """Principal "*", or "*" under any kind ({"AWS": "*"}, {"CanonicalUser": ["*"]}), alone
    or in a list."""
    if isinstance(principal, Mapping):
        return any(every_principal(principal[kind]) for kind in principal)
    return "*" in [str(p).strip() for p in as_list(principal)]


@rule(
    PACK,
    name="aws-kms-key-policy-not-public",
    description="No KMS key policy allows every principal without a condition.",
    severity="critical",
    remediation=(
        "Name the account root, roles or services in Principal, or constrain '*' with a Condition "
        "(kms:CallerAccount, kms:ViaService, aws:PrincipalOrgID)."
    ),
    types=(KMS_KEY, KMS_KEY_POLICY),
)
def kms_key_policy_not_public(resource: Resource, params: Params) -> Iterable[str]:
    for index, statement in enumerate(_statements(resource)):
        public = get(statement, "Effect") == "Allow" and every_principal(get(statement, "Principal"))
        if public and not get(statement, "Condition"):
            yield f"statement {get(statement, 'Sid') or index} allows every principal ('*') without a Condition"


@rule(
    PACK,
    name="aws-ec2-no-public-ip",
    description="EC2 instances get no public IPv4 address.",
    severity="high",
    remediation=(
        "Set associatePublicIpAddress: false and launch into a private subnet; "
        "reach it through SSM Session Manager or a load balancer."
    ),
    types=(INSTANCE,),
)
def ec2_no_public_ip(resource: Resource, params: Params) -> Iterable[str]:
    if str(get(resource.props, "associatePublicIpAddress", False)).lower() == "true":
        yield "associatePublicIpAddress is true"
