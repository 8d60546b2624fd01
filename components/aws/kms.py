"""A customer-managed KMS key that rotates every year, with an alias: one per use, so a
key's grants stay as narrow as its use."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws


def rotating_key(
    name: str,
    purpose: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    deletion_window_days: int = 30,
    policy: pulumi.Input[str] | None = None,
) -> aws.kms.Key:
    """`policy`: the key policy, where a service must use the key (unset: the account's default)."""
    key = aws.kms.Key(
        f"{name}-key",
        description=purpose,
        policy=policy,
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=deletion_window_days,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.kms.Alias(
        f"{name}-key-alias",
        name=f"alias/{name}",
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return key


def log_group_key(
    name: str, log_group_name: str, region: str, tags: dict[str, str], parent: pulumi.Resource
) -> aws.kms.Key:
    """A rotating key for one CloudWatch log group: the account administers it, and
    CloudWatch Logs of `region` may use it for that log group alone."""
    identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))

    def policy(account: str) -> str:
        arn = f"arn:aws:logs:{region}:{account}:log-group:{log_group_name}"
        statements = [
            {
                "Sid": "Account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arn}},
            },
        ]
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    return rotating_key(
        name, f"CloudWatch Logs {log_group_name}", tags, parent, policy=identity.account_id.apply(policy)
    )
