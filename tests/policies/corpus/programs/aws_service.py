"""An order service on AWS, as a team writes it: a private VPC with flow logs, a
PostgreSQL database with backups and forced TLS, a Redis cache, a bucket for uploads, a
queue and a topic, a secret that rotates, a DynamoDB table, an audit trail, all
encrypted with one rotating KMS key and tagged for cost allocation."""

import json

import pulumi
import pulumi_aws as aws

TAGS = {"team": "orders", "cost-center": "cc-1042", "environment": "dev", "service": "orders"}
ACCOUNT = "123456789012"
CIDR = "10.20.0.0/16"

key = aws.kms.Key(
    "orders",
    description="orders data at rest",
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
                },
                {
                    "Sid": "LogsEncrypt",
                    "Effect": "Allow",
                    "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                },
            ],
        }
    ),
    tags=TAGS,
)

vpc = aws.ec2.Vpc("orders", cidr_block=CIDR, enable_dns_hostnames=True, enable_dns_support=True, tags=TAGS)
# Adopted with no rules: nothing placed in the default group by mistake can talk.
aws.ec2.DefaultSecurityGroup("orders-default", vpc_id=vpc.id, tags=TAGS)
subnets = [
    aws.ec2.Subnet(
        f"private-{zone}",
        vpc_id=vpc.id,
        cidr_block=f"10.20.{index}.0/24",
        availability_zone=f"eu-west-1{zone}",
        map_public_ip_on_launch=False,
        tags=TAGS,
    )
    for index, zone in enumerate(("a", "b"))
]

flow_logs = aws.cloudwatch.LogGroup("vpc-flow-logs", retention_in_days=14, kms_key_id=key.arn, tags=TAGS)
flow_role = aws.iam.Role(
    "vpc-flow-logs",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
    tags=TAGS,
)
aws.iam.RolePolicy(
    "vpc-flow-logs",
    role=flow_role.id,
    policy=flow_logs.arn.apply(
        lambda arn: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": f"{arn}:*",
                    }
                ],
            }
        )
    ),
)
aws.ec2.FlowLog(
    "orders",
    vpc_id=vpc.id,
    traffic_type="ALL",
    log_destination=flow_logs.arn,
    iam_role_arn=flow_role.arn,
    tags=TAGS,
)

app = aws.ec2.SecurityGroup(
    "orders-app",
    vpc_id=vpc.id,
    description="orders service tasks",
    ingress=[{"protocol": "tcp", "from_port": 8443, "to_port": 8443, "cidr_blocks": [CIDR]}],
    egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [CIDR]}],
    tags=TAGS,
)
database_group = aws.ec2.SecurityGroup("orders-db", vpc_id=vpc.id, description="orders database", tags=TAGS)
aws.ec2.SecurityGroupRule(
    "orders-db-from-app",
    type="ingress",
    security_group_id=database_group.id,
    source_security_group_id=app.id,
    protocol="tcp",
    from_port=5432,
    to_port=5432,
)
aws.vpc.SecurityGroupEgressRule(
    "orders-db-to-vpc",
    security_group_id=database_group.id,
    cidr_ipv4=CIDR,
    ip_protocol="tcp",
    from_port=443,
    to_port=443,
    tags=TAGS,
)

subnet_group = aws.rds.SubnetGroup("orders", subnet_ids=[s.id for s in subnets], tags=TAGS)
parameters = aws.rds.ParameterGroup(
    "orders-postgres16",
    name="orders-postgres16",
    family="postgres16",
    parameters=[
        {"name": "rds.force_ssl", "value": "1"},
        {"name": "log_connections", "value": "1"},
    ],
    tags=TAGS,
)
aws.rds.Instance(
    "orders",
    engine="postgres",
    engine_version="16.4",
    instance_class="db.t4g.medium",
    allocated_storage=50,
    storage_type="gp3",
    db_name="orders",
    username="orders_admin",
    manage_master_user_password=True,
    db_subnet_group_name=subnet_group.name,
    vpc_security_group_ids=[database_group.id],
    parameter_group_name=parameters.name,
    publicly_accessible=False,
    storage_encrypted=True,
    kms_key_id=key.arn,
    backup_retention_period=7,
    backup_window="02:00-03:00",
    copy_tags_to_snapshot=True,
    deletion_protection=True,
    iam_database_authentication_enabled=True,
    multi_az=True,
    enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
    final_snapshot_identifier="orders-final",
    tags=TAGS,
)

cache_subnets = aws.elasticache.SubnetGroup("orders", subnet_ids=[s.id for s in subnets], tags=TAGS)
aws.elasticache.ReplicationGroup(
    "orders-cache",
    description="orders sessions",
    engine="redis",
    engine_version="7.1",
    node_type="cache.t4g.small",
    num_cache_clusters=2,
    automatic_failover_enabled=True,
    multi_az_enabled=True,
    subnet_group_name=cache_subnets.name,
    security_group_ids=[app.id],
    at_rest_encryption_enabled=True,
    transit_encryption_enabled=True,
    kms_key_id=key.arn,
    auth_token=pulumi.Config().require_secret("cacheAuthToken"),
    snapshot_retention_limit=7,
    snapshot_window="03:00-04:00",
    tags=TAGS,
)

uploads = aws.s3.Bucket("orders-uploads", tags=TAGS)
aws.s3.BucketPublicAccessBlock(
    "orders-uploads",
    bucket=uploads.id,
    block_public_acls=True,
    block_public_policy=True,
    ignore_public_acls=True,
    restrict_public_buckets=True,
)
aws.s3.BucketServerSideEncryptionConfiguration(
    "orders-uploads",
    bucket=uploads.id,
    rules=[
        {
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
            "bucket_key_enabled": True,
        }
    ],
)
aws.s3.BucketVersioning("orders-uploads", bucket=uploads.id, versioning_configuration={"status": "Enabled"})
aws.s3.BucketLifecycleConfiguration(
    "orders-uploads",
    bucket=uploads.id,
    rules=[
        {
            "id": "expire-old-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "expiration": {"days": 365},
            "noncurrent_version_expiration": {"noncurrent_days": 30},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
    ],
)
aws.s3.BucketPolicy(
    "orders-uploads",
    bucket=uploads.id,
    policy=pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [uploads.arn, pulumi.Output.concat(uploads.arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "CloudTrailWrites",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(uploads.arn, f"/audit/AWSLogs/{ACCOUNT}/*"),
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                },
            ],
        }
    ),
)

events = aws.sns.Topic("order-events", kms_master_key_id=key.id, tags=TAGS)
queue = aws.sqs.Queue(
    "order-fulfilment",
    kms_master_key_id=key.id,
    kms_data_key_reuse_period_seconds=300,
    visibility_timeout_seconds=60,
    tags=TAGS,
)
aws.sqs.QueuePolicy(
    "order-fulfilment",
    queue_url=queue.url,
    policy=pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TopicDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": events.arn}},
                }
            ],
        }
    ),
)
aws.sns.TopicSubscription("order-fulfilment", topic=events.arn, protocol="sqs", endpoint=queue.arn)

api_key = aws.secretsmanager.Secret("payment-provider-key", kms_key_id=key.arn, recovery_window_in_days=7, tags=TAGS)
aws.secretsmanager.SecretRotation(
    "payment-provider-key",
    secret_id=api_key.id,
    rotation_lambda_arn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:rotate-payment-key",
    rotation_rules={"automatically_after_days": 30},
)

aws.dynamodb.Table(
    "order-idempotency",
    billing_mode="PAY_PER_REQUEST",
    hash_key="key",
    attributes=[{"name": "key", "type": "S"}],
    ttl={"attribute_name": "expiresAt", "enabled": True},
    point_in_time_recovery={"enabled": True},
    server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
    deletion_protection_enabled=True,
    tags=TAGS,
)

aws.cloudtrail.Trail(
    "orders-audit",
    s3_bucket_name=uploads.id,
    s3_key_prefix="audit",
    is_multi_region_trail=True,
    include_global_service_events=True,
    enable_log_file_validation=True,
    enable_logging=True,
    kms_key_id=key.arn,
    event_selectors=[
        {"read_write_type": "All", "data_resources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}
    ],
    tags=TAGS,
)

aws.budgets.Budget(
    "orders-monthly",
    budget_type="COST",
    limit_amount="400",
    limit_unit="USD",
    time_unit="MONTHLY",
    notifications=[
        {
            "comparison_operator": "GREATER_THAN",
            "threshold": threshold,
            "threshold_type": "PERCENTAGE",
            "notification_type": "ACTUAL",
            "subscriber_email_addresses": ["orders-team@example.com"],
        }
        for threshold in (80, 100)
    ],
    tags=TAGS,
)
