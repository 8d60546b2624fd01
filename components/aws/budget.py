"""Monthly cost budgets with alerts at 80% (forecast) and 100% (actual), so every cloud
stack knows what it may spend: the stack's, scoped to its `environment` cost-allocation
tag, and one per team (`platform.teamBudgets`), scoped to the team's `team` tag in that
environment."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.labels import Ownership, cloud_tags, label_value

# (threshold in percent, what it compares): the forecast warns, the actual spend tells.
ALERTS = ((80, "FORECASTED"), (100, "ACTUAL"))
# A filter expression needs the measure named; the budget's default cost type is this one.
METRIC = "UnblendedCost"


@dataclass(frozen=True)
class BudgetArgs:
    owner: Ownership
    monthly_usd: int
    alert_emails: tuple[str, ...]


def _notifications(emails: tuple[str, ...]) -> list[aws.budgets.BudgetNotificationArgs]:
    return [
        aws.budgets.BudgetNotificationArgs(
            comparison_operator="GREATER_THAN",
            threshold=threshold,
            threshold_type="PERCENTAGE",
            notification_type=kind,
            subscriber_email_addresses=list(emails),
        )
        for threshold, kind in ALERTS
    ]


def monthly_budget(name: str, args: BudgetArgs, opts: pulumi.ResourceOptions) -> aws.budgets.Budget:
    return aws.budgets.Budget(
        f"{name}-budget",
        budget_type="COST",
        limit_amount=str(args.monthly_usd),
        limit_unit="USD",
        time_unit="MONTHLY",
        # Only what this environment's resources cost (the tag is a cost-allocation tag).
        cost_filters=[
            aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:environment${args.owner.environment}"])
        ],
        notifications=_notifications(args.alert_emails),
        tags=cloud_tags(args.owner, "budget"),
        opts=opts,
    )


def team_budget(
    name: str, identifier: str, team: str, args: BudgetArgs, opts: pulumi.ResourceOptions
) -> aws.budgets.Budget:
    """What the team's resources of this environment cost: both tags at once (the classic
    cost filters would OR two TagKeyValue values, so this takes an expression). Named
    `<identifier>-team-<team>`: budget names are unique in the account."""
    tags = aws.budgets.BudgetFilterExpressionAndTagsArgs
    return aws.budgets.Budget(
        f"{name}-team-{team}-budget",
        name=f"{identifier}-team-{team}",
        budget_type="COST",
        limit_amount=str(args.monthly_usd),
        limit_unit="USD",
        time_unit="MONTHLY",
        metrics=METRIC,
        filter_expression=aws.budgets.BudgetFilterExpressionArgs(
            ands=[
                aws.budgets.BudgetFilterExpressionAndArgs(tags=tags(key="team", values=[label_value(team)])),
                aws.budgets.BudgetFilterExpressionAndArgs(
                    tags=tags(key="environment", values=[label_value(args.owner.environment)])
                ),
            ]
        ),
        notifications=_notifications(args.alert_emails),
        tags=cloud_tags(args.owner, "budget"),
        opts=opts,
    )
