"""Disaster recovery on AWS, as prod and prod-eu declare it: prod's Aurora primary
decodes its WAL for prod-gcp's Database Migration Service and takes its VPN on a gateway
of its VPC; prod-eu's replication lag alarm fires above its RPO and tells the stack's
alert recipients, through an encrypted topic CloudWatch may publish to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.aws.alerting import lag_threshold_ms
from preflight.graph import Graph
from preflight.synth import Synthesizer
from stacks import contract
from tests.conftest import stack_config
from tests.stacks.copies import synthesize_copy, unchanged

ACCOUNT = "444455556666"
ALERTS = "ai-platform-alerts@project-ai.dev"


@pytest.fixture(scope="module")
def prod(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod")


@pytest.fixture(scope="module")
def eu(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod-eu")


def parameters(graph: Graph) -> dict[str, dict[str, Any]]:
    (group,) = graph.of_type("aws:rds/clusterParameterGroup:ClusterParameterGroup")
    return {parameter["name"]: parameter for parameter in group.inputs["parameters"]}


def test_the_primary_decodes_its_wal_for_dms_after_its_next_reboot(
    project_synthesizer: Synthesizer, prod: Graph
) -> None:
    found = parameters(prod)
    # DMS reads through pglogical: logical decoding on, the library loaded at start. Both
    # are static parameters, applied when the writer reboots.
    assert found["rds.logical_replication"] == {
        "name": "rds.logical_replication",
        "value": "1",
        "applyMethod": "pending-reboot",
    }
    assert found["shared_preload_libraries"] == {
        "name": "shared_preload_libraries",
        "value": "pg_stat_statements,pglogical",
        "applyMethod": "pending-reboot",
    }
    assert found["rds.force_ssl"]["value"] == "1"
    # Nowhere else: no other stack has replicas on another cloud.
    for stack in ("prod-eu", "dev", "staging"):
        assert "rds.logical_replication" not in parameters(project_synthesizer.synthesize(stack)), stack


def test_the_primarys_vpc_takes_the_replicas_vpn_and_routes_back_through_it(prod: Graph) -> None:
    (gateway,) = prod.of_type("aws:ec2/vpnGateway:VpnGateway")
    (vpc,) = prod.of_type("aws:ec2/vpc:Vpc")
    assert gateway.inputs["vpcId"] == vpc.outputs["id"]
    assert gateway.inputs["amazonSideAsn"] == "64512"
    # The routes learned over BGP reach the private subnets, where the database is.
    private_tables = {r.outputs["id"] for r in prod.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in r.name}
    propagated = prod.of_type("aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    assert len(private_tables) == 3
    assert {p.inputs["routeTableId"] for p in propagated} == private_tables
    assert {p.inputs["vpnGatewayId"] for p in propagated} == {gateway.outputs["id"]}


def test_the_primary_exports_what_a_cross_cloud_replica_reads(project_synthesizer: Synthesizer, prod: Graph) -> None:
    (gateway,) = prod.of_type("aws:ec2/vpnGateway:VpnGateway")
    outputs = prod.outputs
    assert outputs[contract.VPN_GATEWAY] == gateway.outputs["id"]
    assert outputs[contract.VPN_GATEWAY_ASN] == 64512
    assert outputs[contract.REPLICATION_CIDRS] == ["10.40.16.0/20"]
    assert outputs[contract.ACCOUNT_ID] == ACCOUNT
    # A stack without replicas on another cloud exports none of it.
    for stack in ("prod-eu", "dev", "staging"):
        exported = project_synthesizer.synthesize(stack).outputs
        assert not {contract.VPN_GATEWAY, contract.VPN_GATEWAY_ASN, contract.REPLICATION_CIDRS} & set(exported)


def test_prod_eus_lag_alarm_fires_above_its_rpo_on_its_own_cluster(eu: Graph) -> None:
    (alarm,) = eu.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    (cluster,) = eu.of_type("aws:rds/cluster:Cluster")
    inputs = alarm.inputs
    assert (inputs["namespace"], inputs["metricName"]) == ("AWS/RDS", "AuroraGlobalDBReplicationLag")
    # The secondary reports the lag; the primary has no such metric.
    assert (
        inputs["dimensions"]
        == {"DBClusterIdentifier": cluster.inputs["clusterIdentifier"]}
        == {"DBClusterIdentifier": "project-ai-prod-eu"}
    )
    # prod's RPO of 1 s (the environment's default), in the metric's milliseconds.
    assert inputs["threshold"] == 1000 and inputs["comparisonOperator"] == "GreaterThanThreshold"
    # The worst minute, 3 minutes out of 5: a burst does not page, falling behind does.
    assert (inputs["statistic"], inputs["period"], inputs["evaluationPeriods"], inputs["datapointsToAlarm"]) == (
        "Maximum",
        60,
        5,
        3,
    )
    # No datapoints is no replication.
    assert inputs["treatMissingData"] == "breaching"
    (topic,) = eu.of_type("aws:sns/topic:Topic")
    assert inputs["alarmActions"] == inputs["okActions"] == [topic.outputs["arn"]]
    assert [r for r in eu.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if r.provider != alarm.provider] == []


def test_the_alarm_reaches_the_stacks_alert_recipients_through_an_encrypted_topic(eu: Graph) -> None:
    (topic,) = eu.of_type("aws:sns/topic:Topic")
    (key,) = [k for k in eu.of_type("aws:kms/key:Key") if k.name == "project-ai-prod-eu-alerts-key"]
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["Account"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    # CloudWatch may encrypt for the topic, for this account's alarms only.
    cloudwatch = statements["CloudWatchAlarms"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    # The recipients the budget tells (platform.alertEmails), by email.
    (subscription,) = eu.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs == {"topic": topic.outputs["arn"], "protocol": "email", "endpoint": ALERTS}
    (budget,) = eu.of_type("aws:budgets/budget:Budget")
    assert {ALERTS} == {e for n in budget.inputs["notifications"] for e in n["subscriberEmailAddresses"]}


def test_the_primary_has_no_lag_alarm(prod: Graph) -> None:
    assert prod.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []
    # Its alert topic carries the cost anomalies only (components/aws/cost.py).
    (topic,) = prod.of_type("aws:sns/topic:Topic")
    (subscription,) = prod.of_type("aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert subscription.inputs["subscribers"] == [{"type": "SNS", "address": topic.outputs["arn"]}]


@pytest.mark.parametrize("rpo", [1, 5, 30])
def test_the_alarm_threshold_is_the_stacks_rpo(tmp_path: Path, rpo: int) -> None:
    def targets(config: dict[str, Any]) -> None:
        config["projectai:disasterRecovery"] = {"rpoSeconds": rpo, "maxSwitchoverLagSeconds": 0}

    eu = synthesize_copy(tmp_path, "prod-eu", {"prod": unchanged, "prod-eu": targets})
    (alarm,) = eu.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["threshold"] == lag_threshold_ms(rpo) == rpo * 1000
    assert f"RPO of {rpo} s" in alarm.inputs["alarmDescription"]
    # The contract carries the targets for `ops dr`, the stack file's over the defaults.
    assert eu.outputs[contract.DISASTER_RECOVERY] == {"rpoSeconds": rpo, "rtoSeconds": 60, "maxSwitchoverLagSeconds": 0}


def test_every_recipient_gets_a_subscription(tmp_path: Path) -> None:
    recipients = [ALERTS, "oncall@project-ai.dev"]

    def emails(config: dict[str, Any]) -> None:
        config["projectai:platform"]["alertEmails"] = recipients

    eu = synthesize_copy(tmp_path, "prod-eu", {"prod": unchanged, "prod-eu": emails})
    endpoints = [r.inputs["endpoint"] for r in eu.of_type("aws:sns/topicSubscription:TopicSubscription")]
    assert sorted(endpoints) == sorted(recipients)


def test_the_stack_files_hold_the_replicas_range_and_no_secret() -> None:
    platform = stack_config("prod")["projectai:platform"]
    assert platform["crossCloudReplicas"] == {"vpnAsn": 64512, "cidrs": ["10.40.16.0/20"]}
    # prod-gcp's standby lives in its private services range (its default).
    assert "privateServicesCidr" not in stack_config("prod-gcp")["projectai:platform"]


PAGERDUTY_KEY = "R0ut1ngKeyFromPagerDuty0123456789"


def test_with_an_integration_key_the_alarm_also_pages_on_call(tmp_path: Path) -> None:
    def pager(config: dict[str, Any]) -> None:
        config["projectai:pagerdutyIntegrationKey"] = PAGERDUTY_KEY

    eu = synthesize_copy(tmp_path, "prod-eu", {"prod": unchanged, "prod-eu": pager})
    (topic,) = eu.of_type("aws:sns/topic:Topic")
    email, pagerduty = eu.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert email.inputs["protocol"] == "email"
    assert (pagerduty.inputs["protocol"], pagerduty.inputs["endpointAutoConfirms"]) == ("https", True)
    # The key is in the URL, so the endpoint is a secret: never shown, in the clear only in this process.
    assert pagerduty.inputs["endpoint"] == "[secret]"
    expected = f"https://events.pagerduty.com/integration/{PAGERDUTY_KEY}/enqueue"
    assert pagerduty.revealed_inputs["endpoint"] == expected
    assert pagerduty.inputs["topic"] == topic.outputs["arn"]


@pytest.mark.parametrize("key", ["short", "has spaces in it 0123456789", "x" * 65, "k€y" * 10])
def test_a_malformed_integration_key_is_refused_without_showing_it(key: str) -> None:
    from stacks.config import ConfigError, parse
    from tests.stacks.test_config import stack

    with pytest.raises(ConfigError) as refused:
        parse(stack("prod-eu", pagerdutyIntegrationKey=key), "Pulumi.prod-eu.yaml")
    assert "expected a PagerDuty integration key" in str(refused.value)
    assert key not in str(refused.value)
