"""Cases for issue #19's AWS account, network, database and EKS rules: the password policy,
IAM users and broad AWS-managed policies, instance roles, network ACLs, default security
groups, public subnets, minor upgrades, Multi-AZ, IAM database authentication, log
exports, EFS, the EKS network policy agent, access entries, node SSH and CloudTrail data
events; and the ways around them (::/0 and -1, entries split into resources of their own,
rules numbered after a deny, other partitions and paths, strings for booleans).
test_rules.py adds them to its table."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.policies.cases import resource
from tests.policies.relational_cases import RelationalCase

PASSWORD_POLICY = "aws:iam/accountPasswordPolicy:AccountPasswordPolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ROLE = "aws:iam/role:Role"
LOGIN_PROFILE = "aws:iam/userLoginProfile:UserLoginProfile"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NACL = "aws:ec2/networkAcl:NetworkAcl"
DEFAULT_NACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
NACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
VPC = "aws:ec2/vpc:Vpc"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SUBNET = "aws:ec2/subnet:Subnet"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
EFS = "aws:efs/fileSystem:FileSystem"
EKS = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
RELEASE = "kubernetes:helm.sh/v3:Release"
TRAIL = "aws:cloudtrail/trail:Trail"
MANAGED = "arn:aws:iam::aws:policy/"


def on(kind: str, props: dict[str, Any], name: str, *depends_on: Any) -> Any:
    return resource(kind, props, name, tuple(d.urn for d in depends_on))


STRONG_PASSWORDS: dict[str, Any] = {
    "minimumPasswordLength": 16,
    "passwordReusePrevention": 24,
    "requireLowercaseCharacters": True,
    "requireUppercaseCharacters": True,
    "requireNumbers": True,
    "requireSymbols": True,
    "maxPasswordAge": 90,
}


def entry(number: int, action: str, protocol: str, low: int, high: int, **ranges: str) -> dict[str, Any]:
    return {"ruleNo": number, "action": action, "protocol": protocol, "fromPort": low, "toPort": high, **ranges}


def acl_rule(number: int, action: str, protocol: str, low: int, high: int, **extra: Any) -> dict[str, Any]:
    return {"ruleNumber": number, "ruleAction": action, "protocol": protocol, "fromPort": low, "toPort": high, **extra}


WITH_PROFILE = resource(LAUNCH_TEMPLATE, {"iamInstanceProfile": {"name": "workers"}}, "workers")
WITHOUT_PROFILE = resource(LAUNCH_TEMPLATE, {"imageId": "ami-1"}, "plain")

# A public subnet's ACL: deny SSH and RDP from anywhere first, then the web and return traffic.
PUBLIC_ACL = resource(
    NACL,
    {
        "ingress": [
            entry(50, "deny", "tcp", 22, 22, cidrBlock="0.0.0.0/0"),
            entry(60, "deny", "tcp", 3389, 3389, cidrBlock="0.0.0.0/0"),
            entry(70, "deny", "-1", 0, 0, ipv6CidrBlock="::/0"),
            entry(100, "allow", "tcp", 443, 443, cidrBlock="0.0.0.0/0"),
            entry(110, "allow", "tcp", 1024, 65535, cidrBlock="0.0.0.0/0"),
            entry(120, "allow", "tcp", 1, 65535, ipv6CidrBlock="::/0"),
        ],
        "egress": [entry(100, "allow", "-1", 0, 0, cidrBlock="0.0.0.0/0")],
    },
    "public",
)
PRIVATE_ACL = resource(NACL, {"vpcId": "vpc-1"}, "private")
SPLIT_ACL = resource(NACL, {"vpcId": "vpc-1"}, "split")

ORDERS_VPC = resource(VPC, {"cidrBlock": "10.0.0.0/16"}, "orders")
OTHER_VPC = resource(VPC, {"cidrBlock": "10.1.0.0/16"}, "other")
ORDERS_DEFAULT = on(DEFAULT_SG, {"vpcId": UNKNOWN_STRING_VALUE}, "orders-default", ORDERS_VPC)
OPEN_DEFAULT = on(
    DEFAULT_SG, {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]}, "open", OTHER_VPC
)

AURORA = resource(RDS_CLUSTER, {"engine": "aurora-postgresql"}, "orders")
AURORA_ONE = resource(RDS_CLUSTER, {"engine": "aurora-mysql", "engineMode": "provisioned"}, "reporting")
AURORA_ZONE = resource(RDS_CLUSTER, {"engine": "aurora-postgresql"}, "pinned")
MULTI_AZ_CLUSTER = resource(RDS_CLUSTER, {"engine": "postgres", "dbClusterInstanceClass": "db.m6gd.large"}, "maz")

EKS_CLUSTER = resource(EKS, {"name": "prod", "vpcConfig": {"endpointPublicAccess": False}}, "prod")
EKS_OTHER = resource(EKS, {"vpcConfig": {"endpointPublicAccess": False}}, "edge")
NETWORK_POLICY = json.dumps({"enableNetworkPolicy": "true", "env": {"ENABLE_PREFIX_DELEGATION": "true"}})

ALL_BUCKETS = [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]


def trail(name: str, **props: Any) -> Any:
    return resource(TRAIL, {"isMultiRegionTrail": True, "enableLogFileValidation": True, **props}, name)


def advanced(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"advancedEventSelectors": [{"name": "s3", "fieldSelectors": list(fields)}]}


S3_DATA = [{"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}]


AWS_ACCOUNT_CASES: list[RelationalCase] = [
    RelationalCase(
        "aws-iam-password-policy",
        [resource(PASSWORD_POLICY, STRONG_PASSWORDS)],
        [
            resource(PASSWORD_POLICY, {"requireNumbers": True, "requireSymbols": "true"}, "defaults"),
            resource(PASSWORD_POLICY, {**STRONG_PASSWORDS, "minimumPasswordLength": 12, "maxPasswordAge": 365}, "weak"),
        ],
        [
            "minimumPasswordLength is 6, expected at least 14",
            "passwordReusePrevention is unset, expected at least 24",
            "requireLowercaseCharacters, requireUppercaseCharacters, requireSymbols not true",
            "maxPasswordAge is unset (never expires), expected at most 90 days",
            "minimumPasswordLength is 12, expected at least 14",
            "maxPasswordAge is 365, expected at most 90 days",
        ],
    ),
    RelationalCase(
        "aws-iam-no-user-policies",
        [
            resource(GROUP_POLICY, {"group": "developers", "policy": "{}"}),
            resource(POLICY_ATTACHMENT, {"policyArn": f"{MANAGED}ReadOnlyAccess", "groups": ["auditors"], "users": []}),
        ],
        [
            resource(USER_POLICY, {"user": "ci", "policy": "{}"}, "inline"),
            resource(USER_POLICY_ATTACHMENT, {"user": UNKNOWN_STRING_VALUE, "policyArn": f"{MANAGED}X"}, "managed"),
            resource(POLICY_ATTACHMENT, {"policyArn": f"{MANAGED}X", "groups": ["g"], "users": ["a", "b"]}, "mixed"),
        ],
        [
            "an inline policy is attached to IAM user ci directly",
            "a managed policy is attached to IAM user (unknown) directly",
            "the policy is attached to 2 IAM user(s) directly",
        ],
    ),
    RelationalCase(
        "aws-iam-no-console-passwords",
        [resource(USER_POLICY_ATTACHMENT, {"user": "ci", "policyArn": f"{MANAGED}X"})],
        [resource(LOGIN_PROFILE, {"user": "alice", "passwordResetRequired": True})],
        ["IAM user alice gets a console password (UserLoginProfile)"],
    ),
    # Other partitions, paths and spellings of the same AWS-managed policies; look-alike customer policies pass.
    RelationalCase(
        "aws-iam-no-broad-managed-policies",
        [
            resource(ROLE_POLICY_ATTACHMENT, {"role": "r", "policyArn": f"{MANAGED}ReadOnlyAccess"}),
            resource(
                ROLE_POLICY_ATTACHMENT,
                {"role": "r", "policyArn": "arn:aws:iam::111122223333:policy/AdministratorAccess"},
                "own",
            ),
            resource(ROLE, {"managedPolicyArns": [f"{MANAGED}service-role/AmazonEBSCSIDriverPolicy"]}, "csi"),
        ],
        [
            resource(ROLE_POLICY_ATTACHMENT, {"role": "r", "policyArn": f"{MANAGED}AdministratorAccess"}, "admin"),
            resource(
                GROUP_POLICY_ATTACHMENT,
                {"group": "g", "policyArn": "arn:aws-us-gov:iam::aws:policy/iamfullaccess"},
                "gov",
            ),
            resource(
                ROLE,
                {"managedPolicyArns": [f"{MANAGED}ReadOnlyAccess", f"{MANAGED}job/AWSCloudShellFullAccess"]},
                "shell",
            ),
            resource(POLICY_ATTACHMENT, {"policyArn": f" {MANAGED}AdministratorAccess", "roles": ["r"]}, "legacy"),
        ],
        [
            f"the AWS-managed policy AdministratorAccess is attached ({MANAGED}AdministratorAccess)",
            "the AWS-managed policy IAMFullAccess is attached (arn:aws-us-gov:iam::aws:policy/iamfullaccess)",
            f"the AWS-managed policy AWSCloudShellFullAccess is attached ({MANAGED}job/AWSCloudShellFullAccess)",
            f"the AWS-managed policy AdministratorAccess is attached ( {MANAGED}AdministratorAccess)",
        ],
    ),
    # A template's profile counts; a template without one does not make an instance compliant.
    RelationalCase(
        "aws-ec2-instance-profile",
        [
            resource(INSTANCE, {"ami": "ami-1", "iamInstanceProfile": "bastion"}, "bastion"),
            WITH_PROFILE,
            on(INSTANCE, {"launchTemplate": {"id": UNKNOWN_STRING_VALUE}}, "worker", WITH_PROFILE),
            resource(INSTANCE, {"launchTemplate": {"name": "elsewhere"}}, "external"),
        ],
        [
            resource(INSTANCE, {"ami": "ami-1"}, "bare"),
            WITHOUT_PROFILE,
            on(INSTANCE, {"launchTemplate": {"id": UNKNOWN_STRING_VALUE}}, "templated", WITHOUT_PROFILE),
        ],
        [
            "instance bare has no IAM instance profile (iamInstanceProfile)",
            "instance templated has no IAM instance profile (iamInstanceProfile)",
        ],
    ),
    # Denies numbered first close the ports; all-protocol (-1) entries, ::/0, halves of the internet,
    # port ranges, a deny numbered after the allow, and rules declared on their own are caught.
    RelationalCase(
        "aws-network-acl-no-open-admin-ports",
        [
            PUBLIC_ACL,
            PRIVATE_ACL,
            on(NACL_RULE, acl_rule(100, "allow", "-1", 0, 0, cidrBlock="10.0.0.0/16"), "vpc", PRIVATE_ACL),
            on(NACL_RULE, acl_rule(90, "deny", "6", 0, 65535, cidrBlock="0.0.0.0/0"), "deny", PRIVATE_ACL),
            on(NACL_RULE, acl_rule(100, "allow", "tcp", 22, 22, cidrBlock="0.0.0.0/0"), "ssh", PRIVATE_ACL),
            on(NACL_RULE, acl_rule(100, "allow", "-1", 0, 0, cidrBlock="0.0.0.0/0", egress=True), "out", PRIVATE_ACL),
            resource(NACL, {"ingress": [entry(100, "allow", "icmp", 0, 0, cidrBlock="0.0.0.0/0")]}, "ping"),
            resource(NACL, {"ingress": [entry(100, "allow", "tcp", 22, 22, cidrBlock=UNKNOWN_STRING_VALUE)]}, "later"),
        ],
        [
            resource(DEFAULT_NACL, {"ingress": [entry(100, "allow", "-1", 0, 0, cidrBlock="0.0.0.0/0")]}, "default"),
            resource(
                NACL,
                {
                    "ingress": [
                        entry(200, "deny", "tcp", 22, 22, cidrBlock="0.0.0.0/0"),
                        entry(100, "allow", "tcp", 0, 65535, ipv6CidrBlock="::0/0"),
                        entry(110, "allow", "udp", 3389, 3389, cidrBlock="0.0.0.0/1"),
                        entry(120, "deny", "tcp", 3389, 3389, cidrBlock="203.0.113.0/24"),
                        entry(130, "allow", "tcp", 3389, 3389, cidrBlock="128.0.0.0/1"),
                    ]
                },
                "tricky",
            ),
            SPLIT_ACL,
            on(NACL_RULE, acl_rule(100, "allow", "all", 0, 0, cidrBlock="0.0.0.0/0"), "all", SPLIT_ACL),
            on(NACL_RULE, acl_rule(50, "deny", "tcp", 20, 21, cidrBlock="0.0.0.0/0"), "ftp", SPLIT_ACL),
            resource(
                NACL_RULE, acl_rule(10, "allow", "tcp", 22, 22, networkAclId="acl-0abc", cidrBlock="0.0.0.0/0"), "byid"
            ),
        ],
        [
            "network ACL default admits 0.0.0.0/0 to port(s) 20, 21, 22, 3389 (entry 100)",
            "network ACL tricky admits ::0/0 to port(s) 20, 21, 22, 3389 (entry 100)",
            "network ACL tricky admits 0.0.0.0/1 to port(s) 3389 (entry 110)",
            "network ACL tricky admits 128.0.0.0/1 to port(s) 3389 (entry 130)",
            "network ACL split admits 0.0.0.0/0 to port(s) 22, 3389 (entry 100)",
            "network ACL acl-0abc admits 0.0.0.0/0 to port(s) 22 (entry 10)",
        ],
    ),
    # Each VPC adopts its default group, emptied; rules added to it on their own count too.
    RelationalCase(
        "aws-default-security-group-closed",
        [ORDERS_VPC, ORDERS_DEFAULT],
        [
            ORDERS_VPC,
            ORDERS_DEFAULT,
            OTHER_VPC,
            OPEN_DEFAULT,
            resource(VPC, {"cidrBlock": "10.2.0.0/16"}, "bare"),
            on(
                SG_RULE,
                {"type": "egress", "protocol": "-1", "fromPort": 0, "toPort": 0, "self": True},
                "out",
                ORDERS_DEFAULT,
            ),
            on(
                INGRESS_RULE,
                {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "10.0.0.0/8"},
                "ssh",
                ORDERS_DEFAULT,
            ),
        ],
        [
            "VPC bare does not adopt its default security group, which admits its own members",
            "out adds a rule to default security group orders-default",
            "ssh adds a rule to default security group orders-default",
            "default security group open has ingress rules",
        ],
    ),
    RelationalCase(
        "aws-subnet-no-public-ip-on-launch",
        [resource(SUBNET, {"cidrBlock": "10.0.0.0/24", "mapPublicIpOnLaunch": False}), resource(SUBNET, {}, "unset")],
        [resource(SUBNET, {"mapPublicIpOnLaunch": True}), resource(SUBNET, {"mapPublicIpOnLaunch": "true"}, "text")],
        ["mapPublicIpOnLaunch is true: every instance launched here gets a public IP"] * 2,
    ),
    # ElastiCache clusters take the flag as a string.
    RelationalCase(
        "aws-auto-minor-version-upgrade",
        [
            resource(RDS_INSTANCE, {"engine": "postgres"}),
            resource(CLUSTER_INSTANCE, {"autoMinorVersionUpgrade": True}, "member"),
            resource(CACHE_CLUSTER, {"autoMinorVersionUpgrade": "true"}, "cache"),
        ],
        [
            resource(RDS_INSTANCE, {"autoMinorVersionUpgrade": False}),
            resource(CLUSTER_INSTANCE, {"autoMinorVersionUpgrade": False}, "member"),
            resource(RDS_CLUSTER, {"autoMinorVersionUpgrade": False}, "maz"),
            resource(CACHE_CLUSTER, {"autoMinorVersionUpgrade": "False"}, "cache"),
            resource(REPLICATION_GROUP, {"autoMinorVersionUpgrade": False}, "group"),
        ],
        ["autoMinorVersionUpgrade is false: minor versions (security patches) are not applied"] * 5,
    ),
    # Aurora spans zones through its instances; Multi-AZ DB clusters and instances declared elsewhere pass.
    RelationalCase(
        "aws-rds-multi-az",
        [
            resource(RDS_INSTANCE, {"engine": "postgres", "multiAz": True}),
            AURORA,
            on(CLUSTER_INSTANCE, {"instanceClass": "db.r6g.large"}, "orders-0", AURORA),
            on(CLUSTER_INSTANCE, {"instanceClass": "db.r6g.large"}, "orders-1", AURORA),
            MULTI_AZ_CLUSTER,
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql"}, "headless"),
        ],
        [
            resource(RDS_INSTANCE, {"engine": "postgres"}, "single"),
            resource(RDS_INSTANCE, {"engine": "mysql", "multiAz": False}, "off"),
            AURORA_ONE,
            on(CLUSTER_INSTANCE, {"instanceClass": "db.r6g.large"}, "reporting-0", AURORA_ONE),
            AURORA_ZONE,
            on(CLUSTER_INSTANCE, {"availabilityZone": "eu-west-1a"}, "pinned-0", AURORA_ZONE),
            on(CLUSTER_INSTANCE, {"availabilityZone": "eu-west-1a"}, "pinned-1", AURORA_ZONE),
        ],
        [
            "RDS instance single is not Multi-AZ (prod)",
            "RDS instance off is not Multi-AZ (prod)",
            "Aurora cluster reporting has one instance: no failover to another Availability Zone (prod)",
            "Aurora cluster pinned has every instance in eu-west-1a (prod)",
        ],
    ),
    RelationalCase(
        "aws-rds-iam-authentication",
        [
            resource(RDS_INSTANCE, {"engine": "postgres", "iamDatabaseAuthenticationEnabled": True}),
            resource(RDS_INSTANCE, {"engine": "sqlserver-se"}, "sqlserver"),
            resource(RDS_CLUSTER, {"engine": "aurora-mysql", "iamDatabaseAuthenticationEnabled": True}, "aurora"),
        ],
        [
            resource(RDS_INSTANCE, {"engine": "MySQL"}),
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql", "iamDatabaseAuthenticationEnabled": False}, "aurora"),
        ],
        [
            "iamDatabaseAuthenticationEnabled is not true (mysql)",
            "iamDatabaseAuthenticationEnabled is not true (aurora-postgresql)",
        ],
    ),
    # The engine's audit log, not just any log; an engine without a known audit log needs at least one.
    RelationalCase(
        "aws-rds-log-exports",
        [
            resource(RDS_INSTANCE, {"engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql", "upgrade"]}),
            resource(RDS_CLUSTER, {"engine": "aurora-mysql", "enabledCloudwatchLogsExports": ["audit", "error"]}, "c"),
            resource(RDS_INSTANCE, {"engine": "db2-se", "enabledCloudwatchLogsExports": ["diag.log"]}, "db2"),
        ],
        [
            resource(RDS_INSTANCE, {"engine": "mysql", "enabledCloudwatchLogsExports": ["slowquery", "error"]}),
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql"}, "c"),
            resource(RDS_INSTANCE, {"engine": "oracle-ee", "enabledCloudwatchLogsExports": ["alert"]}, "oracle"),
            resource(RDS_INSTANCE, {"engine": "db2-se"}, "db2"),
        ],
        [
            "the audit log is not exported to CloudWatch Logs (enabledCloudwatchLogsExports)",
            "the postgresql log is not exported to CloudWatch Logs (enabledCloudwatchLogsExports)",
            "the audit log is not exported to CloudWatch Logs (enabledCloudwatchLogsExports)",
            "no log is exported to CloudWatch Logs (enabledCloudwatchLogsExports)",
        ],
    ),
    RelationalCase(
        "aws-efs-encrypted",
        [resource(EFS, {"encrypted": True, "kmsKeyId": "arn:aws:kms:eu-west-1:111122223333:key/k"})],
        [resource(EFS, {}), resource(EFS, {"encrypted": False}, "off")],
        ["encrypted is not true: the file system is stored unencrypted"] * 2,
    ),
    # The add-on by dependency or by clusterName; its configuration as text or an object; an enforcing CNI's chart.
    RelationalCase(
        "aws-eks-network-policy-enforced",
        [
            EKS_CLUSTER,
            on(
                ADDON,
                {"addonName": "vpc-cni", "clusterName": UNKNOWN_STRING_VALUE, "configurationValues": NETWORK_POLICY},
                "cni",
                EKS_CLUSTER,
            ),
            EKS_OTHER,
            on(ADDON, {"addonName": "vpc-cni", "configurationValues": UNKNOWN_STRING_VALUE}, "edge-cni", EKS_OTHER),
        ],
        [
            EKS_CLUSTER,
            resource(
                ADDON,
                {
                    "addonName": "vpc-cni",
                    "clusterName": "prod",
                    "configurationValues": '{"enableNetworkPolicy": "false"}',
                },
                "cni",
            ),
            EKS_OTHER,
            on(ADDON, {"addonName": "coredns", "configurationValues": NETWORK_POLICY}, "dns", EKS_OTHER),
            resource(RELEASE, {"chart": "aws-load-balancer-controller"}, "lbc"),
        ],
        [
            "cluster prod's vpc-cni add-on leaves enableNetworkPolicy off",
            "cluster edge has no vpc-cni add-on with the network policy agent on",
        ],
    ),
    RelationalCase(
        "aws-eks-access-entries",
        [
            resource(
                EKS, {"accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}}
            )
        ],
        [
            resource(EKS, {}),
            resource(
                EKS,
                {
                    "accessConfig": {
                        "authenticationMode": "api_and_config_map",
                        "bootstrapClusterCreatorAdminPermissions": False,
                    }
                },
                "both",
            ),
        ],
        [
            "authenticationMode is CONFIG_MAP: the aws-auth ConfigMap grants access, expected API",
            "the cluster's creator gets cluster-admin (bootstrapClusterCreatorAdminPermissions is not false)",
            "authenticationMode is API_AND_CONFIG_MAP: the aws-auth ConfigMap grants access, expected API",
        ],
    ),
    RelationalCase(
        "aws-eks-node-group-ssh-restricted",
        [
            resource(NODE_GROUP, {"clusterName": "prod"}),
            resource(
                NODE_GROUP, {"remoteAccess": {"ec2SshKey": "ops", "sourceSecurityGroupIds": ["sg-bastion"]}}, "ops"
            ),
        ],
        [resource(NODE_GROUP, {"remoteAccess": {"ec2SshKey": "ops", "sourceSecurityGroupIds": []}})],
        ["SSH to the nodes is open to 0.0.0.0/0 (remoteAccess without sourceSecurityGroupIds)"],
    ),
    # Reads and writes may come from different trails; a selector for some buckets, a disabled trail and
    # an advanced selector narrowed to some events do not count.
    RelationalCase(
        "aws-cloudtrail-s3-data-events",
        [
            trail("writes", eventSelectors=[{"readWriteType": "WriteOnly", "dataResources": ALL_BUCKETS}]),
            trail(
                "reads",
                **advanced(
                    *S3_DATA,
                    {"field": "readOnly", "equals": ["true"]},
                    {"field": "resources.ARN", "notStartsWiths": ["arn:aws:s3:::trail-logs/"]},
                ),
            ),
        ],
        [
            trail(
                "a-bucket",
                eventSelectors=[{"dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::orders/"]}]}],
            ),
            trail("off", enableLogging=False, eventSelectors=[{"readWriteType": "All", "dataResources": ALL_BUCKETS}]),
            trail("puts", **advanced(*S3_DATA, {"field": "eventName", "equals": ["PutObject"]})),
            trail("reads", **advanced(*S3_DATA, {"field": "readOnly", "equals": ["true"]})),
        ],
        ["no trail logs S3 object-level writes (data events) for every bucket"],
    ),
]
