"""A customer-managed KMS key that rotates every year, with an alias: one per use, so a
key's grants stay as narrow as its use."""

from __future__ import annotations

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
