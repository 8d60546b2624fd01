"""An Aurora MySQL cluster for a reporting service: storage encrypted with a rotating
key, two weeks of automated backups, TLS required through the cluster parameter group,
two private instances, the master password kept by Secrets Manager."""

import json

import pulumi_aws as aws

TAGS = {"team": "reporting", "cost-center": "cc-6200", "environment": "dev", "service": "reporting-db"}
ACCOUNT = "123456789012"

key = aws.kms.Key(
    "reporting",
    description="reporting database",
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
parameters = aws.rds.ClusterParameterGroup(
    "reporting-aurora-mysql8",
    name="reporting-aurora-mysql8",
    family="aurora-mysql8.0",
    parameters=[
        {"name": "require_secure_transport", "value": "ON"},
        {"name": "tls_version", "value": "TLSv1.2,TLSv1.3"},
    ],
    tags=TAGS,
)
cluster = aws.rds.Cluster(
    "reporting",
    cluster_identifier="reporting",
    engine="aurora-mysql",
    engine_version="8.0.mysql_aurora.3.08.0",
    database_name="reporting",
    master_username="reporting_admin",
    manage_master_user_password=True,
    master_user_secret_kms_key_id=key.arn,
    db_cluster_parameter_group_name=parameters.name,
    db_subnet_group_name="reporting-private",
    vpc_security_group_ids=["sg-0a1b2c3d4e5f60718"],
    storage_encrypted=True,
    kms_key_id=key.arn,
    backup_retention_period=14,
    preferred_backup_window="01:00-02:00",
    copy_tags_to_snapshot=True,
    deletion_protection=True,
    iam_database_authentication_enabled=True,
    enabled_cloudwatch_logs_exports=["audit", "error", "slowquery"],
    final_snapshot_identifier="reporting-final",
    tags=TAGS,
)
for index in range(2):
    aws.rds.ClusterInstance(
        f"reporting-{index}",
        identifier=f"reporting-{index}",
        cluster_identifier=cluster.id,
        engine="aurora-mysql",
        instance_class="db.t4g.medium",
        publicly_accessible=False,
        tags=TAGS,
    )
aws.budgets.Budget(
    "reporting-monthly",
    budget_type="COST",
    limit_amount="300",
    limit_unit="USD",
    time_unit="MONTHLY",
    notifications=[
        {
            "comparison_operator": "GREATER_THAN",
            "threshold": threshold,
            "threshold_type": "PERCENTAGE",
            "notification_type": "ACTUAL",
            "subscriber_email_addresses": ["reporting@example.com"],
        }
        for threshold in (80, 100)
    ],
    tags=TAGS,
)
