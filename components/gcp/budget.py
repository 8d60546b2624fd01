"""A monthly budget on the project, alerting at 80% (forecast) and 100% (actual)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.labels import Ownership, label_value


@dataclass(frozen=True)
class GcpBudgetArgs:
    owner: Ownership
    billing_account: str
    project_number: str
    monthly_usd: int


def monthly_budget(name: str, args: GcpBudgetArgs, opts: pulumi.ResourceOptions) -> gcp.billing.Budget:
    return gcp.billing.Budget(
        f"{name}-budget",
        billing_account=args.billing_account,
        display_name=f"project-ai {args.owner.environment}",
        budget_filter={
            "projects": [f"projects/{args.project_number}"],
            "labels": {"environment": label_value(args.owner.environment)},
        },
        amount={"specified_amount": {"currency_code": "USD", "units": str(args.monthly_usd)}},
        threshold_rules=[
            {"threshold_percent": 0.8, "spend_basis": "FORECASTED_SPEND"},
            {"threshold_percent": 1.0, "spend_basis": "CURRENT_SPEND"},
        ],
        opts=opts,
    )
