"""Cloud-side alerts of an AWS region: an SNS topic that tells the stack's alert
recipients (the addresses its budget notifies, `platform.alertEmails`), and the
CloudWatch alarm on a secondary region's Aurora global database lag against its RPO.
With a PagerDuty integration key (`pagerdutyIntegrationKey`, secret config), the topic
also pages on-call: an HTTPS subscription to PagerDuty's Amazon CloudWatch integration,
which confirms the subscription itself and opens and resolves incidents with the alarm.

The topic is encrypted with its own rotating key, whose policy lets CloudWatch (and only
this account's alarms) publish to it. Where the stack's cost anomalies are sent here too
(components/aws/cost.py), the key and a topic policy let Cost Anomaly Detection publish,
for this account's anomaly subscriptions only. Email subscriptions wait for each
recipient to confirm them once (AWS sends the link); until then SNS holds them as pending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.kms import rotating_key
from components.labels import Ownership, cloud_tags

# PagerDuty's Amazon CloudWatch integration: <this><integration key>/enqueue.
PAGERDUTY_CLOUDWATCH = "https://events.pagerduty.com/integration/"
# Reported by a secondary cluster of an Aurora global database only, in milliseconds:
# how far its storage is behind the primary's.
LAG_METRIC = "AuroraGlobalDBReplicationLag"
LAG_NAMESPACE = "AWS/RDS"
# One datapoint a minute (its maximum); the alarm fires when 3 of the last 5 exceed the
# RPO, so a burst of writes does not page and a region falling behind does within 5 minutes.
PERIOD_SECONDS = 60
EVALUATION_PERIODS = 5
DATAPOINTS_TO_ALARM = 3


def lag_threshold_ms(rpo_seconds: int) -> float:
    """The lag above which a failover would lose more than the RPO allows."""
    return rpo_seconds * 1000.0


@dataclass(frozen=True)
class AlertTopicArgs:
    owner: Ownership
    # Names the topic and its key (the stack's cluster name: one per account and region).
    identifier: str
    account_id: str
    emails: tuple[str, ...]
    # A PagerDuty "Amazon CloudWatch" integration's key (a secret), to page on-call.
    pagerduty_integration_key: pulumi.Input[str] | None = None
    # Cost Anomaly Detection publishes the stack's anomalies here.
    cost_anomalies: bool = False


class AlertTopic(pulumi.ComponentResource):
    """Where the region's CloudWatch alarms go: an encrypted topic, one email
    subscription per recipient."""

    topic: aws.sns.Topic

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:aws:AlertTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cloud_tags(args.owner, "alerting")
        policy = _key_policy(args.account_id, args.cost_anomalies)
        key = rotating_key(f"{args.identifier}-alerts", "SNS alert topic", tags, self, policy=policy)
        self.topic = aws.sns.Topic(
            f"{name}-topic", name=f"{args.identifier}-alerts", kms_master_key_id=key.arn, tags=tags, opts=child
        )
        if args.cost_anomalies:
            # A topic policy replaces SNS's default one: it names the account, and the
            # services that publish, each for this account's own alarms or subscriptions.
            aws.sns.TopicPolicy(
                f"{name}-topic-policy",
                arn=self.topic.arn,
                policy=self.topic.arn.apply(lambda arn: topic_policy(arn, args.account_id)),
                opts=child,
            )
        for index, email in enumerate(args.emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}", topic=self.topic.arn, protocol="email", endpoint=email, opts=child
            )
        if args.pagerduty_integration_key is not None:
            # The key is in the URL: the endpoint is a secret in Pulumi's state.
            endpoint = pulumi.Output.concat(PAGERDUTY_CLOUDWATCH, args.pagerduty_integration_key, "/enqueue")
            aws.sns.TopicSubscription(
                f"{name}-pagerduty",
                topic=self.topic.arn,
                protocol="https",
                endpoint=pulumi.Output.secret(endpoint),
                endpoint_auto_confirms=True,
                opts=child,
            )
        self.register_outputs({"topicArn": self.topic.arn})


# The service that publishes Cost Anomaly Detection's alerts.
COST_ALERTS = "costalerts.amazonaws.com"
# What SNS's default policy lets the owning account do with its topic.
OWNER_ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]


def _key_policy(account_id: str, cost_anomalies: bool = False) -> str:
    """The account administers the key; CloudWatch (and, for the stack's anomalies, Cost
    Anomaly Detection) may encrypt for the topic, for this account only."""
    services = [("CloudWatchAlarms", "cloudwatch.amazonaws.com")]
    if cost_anomalies:
        services.append(("CostAnomalyDetection", COST_ALERTS))
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                *(
                    {
                        "Sid": sid,
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                    }
                    for sid, service in services
                ),
            ],
        }
    )


def topic_policy(topic_arn: str, account_id: str) -> str:
    """The account manages the topic; CloudWatch publishes for this account's alarms in
    the topic's region, Cost Anomaly Detection for its anomaly subscriptions."""
    region = topic_arn.split(":")[3]
    publishers = (
        ("CloudWatchAlarms", "cloudwatch.amazonaws.com", f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"),
        ("CostAnomalyDetection", COST_ALERTS, f"arn:aws:ce::{account_id}:anomalysubscription/*"),
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Account",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": OWNER_ACTIONS,
                    "Resource": topic_arn,
                },
                *(
                    {
                        "Sid": sid,
                        "Effect": "Allow",
                        "Principal": {"Service": service},
                        "Action": "SNS:Publish",
                        "Resource": topic_arn,
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": account_id},
                            "ArnLike": {"aws:SourceArn": source},
                        },
                    }
                    for sid, service, source in publishers
                ),
            ],
        }
    )


@dataclass(frozen=True)
class ReplicationLagAlarmArgs:
    owner: Ownership
    # The secondary cluster: the metric's DBClusterIdentifier.
    cluster_identifier: pulumi.Input[str]
    # The region's RPO target (disasterRecovery.rpoSeconds): the alarm's threshold.
    rpo_seconds: int
    topic_arn: pulumi.Input[str]


def replication_lag_alarm(
    name: str, args: ReplicationLagAlarmArgs, opts: pulumi.ResourceOptions
) -> aws.cloudwatch.MetricAlarm:
    """The secondary's lag above its RPO, 3 minutes out of 5. No datapoints is no
    replication: it counts as breaching."""
    return aws.cloudwatch.MetricAlarm(
        f"{name}-replication-lag",
        name=pulumi.Output.concat(args.cluster_identifier, "-replication-lag"),
        alarm_description=(
            f"Aurora global database replication lag above the region's RPO of {args.rpo_seconds} s: a failover "
            "now would lose more writes than the target allows (README, Disaster recovery)"
        ),
        namespace=LAG_NAMESPACE,
        metric_name=LAG_METRIC,
        dimensions={"DBClusterIdentifier": args.cluster_identifier},
        statistic="Maximum",
        period=PERIOD_SECONDS,
        evaluation_periods=EVALUATION_PERIODS,
        datapoints_to_alarm=DATAPOINTS_TO_ALARM,
        comparison_operator="GreaterThanThreshold",
        threshold=lag_threshold_ms(args.rpo_seconds),
        treat_missing_data="breaching",
        alarm_actions=[args.topic_arn],
        ok_actions=[args.topic_arn],
        tags=cloud_tags(args.owner, "database"),
        opts=opts,
    )
