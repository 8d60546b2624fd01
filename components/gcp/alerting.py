"""Where a GCP region's Cloud Monitoring alerts go: one email notification channel per
address of the stack's alert recipients (`platform.alertEmails`, the same mailbox its
AWS siblings' budgets and alarms notify)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class AlertChannelsArgs:
    owner: Ownership
    emails: tuple[str, ...]


def email_channels(
    name: str, args: AlertChannelsArgs, opts: pulumi.ResourceOptions
) -> list[gcp.monitoring.NotificationChannel]:
    return [
        gcp.monitoring.NotificationChannel(
            f"{name}-email-{index}",
            type="email",
            display_name=f"project-ai {args.owner.environment} alerts ({email})",
            labels={"email_address": email},
            user_labels=cloud_tags(args.owner, "alerting"),
            opts=opts,
        )
        for index, email in enumerate(args.emails)
    ]
