"""Cost allocation and anomaly alerts of an AWS account and environment.

- The cost-allocation tags (`team`, `cost-center`, `environment`, `service`): Cost
  Explorer, budgets and anomaly monitors can filter on a tag only once it is activated.
  Activation is the account's: one stack per account declares it (`costAllocation`).
- Cost Anomaly Detection for the stack's environment: a custom monitor on the
  `environment` cost-allocation tag (AWS allows one account-wide service monitor, but
  many custom ones, so each environment has its own), and a subscription that sends each
  anomaly above both impact thresholds to the stack's alert topic as soon as it is found
  (IMMEDIATE, which only SNS subscribers take). The topic's policy lets the service
  publish (components/aws/alerting.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.labels import Ownership, cloud_tags, label_value

# The keys every resource carries (components/labels.py cloud_tags) that costs are split by.
ALLOCATION_TAGS = ("team", "cost-center", "environment", "service")


def allocation_tags(name: str, opts: pulumi.ResourceOptions) -> list[aws.costexplorer.CostAllocationTag]:
    """The cost-allocation tags, active; only the stack that owns the account's billing
    set-up declares them."""
    return [
        aws.costexplorer.CostAllocationTag(f"{name}-{key}", tag_key=key, status="Active", opts=opts)
        for key in ALLOCATION_TAGS
    ]


def monitor_specification(environment: str) -> str:
    """The monitor's Cost Explorer expression: the costs tagged with the environment."""
    tag = {"Key": "environment", "Values": [label_value(environment)], "MatchOptions": ["EQUALS"]}
    return json.dumps({"Tags": tag})


@dataclass(frozen=True)
class CostAnomalyArgs:
    owner: Ownership
    # Names the monitor and subscription (the stack's cluster name: unique in the account).
    identifier: str
    # The stack's alert topic; its policy must let costalerts.amazonaws.com publish.
    topic_arn: pulumi.Input[str]
    # An anomaly is sent when its total impact reaches both thresholds.
    min_impact_usd: int
    min_impact_percent: int


class CostAnomalyAlerts(pulumi.ComponentResource):
    """A custom anomaly monitor on the environment's costs and its subscription."""

    monitor: aws.costexplorer.AnomalyMonitor
    subscription: aws.costexplorer.AnomalySubscription

    def __init__(self, name: str, args: CostAnomalyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:CostAnomalyAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "cost")
        self.monitor = aws.costexplorer.AnomalyMonitor(
            f"{name}-monitor",
            name=f"{args.identifier}-environment",
            monitor_type="CUSTOM",
            monitor_specification=monitor_specification(args.owner.environment),
            tags=tags,
            opts=child,
        )
        self.subscription = aws.costexplorer.AnomalySubscription(
            f"{name}-subscription",
            name=f"{args.identifier}-anomalies",
            frequency="IMMEDIATE",
            monitor_arn_lists=[self.monitor.arn],
            subscribers=[aws.costexplorer.AnomalySubscriptionSubscriberArgs(type="SNS", address=args.topic_arn)],
            threshold_expression=threshold_expression(args.min_impact_usd, args.min_impact_percent),
            tags=tags,
            opts=child,
        )
        self.register_outputs({"monitorArn": self.monitor.arn, "subscriptionArn": self.subscription.arn})


def threshold_expression(usd: int, percent: int) -> aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs:
    """Both impacts at least their threshold: a large share of a small spend, or a small
    share of a large one, is not worth a message."""
    expression = aws.costexplorer.AnomalySubscriptionThresholdExpressionAndArgs
    dimension = aws.costexplorer.AnomalySubscriptionThresholdExpressionAndDimensionArgs
    return aws.costexplorer.AnomalySubscriptionThresholdExpressionArgs(
        ands=[
            expression(dimension=dimension(key=key, values=[str(value)], match_options=["GREATER_THAN_OR_EQUAL"]))
            for key, value in (("ANOMALY_TOTAL_IMPACT_ABSOLUTE", usd), ("ANOMALY_TOTAL_IMPACT_PERCENTAGE", percent))
        ]
    )
