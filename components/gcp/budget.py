"""Monthly budgets on the project, in its billing account: the stack's, scoped to its
`environment` label, and one per team (`platform.teamBudgets`), scoped to the team's
`team` label. Each alerts at 50%, 80% and 100% of the actual spend and at 100% of the
forecast: by mail through the stack's email notification channels, and to a Pub/Sub
topic that receives the budget's status several times a day (for automated responses).

The topic is Google-encrypted (it carries spend figures, no secrets; no CMEK pattern
applies to it). Cloud Billing grants its budget service account
(billing-budget-alert@system.gserviceaccount.com) the right to publish when a budget
names the topic: the deployer needs pubsub.topics.setIamPolicy on it, and no binding of
ours is needed (one would be a second owner of the grant Billing manages).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, cloud_tags, label_value

# (fraction of the budget, what it compares).
THRESHOLDS = (
    (0.5, "CURRENT_SPEND"),
    (0.8, "CURRENT_SPEND"),
    (1.0, "CURRENT_SPEND"),
    (1.0, "FORECASTED_SPEND"),
)
# The only schema of budget notifications Pub/Sub messages follow.
SCHEMA_VERSION = "1.0"
# Cloud Billing takes at most five notification channels per budget, email ones only.
MAX_CHANNELS = 5
# The longest display name a budget takes.
MAX_DISPLAY_NAME = 60


@dataclass(frozen=True)
class GcpBudgetArgs:
    owner: Ownership
    billing_account: str
    project_number: str
    monthly_usd: int
    # The budget topic (`projects/<project>/topics/<name>`), and email notification channels.
    pubsub_topic: pulumi.Input[str] | None = None
    notification_channels: Sequence[pulumi.Input[str]] = ()


def budget_topic(name: str, owner: Ownership, topic: str, opts: pulumi.ResourceOptions) -> gcp.pubsub.Topic:
    """The topic the stack's budgets publish their status to."""
    return gcp.pubsub.Topic(
        f"{name}-budget-alerts",
        name=topic,
        # A week of notifications for a subscriber that was away.
        message_retention_duration="604800s",
        labels=cloud_tags(owner, "budget"),
        opts=opts,
    )


def topic_path(topic: gcp.pubsub.Topic) -> pulumi.Output[str]:
    """The topic as a budget names it."""
    return pulumi.Output.concat("projects/", topic.project, "/topics/", topic.name)


def monthly_budget(name: str, args: GcpBudgetArgs, opts: pulumi.ResourceOptions) -> gcp.billing.Budget:
    return _budget(
        f"{name}-budget",
        f"project-ai {args.owner.environment}",
        {"environment": label_value(args.owner.environment)},
        args,
        opts,
    )


def team_budget(name: str, team: str, args: GcpBudgetArgs, opts: pulumi.ResourceOptions) -> gcp.billing.Budget:
    """What the team's resources in the project cost. A budget filters on one label pair
    only, so the project (one per environment here) scopes it to the environment."""
    return _budget(
        f"{name}-team-{team}-budget",
        f"project-ai {args.owner.environment} team {team}",
        {"team": label_value(team)},
        args,
        opts,
    )


def _budget(
    resource: str, display_name: str, labels: dict[str, str], args: GcpBudgetArgs, opts: pulumi.ResourceOptions
) -> gcp.billing.Budget:
    if len(args.notification_channels) > MAX_CHANNELS:
        raise ValueError(
            f"{display_name}: {len(args.notification_channels)} notification channels; a budget takes at most "
            f"{MAX_CHANNELS} (platform.alertEmails)"
        )
    updates = None
    if args.pubsub_topic is not None or args.notification_channels:
        updates = gcp.billing.BudgetAllUpdatesRuleArgs(
            pubsub_topic=args.pubsub_topic,
            schema_version=SCHEMA_VERSION if args.pubsub_topic is not None else None,
            monitoring_notification_channels=list(args.notification_channels) or None,
        )
    return gcp.billing.Budget(
        resource,
        billing_account=args.billing_account,
        display_name=display_name[:MAX_DISPLAY_NAME],
        budget_filter=gcp.billing.BudgetBudgetFilterArgs(
            projects=[f"projects/{args.project_number}"],
            labels=labels,
        ),
        amount=gcp.billing.BudgetAmountArgs(
            specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                currency_code="USD", units=str(args.monthly_usd)
            )
        ),
        threshold_rules=[
            gcp.billing.BudgetThresholdRuleArgs(threshold_percent=fraction, spend_basis=basis)
            for fraction, basis in THRESHOLDS
        ],
        all_updates_rule=updates,
        opts=opts,
    )
