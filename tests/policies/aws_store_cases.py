"""Cases for issue #19's AWS rules: egress, public buckets and resource policies, backups,
TLS and encryption of the data stores, secret rotation, CloudTrail and API Gateway; and
the ways around them (::/0 spelled otherwise, ranges split in halves, conditions that
narrow nothing, values in a resource of their own). test_rules.py adds them to its table."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.policies.cases import resource
from tests.policies.relational_cases import RelationalCase

SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
BUCKET_ACL_V2 = "aws:s3/bucketAclV2:BucketAclV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
GLOBAL_CLUSTER = "aws:rds/globalCluster:GlobalCluster"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_CLUSTER = "aws:elasticache/cluster:Cluster"
SERVERLESS_CACHE = "aws:elasticache/serverlessCache:ServerlessCache"
VOLUME = "aws:ebs/volume:Volume"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
SPOT_INSTANCE = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
BY_DEFAULT = "aws:ebs/encryptionByDefault:EncryptionByDefault"
SECRET = "aws:secretsmanager/secret:Secret"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
METHOD = "aws:apigateway/method:Method"
ROUTE = "aws:apigatewayv2/route:Route"
API = "aws:apigatewayv2/api:Api"
ACCOUNT = "111122223333"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
NO_CONDITION = "allows every principal with no condition on the caller's account, organization, network or source"


def policy(*statements: dict[str, Any], as_text: bool = True) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"policy": json.dumps(document) if as_text else document}


def allow(principal: Any, condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "*", "Resource": "*", **extra}
    return {**statement, "Condition": condition} if condition is not None else statement


def rule_(kind: str, props: dict[str, Any], name: str, *depends_on: Any) -> Any:
    return resource(kind, props, name, tuple(d.urn for d in depends_on))


def tcp(low: int, high: int, **ranges: Any) -> dict[str, Any]:
    return {"protocol": "tcp", "fromPort": low, "toPort": high, **ranges}


ALL = {"protocol": "-1", "fromPort": 0, "toPort": 0}

# --- RDS parameter groups: named, auto-named, and unknown until deployment.
TLS_GROUP = rule_(
    CLUSTER_PARAMETER_GROUP,
    {"name": "db-params", "family": "aurora-postgresql16", "parameters": [{"name": "rds.force_ssl", "value": "1"}]},
    "db-params",
)
MYSQL_GROUP = rule_(
    PARAMETER_GROUP,
    {"family": "mysql8.0", "parameters": [{"name": "require_secure_transport", "value": "ON"}]},
    "mysql",
)
PG_GROUP = rule_(
    PARAMETER_GROUP,
    {
        "name": "pg",
        "family": "postgres16",
        "parameters": [{"name": "rds.force_ssl", "value": "1"}, {"name": "RDS.FORCE_SSL", "value": "0"}],
    },
    "pg",
)
MYSQL_OFF = rule_(
    PARAMETER_GROUP,
    {"name": "mysql-off", "family": "mysql8.0", "parameters": [{"name": "require_secure_transport", "value": "OFF"}]},
    "mysql-off",
)
AURORA_MYSQL_GROUP = rule_(
    CLUSTER_PARAMETER_GROUP,
    {"name": "amy", "family": "aurora-mysql8.0", "parameters": [{"name": "time_zone", "value": "UTC"}]},
    "amy",
)

# --- Secrets: named, auto-named (its rotation's secretId unknown), and by ARN.
DB_SECRET = resource(SECRET, {"name": "prod/db"}, "db")
API_SECRET = resource(SECRET, {}, "api-key")
ARN_SECRET = resource(SECRET, {"name": "prod/x"}, "x")
EVERY_30 = {"automaticallyAfterDays": 30}

WEBSOCKET = resource(API, {"protocolType": "WEBSOCKET", "routeSelectionExpression": "$request.body.action"}, "ws")
HTTP = resource(API, {"protocolType": "HTTP"}, "http")

AWS_STORE_CASES: list[RelationalCase] = [
    # ::/0 like 0.0.0.0/0, in every spelling and place; halves of the internet count as all of it.
    RelationalCase(
        "aws-security-group-no-open-ingress",
        [
            resource(SG, {"ingress": [tcp(5432, 5432, cidrBlocks=["10.0.0.0/8"], ipv6CidrBlocks=["fc00::/7"])]}),
            resource(DEFAULT_SG, {"ingress": [], "egress": []}, "default"),
            resource(SG_RULE, {"type": "ingress", **tcp(443, 443), "prefixListIds": ["pl-123"]}, "pl"),
        ],
        [
            resource(SG, {"ingress": [tcp(22, 22, ipv6CidrBlocks=["::/0"])]}, "v6"),
            resource(DEFAULT_SG, {"ingress": [{**ALL, "ipv6CidrBlocks": ["::0/0"]}]}, "default"),
            resource(SG_RULE, {"type": "ingress", **tcp(3389, 3389, cidrBlocks=["0.0.0.0/1", "128.0.0.0/1"])}),
        ],
        [
            "ingress from ::/0 on ports 22-22",
            "ingress from ::0/0 on every port (all protocols)",
            "ingress from 0.0.0.0/1, 128.0.0.0/1 on ports 3389-3389",
        ],
    ),
    RelationalCase(
        "aws-security-group-no-open-egress",
        [
            resource(SG, {"egress": [tcp(443, 443, cidrBlocks=["0.0.0.0/0"], ipv6CidrBlocks=["::/0"])]}, "https"),
            resource(SG, {"egress": [{**ALL, "cidrBlocks": ["10.0.0.0/16"]}]}, "vpc"),
            resource(SG_RULE, {"type": "egress", **ALL, "prefixListIds": ["pl-s3"]}, "s3"),
            resource(SG_RULE, {"type": "ingress", **tcp(443, 443, cidrBlocks=["0.0.0.0/0"])}, "in"),
            resource(EGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv6": "::/0"}),
        ],
        [
            resource(SG, {"egress": [{**ALL, "cidrBlocks": ["0.0.0.0/0"]}]}, "all"),
            resource(SG_RULE, {"type": "egress", **tcp(0, 65535, ipv6CidrBlocks=["::/0"])}, "tcp"),
            resource(EGRESS_RULE, {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}, "vpc-all"),
            resource(EGRESS_RULE, {"ipProtocol": "udp", "fromPort": 53, "toPort": 53, "cidrIpv6": "2000::/3"}, "dns"),
            resource(DEFAULT_SG, {"egress": [tcp(443, 444, cidrBlocks=["0.0.0.0/0"])]}, "default"),
        ],
        [
            "egress to 0.0.0.0/0 on every port (all protocols); internet ports allowed: 443",
            "egress to ::/0 on ports 0-65535; internet ports allowed: 443",
            "egress to 0.0.0.0/0 on every port (all protocols); internet ports allowed: 443",
            "egress to 2000::/3 on ports 53-53; internet ports allowed: 443",
            "egress to 0.0.0.0/0 on ports 443-444; internet ports allowed: 443",
        ],
    ),
    RelationalCase(
        "aws-s3-not-public",
        [
            resource(BUCKET, {"bucket": "logs", "acl": "private"}, "logs"),
            resource(BUCKET_ACL_V2, {"bucket": "logs", "acl": "log-delivery-write"}, "acl"),
            resource(
                BUCKET_ACL,
                {
                    "bucket": "logs",
                    "accessControlPolicy": {
                        "owner": {"id": "o"},
                        "grants": [{"grantee": {"type": "CanonicalUser", "id": "o"}, "permission": "FULL_CONTROL"}],
                    },
                },
                "grants",
            ),
            resource(
                BUCKET_POLICY,
                policy(
                    # CloudFront with Origin Access Control; TLS only; an organization's principals.
                    allow({"Service": "cloudfront.amazonaws.com"}, {"StringEquals": {"AWS:SourceArn": "arn:cf"}}),
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    allow("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
                ),
                "policy",
            ),
        ],
        [
            resource(BUCKET, {"bucket": "site", "acl": "PUBLIC-READ"}, "site"),
            resource(BUCKET_ACL_V2, {"bucket": "site", "acl": "authenticated-read"}, "acl"),
            resource(
                BUCKET_ACL,
                {
                    "bucket": "site",
                    "accessControlPolicy": {
                        "grants": [{"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ"}]
                    },
                },
                "grants",
            ),
            resource(
                BUCKET,
                {"bucket": "x", "grants": [{"type": "Group", "uri": AUTHENTICATED, "permissions": ["READ", "WRITE"]}]},
                "inline",
            ),
            resource(
                BUCKET_POLICY,
                policy(
                    allow({"AWS": ["*"]}, {"Bool": {"aws:SecureTransport": "true"}}, Sid="TlsIsNoScope"),
                    allow("*", {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, Sid="Negated"),
                    allow("*", {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, Sid="IfExists"),
                    allow("*", {"IpAddress": {"aws:SourceIp": ["0.0.0.0/0"]}}, Sid="AnyIp"),
                    {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject"},
                    as_text=False,
                ),
                "policy",
            ),
        ],
        [
            "acl public-read opens the bucket to everyone",
            "acl authenticated-read opens the bucket to any AWS account",
            "a grant gives READ to AllUsers",
            "a grant gives READ, WRITE to AuthenticatedUsers",
            f"policy statement TlsIsNoScope {NO_CONDITION}",
            f"policy statement Negated {NO_CONDITION}",
            f"policy statement IfExists {NO_CONDITION}",
            f"policy statement AnyIp {NO_CONDITION}",
            f"policy statement 4 {NO_CONDITION}",
        ],
    ),
    RelationalCase(
        "aws-resource-policy-not-public",
        [
            resource(
                "aws:sqs/queuePolicy:QueuePolicy",
                policy(
                    allow(
                        {"Service": "sns.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:eu-west-1:1:t"}}
                    )
                ),
                "q",
            ),
            resource(
                "aws:sns/topicPolicy:TopicPolicy",
                policy(allow({"AWS": "*"}, {"StringEquals": {"AWS:SourceOwner": ACCOUNT}})),
                "t",
            ),
            resource(
                "aws:ecr/repositoryPolicy:RepositoryPolicy",
                policy(allow("*", {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-1/r-1/ou-1/*"]}})),
                "r",
            ),
            resource(
                "aws:secretsmanager/secretPolicy:SecretPolicy",
                policy(allow({"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"})),
                "s",
            ),
            resource("aws:lambda/permission:Permission", {"principal": "s3.amazonaws.com", "function": "f"}, "p1"),
            resource("aws:lambda/permission:Permission", {"principal": "*", "sourceAccount": ACCOUNT}, "p2"),
            resource(
                "aws:lambda/layerVersionPermission:LayerVersionPermission",
                {"principal": "*", "organizationId": "o-abc123"},
                "layer",
            ),
        ],
        [
            resource("aws:sqs/queue:Queue", policy(allow("*")), "queue"),
            # ForAllValues: holds when the caller has no org id at all.
            resource(
                "aws:sns/topicPolicy:TopicPolicy",
                policy(allow({"AWS": "*"}, {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ["o-1"]}})),
                "t",
            ),
            resource("aws:ecr/repositoryPolicy:RepositoryPolicy", policy(allow({"AWS": "*"}, Sid="Pull")), "r"),
            resource(
                "aws:secretsmanager/secret:Secret",
                policy({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:role/x"}}),
                "s",
            ),
            resource("aws:lambda/permission:Permission", {"principal": "*", "function": "f"}, "p1"),
            resource(
                "aws:lambda/permission:Permission",
                {"principal": "*", "functionUrlAuthType": "NONE", "sourceAccount": ACCOUNT},
                "p2",
            ),
            resource("aws:lambda/layerVersionPermission:LayerVersionPermission", {"principal": "*"}, "layer"),
        ],
        [
            f"policy statement 0 {NO_CONDITION}",
            f"policy statement 0 {NO_CONDITION}",
            f"policy statement Pull {NO_CONDITION}",
            f"policy statement 0 {NO_CONDITION}",
            "principal '*' may invoke the function: no sourceArn, sourceAccount or principalOrgId",
            "principal '*' may invoke the function URL without authentication (functionUrlAuthType NONE)",
            "the layer is shared with every AWS account (principal '*', no organizationId)",
        ],
    ),
    RelationalCase(
        "aws-rds-encrypted",
        [
            resource(GLOBAL_CLUSTER, {"storageEncrypted": True}, "global"),
            resource(GLOBAL_CLUSTER, {"sourceDbClusterIdentifier": "arn:aws:rds:eu-west-1:1:cluster:db"}, "from"),
            resource(RDS_INSTANCE, {"replicateSourceDb": "db-primary"}, "replica"),
        ],
        [
            resource(GLOBAL_CLUSTER, {"engine": "aurora-postgresql"}, "global"),
            resource(RDS_INSTANCE, {"replicateSourceDb": "db-primary", "storageEncrypted": False}, "replica"),
        ],
        ["storageEncrypted is not true", "storageEncrypted is not true"],
    ),
    RelationalCase(
        "aws-rds-backups",
        [
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql", "backupRetentionPeriod": 7}, "cluster"),
            resource(RDS_INSTANCE, {"engine": "mysql", "backupRetentionPeriod": 35}, "db"),
            resource(RDS_INSTANCE, {"engine": "postgres", "replicateSourceDb": "db"}, "replica"),
        ],
        [
            resource(RDS_INSTANCE, {"engine": "postgres", "backupRetentionPeriod": 0}, "off"),
            resource(RDS_CLUSTER, {"engine": "aurora-mysql", "backupRetentionPeriod": 1}, "short"),
            resource(RDS_INSTANCE, {"engine": "mariadb"}, "unset"),
        ],
        [
            "automated backups are off (backupRetentionPeriod 0): no point-in-time recovery",
            "backupRetentionPeriod is 1 day(s), expected at least 7",
            "backupRetentionPeriod is unset (AWS keeps 1 day), expected at least 7",
        ],
    ),
    # The database names its parameter group, or depends on it while the name is unknown.
    RelationalCase(
        "aws-rds-tls-required",
        [
            TLS_GROUP,
            MYSQL_GROUP,
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql", "dbClusterParameterGroupName": "db-params"}, "a"),
            resource(RDS_INSTANCE, {"engine": "mysql", "parameterGroupName": "mysql-0a1b2c3"}, "b"),
            rule_(
                RDS_CLUSTER,
                {"engine": "aurora-postgresql", "dbClusterParameterGroupName": UNKNOWN_STRING_VALUE},
                "c",
                TLS_GROUP,
            ),
            # RDS for PostgreSQL 15+ forces TLS by default; Oracle is not judged; a shared group is not read.
            resource(RDS_INSTANCE, {"engine": "postgres", "engineVersion": "16.3"}, "d"),
            resource(RDS_INSTANCE, {"engine": "oracle-ee"}, "e"),
            resource(RDS_INSTANCE, {"engine": "postgres", "parameterGroupName": "shared-params"}, "f"),
        ],
        [
            PG_GROUP,
            MYSQL_OFF,
            AURORA_MYSQL_GROUP,
            resource(RDS_CLUSTER, {"engine": "aurora-postgresql"}, "a"),
            resource(RDS_INSTANCE, {"engine": "postgres", "parameterGroupName": "default.postgres14"}, "b"),
            resource(RDS_INSTANCE, {"engine": "postgres", "parameterGroupName": "pg"}, "c"),
            resource(RDS_INSTANCE, {"engine": "MySQL", "parameterGroupName": "mysql-off"}, "d"),
            rule_(
                RDS_CLUSTER,
                {"engine": "aurora-mysql", "dbClusterParameterGroupName": UNKNOWN_STRING_VALUE},
                "e",
                AURORA_MYSQL_GROUP,
            ),
        ],
        [
            "a: rds.force_ssl is not 1 (the engine's default group leaves it off): clients may connect without TLS",
            "b: rds.force_ssl is not 1 (the engine's default group leaves it off): clients may connect without TLS",
            "c: rds.force_ssl is 0 in parameter group pg: clients may connect without TLS",
            "d: require_secure_transport is OFF in parameter group mysql-off: clients may connect without TLS",
            "e: require_secure_transport is not 1 (parameter group amy does not set it): clients may connect "
            "without TLS",
        ],
    ),
    RelationalCase(
        "aws-elasticache-backups",
        [
            resource(REPLICATION_GROUP, {"engine": "valkey", "snapshotRetentionLimit": 1}, "group"),
            resource(CACHE_CLUSTER, {"engine": "memcached"}, "memcached"),
            resource(CACHE_CLUSTER, {"replicationGroupId": "group"}, "member"),
            resource(SERVERLESS_CACHE, {"engine": "valkey", "snapshotRetentionLimit": 3}, "serverless"),
        ],
        [
            resource(REPLICATION_GROUP, {"engine": "redis"}, "group"),
            resource(CACHE_CLUSTER, {"engine": "redis", "snapshotRetentionLimit": 0}, "single"),
            resource(SERVERLESS_CACHE, {"engine": "valkey"}, "serverless"),
        ],
        ["snapshotRetentionLimit is 0, expected at least 1 day(s)"] * 3,
    ),
    RelationalCase(
        "aws-ebs-encrypted",
        [
            resource(VOLUME, {"size": 50, "encrypted": True}, "data"),
            resource(
                INSTANCE,
                {
                    "rootBlockDevice": {"encrypted": True},
                    "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True}],
                },
                "vm",
            ),
            resource(INSTANCE, {"launchTemplate": {"name": "nodes"}}, "from-template"),
            resource(
                LAUNCH_TEMPLATE,
                {
                    "blockDeviceMappings": [
                        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}},
                        {"deviceName": "/dev/sdb", "virtualName": "ephemeral0"},
                    ]
                },
                "nodes",
            ),
        ],
        [
            resource(BY_DEFAULT, {"enabled": False}, "off"),
            resource(VOLUME, {"size": 50}, "data"),
            resource(
                INSTANCE,
                {"rootBlockDevice": {"encrypted": False}, "ebsBlockDevices": [{"deviceName": "/dev/sdf"}]},
                "vm",
            ),
            resource(INSTANCE, {"instanceType": "t3.micro"}, "bare"),
            resource(
                LAUNCH_TEMPLATE,
                {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
                "nodes",
            ),
            resource(LAUNCH_TEMPLATE, {"metadataOptions": {"httpTokens": "required"}}, "unmapped"),
            resource(LAUNCH_CONFIGURATION, {"rootBlockDevice": {"volumeSize": 20}}, "legacy"),
            resource(SPOT_INSTANCE, {"rootBlockDevice": {"encrypted": "False"}}, "spot"),
        ],
        [
            "data: the volume is not encrypted",
            "vm: the root volume is not encrypted",
            "vm: volume /dev/sdf is not encrypted",
            "bare: the root volume is not encrypted",
            "nodes: volume /dev/xvda is not encrypted",
            "unmapped: the root volume (no block device mapping: the AMI's snapshot decides) is not encrypted",
            "legacy: the root volume is not encrypted",
            "spot: the root volume is not encrypted",
        ],
    ),
    # Encryption by default, declared for the region, covers every volume.
    RelationalCase(
        "aws-ebs-encrypted",
        [resource(BY_DEFAULT, {"enabled": True}, "on"), resource(VOLUME, {"size": 50}, "data")],
        [resource(VOLUME, {"size": 50}, "data")],
        ["data: the volume is not encrypted"],
    ),
    RelationalCase(
        "aws-sqs-encrypted",
        [
            resource("aws:sqs/queue:Queue", {"name": "jobs"}, "default-sse"),
            resource("aws:sqs/queue:Queue", {"kmsMasterKeyId": "alias/jobs", "sqsManagedSseEnabled": False}, "kms"),
        ],
        [resource("aws:sqs/queue:Queue", {"sqsManagedSseEnabled": False}, "plain")],
        ["messages are stored unencrypted (sqsManagedSseEnabled false, no kmsMasterKeyId)"],
    ),
    RelationalCase(
        "aws-sns-encrypted",
        [resource("aws:sns/topic:Topic", {"kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k"})],
        [resource("aws:sns/topic:Topic", {"kmsMasterKeyId": ""})],
        ["no kmsMasterKeyId: messages are stored unencrypted"],
    ),
    RelationalCase(
        "aws-cloudwatch-logs-encrypted",
        [resource("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30, "kmsKeyId": "arn:aws:kms:k"})],
        [resource("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30})],
        ["no kmsKeyId: the log group is not encrypted with a customer-managed key"],
    ),
    # A rotation names its secret (name or ARN), or depends on it alone while its id is unknown.
    RelationalCase(
        "aws-secretsmanager-rotation",
        [
            DB_SECRET,
            API_SECRET,
            ARN_SECRET,
            resource(ROTATION, {"secretId": "prod/db", "rotationRules": EVERY_30}, "db-rotation"),
            rule_(
                ROTATION,
                {"secretId": UNKNOWN_STRING_VALUE, "rotationRules": {"scheduleExpression": "rate(30 days)"}},
                "api-rotation",
                API_SECRET,
            ),
            resource(
                ROTATION,
                {
                    "secretId": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:prod/x-AbC123",
                    "rotationRules": EVERY_30,
                },
                "x-rotation",
            ),
        ],
        [
            DB_SECRET,
            API_SECRET,
            ARN_SECRET,
            resource(SECRET, {"name": "prod/y"}, "y"),
            resource(SECRET, {"name": "prod/z"}, "z"),
            # Depends on `db` but names `x`: `db` has none.
            rule_(ROTATION, {"secretId": "prod/x", "rotationRules": {"automaticallyAfterDays": 365}}, "r1", DB_SECRET),
            rule_(
                ROTATION,
                {"secretId": UNKNOWN_STRING_VALUE, "rotationEnabled": False, "rotationRules": EVERY_30},
                "r2",
                API_SECRET,
            ),
            resource(ROTATION, {"secretId": "prod/y", "rotationRules": {"scheduleExpression": "rate(120 days)"}}, "r3"),
        ],
        [
            "secret db has no rotation",
            "secret api-key's rotation is switched off (rotationEnabled false)",
            "secret x rotates every 365 days, expected at most 90",
            "secret y rotates every 120 days, expected at most 90",
            "secret z has no rotation",
        ],
    ),
    RelationalCase(
        "aws-cloudtrail-hardened",
        [
            resource(
                "aws:cloudtrail/trail:Trail",
                {
                    "s3BucketName": "trail",
                    "isMultiRegionTrail": True,
                    "enableLogFileValidation": True,
                    "kmsKeyId": "arn:aws:kms:k",
                    "includeGlobalServiceEvents": True,
                },
            ),
        ],
        [
            resource(
                "aws:cloudtrail/trail:Trail",
                {"s3BucketName": "trail", "enableLogging": False, "isMultiRegionTrail": False},
            ),
        ],
        [
            "logging is switched off (enableLogging false)",
            "only one region is logged (isMultiRegionTrail is not true)",
            "log files are not validated (enableLogFileValidation is not true)",
            "log files are not encrypted with a KMS key (kmsKeyId)",
        ],
    ),
    RelationalCase(
        "aws-apigateway-authorization",
        [
            resource(METHOD, {"httpMethod": "GET", "authorization": "AWS_IAM"}, "get"),
            resource(METHOD, {"httpMethod": "options", "authorization": "NONE"}, "cors"),
            WEBSOCKET,
            HTTP,
            rule_(ROUTE, {"routeKey": "GET /items", "authorizationType": "JWT", "authorizerId": "a"}, "r1", HTTP),
            rule_(ROUTE, {"routeKey": "OPTIONS /items"}, "r2", HTTP),
            rule_(ROUTE, {"routeKey": "$connect", "authorizationType": "CUSTOM", "authorizerId": "a"}, "r3", WEBSOCKET),
            rule_(ROUTE, {"routeKey": "$default"}, "r4", WEBSOCKET),
            rule_(ROUTE, {"routeKey": "sendMessage"}, "r5", WEBSOCKET),
            resource(API, {"protocolType": "HTTP", "name": "no-quick-create"}, "plain"),
        ],
        [
            resource(METHOD, {"httpMethod": "POST", "authorization": "none", "apiKeyRequired": True}, "post"),
            WEBSOCKET,
            HTTP,
            rule_(ROUTE, {"routeKey": "ANY /{proxy+}"}, "r1", HTTP),
            rule_(ROUTE, {"routeKey": "$default", "authorizationType": "NONE"}, "r2", HTTP),
            rule_(ROUTE, {"routeKey": "$connect"}, "r3", WEBSOCKET),
            resource(API, {"protocolType": "HTTP", "target": "arn:aws:lambda:eu-west-1:1:function:f"}, "quick"),
        ],
        [
            "method POST of post has no authorization (authorization NONE)",
            "r1: route 'ANY /{proxy+}' has no authorization (authorizationType NONE)",
            "r2: route '$default' has no authorization (authorizationType NONE)",
            "r3: route '$connect' has no authorization (authorizationType NONE)",
            "quick: the quick-create route (target) has no authorization",
        ],
    ),
    RelationalCase(
        "aws-apigateway-access-logging",
        [
            resource(
                "aws:apigateway/stage:Stage",
                {
                    "stageName": "v1",
                    "accessLogSettings": {
                        "destinationArn": "arn:aws:logs:eu-west-1:1:log-group:api",
                        "format": "$context.requestId",
                    },
                },
                "rest",
            ),
            resource(
                "aws:apigatewayv2/stage:Stage",
                {
                    "name": "$default",
                    "accessLogSettings": {
                        "destinationArn": "arn:aws:logs:eu-west-1:1:log-group:http",
                        "format": "$context.requestId",
                    },
                },
                "http",
            ),
        ],
        [
            resource("aws:apigateway/stage:Stage", {"stageName": "v1"}, "rest"),
            resource(
                "aws:apigatewayv2/stage:Stage", {"name": "$default", "accessLogSettings": {"format": "x"}}, "http"
            ),
        ],
        ["no access logs (accessLogSettings.destinationArn)"] * 2,
    ),
    RelationalCase(
        "aws-dynamodb-backups",
        [
            resource(
                "aws:dynamodb/table:Table",
                {
                    "hashKey": "id",
                    "pointInTimeRecovery": {"enabled": True},
                    "replicas": [{"regionName": "eu-west-2", "pointInTimeRecovery": True}],
                },
            ),
        ],
        [
            resource("aws:dynamodb/table:Table", {"hashKey": "id"}, "plain"),
            resource(
                "aws:dynamodb/table:Table",
                {"hashKey": "id", "pointInTimeRecovery": {"enabled": True}, "replicas": [{"regionName": "eu-west-2"}]},
                "global",
            ),
        ],
        [
            "point-in-time recovery is off (pointInTimeRecovery.enabled)",
            "point-in-time recovery is off on the replica in eu-west-2",
        ],
    ),
]
