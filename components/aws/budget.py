"""A monthly cost budget with alerts at 80% (forecast) and 100% (actual), scoped to the
stack's cost-allocation tags, so every cloud stack knows what it may spend."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.labels import Ownership, cloud_tags


@dataclass(frozen=True)
class BudgetArgs:
    owner: Ownership
    monthly_usd: int
    alert_emails: tuple[str, ...]


def monthly_budget(name: str, args: BudgetArgs, opts: pulumi.ResourceOptions) -> aws.budgets.Budget:
    alerts = [
        aws.budgets.BudgetNotificationArgs(
            comparison_operator="GREATER_THAN",
            threshold=threshold,
            threshold_type="PERCENTAGE",
            notification_type=kind,
            subscriber_email_addresses=list(args.alert_emails),
        )
        for threshold, kind in ((80, "FORECASTED"), (100, "ACTUAL"))
    ]
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
        notifications=alerts,
        tags=cloud_tags(args.owner, "budget"),
        opts=opts,
    )
