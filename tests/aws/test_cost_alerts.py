"""The AWS stacks' cost set-up under mocks: the account's cost-allocation tags where
the stack owns them, a custom anomaly monitor on the environment with an immediate SNS
subscription the topic and key policies admit (for this account only), team budgets
on both tags, and dev's and staging's nights on the app node group only, in the shape
the cost estimate reads them. Both policy packs stay clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.aws.alerting import COST_ALERTS
from preflight import policies
from preflight.graph import Graph, Resource
from preflight.synth import Synthesizer
from tests.conftest import copy_project, stack_config

TAGS = "aws:costexplorer/costAllocationTag:CostAllocationTag"
MONITOR = "aws:costexplorer/anomalyMonitor:AnomalyMonitor"
SUBSCRIPTION = "aws:costexplorer/anomalySubscription:AnomalySubscription"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
BUDGET = "aws:budgets/budget:Budget"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"


@pytest.fixture(scope="module")
def programs(project_synthesizer: Synthesizer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesizer]:
    found = dict.fromkeys(("dev", "prod", "prod-eu"), project_synthesizer)
    # staging with two team budgets that fill its own.
    config = stack_config("staging")
    config["projectai:platform"] = {
        **config["projectai:platform"],
        "teamBudgets": {"ai-platform": 3000, "search": 1000},
    }
    folder: Path = tmp_path_factory.mktemp("staging-teams")
    found["staging"] = Synthesizer(copy_project(folder, "staging", config))
    return found


@pytest.fixture(scope="module")
def graphs(programs: dict[str, Synthesizer]) -> dict[str, Graph]:
    return {stack: synthesizer.synthesize(stack) for stack, synthesizer in programs.items()}


def one(graph: Graph, kind: str) -> Resource:
    (found,) = graph.of_type(kind)
    return found


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-eu", "staging"])
def test_both_packs_pass(graphs: dict[str, Graph], programs: dict[str, Synthesizer], stack: str) -> None:
    report = policies.check(graphs[stack], programs[stack].program.stack_config(stack).values)
    assert report.errors == [] and report.outcome.unknown == []
    assert [(f.policy, f.urn, f.message) for f in report.outcome.mandatory] == []


def test_one_stack_per_account_activates_the_cost_allocation_tags(graphs: dict[str, Graph]) -> None:
    for stack in ("dev", "prod"):
        tags = {r.inputs["tagKey"]: r.inputs["status"] for r in graphs[stack].of_type(TAGS)}
        assert tags == {"team": "Active", "cost-center": "Active", "environment": "Active", "service": "Active"}
    # staging shares dev's account, prod-eu prod's.
    assert graphs["staging"].of_type(TAGS) == [] and graphs["prod-eu"].of_type(TAGS) == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_a_custom_monitor_watches_the_environment_tag(graphs: dict[str, Graph], stack: str) -> None:
    monitor = one(graphs[stack], MONITOR)
    environment = stack_config(stack)["projectai:environment"]
    assert monitor.inputs["monitorType"] == "CUSTOM" and "monitorDimension" not in monitor.inputs
    assert json.loads(monitor.inputs["monitorSpecification"]) == {
        "Tags": {"Key": "environment", "Values": [environment], "MatchOptions": ["EQUALS"]}
    }
    assert monitor.inputs["name"] == f"project-ai-{stack}-environment"
    assert {"team", "cost-center", "environment", "service"} <= set(monitor.inputs["tags"])


def test_anomalies_go_to_the_alert_topic_immediately_above_both_thresholds(graphs: dict[str, Graph]) -> None:
    graph = graphs["dev"]
    subscription, monitor = one(graph, SUBSCRIPTION), one(graph, MONITOR)
    (topic,) = [r for r in graph.of_type("aws:sns/topic:Topic") if r.name == "alerts-topic"]
    inputs = subscription.inputs
    assert inputs["frequency"] == "IMMEDIATE"
    assert inputs["subscribers"] == [{"type": "SNS", "address": topic.outputs["arn"]}]
    assert inputs["monitorArnLists"] == [monitor.outputs["arn"]]
    assert inputs["thresholdExpression"] == {
        "ands": [
            {
                "dimension": {
                    "key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                    "values": ["100"],
                    "matchOptions": ["GREATER_THAN_OR_EQUAL"],
                }
            },
            {
                "dimension": {
                    "key": "ANOMALY_TOTAL_IMPACT_PERCENTAGE",
                    "values": ["20"],
                    "matchOptions": ["GREATER_THAN_OR_EQUAL"],
                }
            },
        ]
    }
    # The topic mails the alert recipients.
    emails = {r.inputs["endpoint"] for r in graph.of_type("aws:sns/topicSubscription:TopicSubscription")}
    assert emails == {"ai-platform-alerts@project-ai.dev"}


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in json.loads(document)["Statement"]}


def test_the_topic_and_its_key_admit_cost_anomaly_detection_for_this_account_only(graphs: dict[str, Graph]) -> None:
    graph = graphs["dev"]
    (topic,) = [r for r in graph.of_type("aws:sns/topic:Topic") if r.name == "alerts-topic"]
    policy = one(graph, TOPIC_POLICY)
    assert policy.inputs["arn"] == topic.outputs["arn"]
    found = statements(policy.inputs["policy"])
    assert set(found) == {"Account", "CloudWatchAlarms", "CostAnomalyDetection"}
    costs = found["CostAnomalyDetection"]
    assert costs["Principal"] == {"Service": COST_ALERTS} and costs["Action"] == "SNS:Publish"
    assert costs["Resource"] == topic.outputs["arn"]
    assert costs["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ce::111122223333:anomalysubscription/*"},
    }
    alarms = found["CloudWatchAlarms"]["Condition"]["ArnLike"]["aws:SourceArn"]
    assert alarms == "arn:aws:cloudwatch:us-east-1:111122223333:alarm:*"
    assert found["Account"]["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    # Nobody is '*': every statement names its principal.
    assert all(s["Principal"] != "*" and "*" not in s["Principal"].values() for s in found.values())
    (key,) = [r for r in graph.of_type("aws:kms/key:Key") if r.inputs["description"] == "SNS alert topic"]
    granted = statements(key.inputs["policy"])["CostAnomalyDetection"]
    assert granted["Principal"] == {"Service": COST_ALERTS}
    assert granted["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert granted["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_a_second_region_of_the_environment_has_no_monitor_and_keeps_its_topic_as_it_was(
    graphs: dict[str, Graph],
) -> None:
    graph = graphs["prod-eu"]
    assert graph.of_type(MONITOR) == [] and graph.of_type(SUBSCRIPTION) == [] and graph.of_type(TOPIC_POLICY) == []
    # The lag alarm's topic stays, with its key's policy as before (CloudWatch only).
    (key,) = [r for r in graph.of_type("aws:kms/key:Key") if r.inputs["description"] == "SNS alert topic"]
    assert set(statements(key.inputs["policy"])) == {"Account", "CloudWatchAlarms"}
    assert len(graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")) == 1


def test_team_budgets_take_both_tags_and_alert_like_the_stack_budget(graphs: dict[str, Graph]) -> None:
    budgets = {r.name: r.inputs for r in graphs["staging"].of_type(BUDGET)}
    assert set(budgets) == {"stack-budget", "stack-team-ai-platform-budget", "stack-team-search-budget"}
    search = budgets["stack-team-search-budget"]
    assert search["name"] == "project-ai-staging-team-search"
    assert (search["limitAmount"], search["limitUnit"], search["timeUnit"]) == ("1000", "USD", "MONTHLY")
    assert search["metrics"] == "UnblendedCost" and "costFilters" not in search
    assert search["filterExpression"] == {
        "ands": [
            {"tags": {"key": "team", "values": ["search"]}},
            {"tags": {"key": "environment", "values": ["staging"]}},
        ]
    }
    alerts = [(n["threshold"], n["notificationType"]) for n in search["notifications"]]
    assert alerts == [(80, "FORECASTED"), (100, "ACTUAL")]
    assert budgets["stack-budget"]["costFilters"] == [{"name": "TagKeyValue", "values": ["user:environment$staging"]}]
    assert "filterExpression" not in budgets["stack-budget"]


def test_dev_scales_the_app_nodes_down_at_night_and_back_in_the_morning(graphs: dict[str, Graph]) -> None:
    graph = graphs["dev"]
    (apps,) = [r for r in graph.of_type("aws:eks/nodeGroup:NodeGroup") if r.inputs["nodeGroupName"] == "apps"]
    schedules = {r.name: r for r in graph.of_type(SCHEDULE)}
    # Named after the node group's resource: the cost estimate matches them by the name too.
    assert set(schedules) == {f"{apps.name}-night", f"{apps.name}-morning"}
    night, morning = schedules[f"{apps.name}-night"].inputs, schedules[f"{apps.name}-morning"].inputs
    group = apps.outputs["resources"][0]["autoscalingGroups"][0]["name"]
    assert night["autoscalingGroupName"] == morning["autoscalingGroupName"] == group
    assert (night["recurrence"], night["timeZone"]) == ("0 20 * * 2-5", "America/New_York")
    assert (night["minSize"], night["desiredCapacity"], night["maxSize"]) == (0, 0, 0)
    assert (morning["recurrence"], morning["timeZone"]) == ("0 7 * * 1-5", "America/New_York")
    scaling = apps.inputs["scalingConfig"]
    assert (morning["minSize"], morning["desiredCapacity"], morning["maxSize"]) == (
        scaling["minSize"],
        scaling["desiredSize"],
        scaling["maxSize"],
    )
    assert night["scheduledActionName"] == "project-ai-dev-apps-night"
    # In the cluster's component, after the node group exists.
    for schedule in schedules.values():
        assert schedule.parent == apps.parent and apps.urn in schedule.dependencies


def test_prod_and_the_system_pool_are_never_scaled_down(graphs: dict[str, Graph]) -> None:
    assert graphs["prod"].of_type(SCHEDULE) == [] and graphs["prod-eu"].of_type(SCHEDULE) == []
    for stack in ("dev", "staging"):
        groups = {
            r.outputs["resources"][0]["autoscalingGroups"][0]["name"]: r.inputs["nodeGroupName"]
            for r in graphs[stack].of_type("aws:eks/nodeGroup:NodeGroup")
        }
        targets = {groups[r.inputs["autoscalingGroupName"]] for r in graphs[stack].of_type(SCHEDULE)}
        assert targets == {"apps"}
    staging = {r.name.rsplit("-", 1)[-1]: r.inputs["recurrence"] for r in graphs["staging"].of_type(SCHEDULE)}
    assert staging == {"night": "0 20 * * 1,2,4,5", "morning": "0 7 * * 1-5"}
