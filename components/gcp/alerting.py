"""Where a GCP region's Cloud Monitoring alerts go: one email notification channel per
address of the stack's alert recipients (`platform.alertEmails`, the same mailbox its
AWS siblings' budgets and alarms notify), and, with a PagerDuty integration key
(`pagerdutyIntegrationKey`, secret config), a PagerDuty channel that pages on-call."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class AlertChannelsArgs:
    owner: Ownership
    emails: tuple[str, ...]
    # The service key of a PagerDuty integration for Cloud Monitoring (a secret).
    pagerduty_integration_key: pulumi.Input[str] | None = None


def alert_channels(
    name: str, args: AlertChannelsArgs, opts: pulumi.ResourceOptions
) -> list[gcp.monitoring.NotificationChannel]:
    channels = [
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
    if args.pagerduty_integration_key is not None:
        channels.append(
            gcp.monitoring.NotificationChannel(
                f"{name}-pagerduty",
                type="pagerduty",
                display_name=f"project-ai {args.owner.environment} on-call (PagerDuty)",
                # Sensitive labels are write-only in the API and secret in Pulumi's state.
                sensitive_labels=gcp.monitoring.NotificationChannelSensitiveLabelsArgs(
                    service_key=pulumi.Output.secret(args.pagerduty_integration_key)
                ),
                user_labels=cloud_tags(args.owner, "alerting"),
                opts=opts,
            )
        )
    return channels
