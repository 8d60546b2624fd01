"""prod-gcp's budgets under mocks: thresholds at 50%, 80% and 100% of the spend and 100%
of the forecast, notifications through a Pub/Sub topic (schema 1.0) and the alert
emails' channels (never PagerDuty's: budgets take email channels only), a budget per
team on the `team` label within the project, and both policy packs clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.gcp.budget import MAX_CHANNELS, GcpBudgetArgs, monthly_budget
from components.labels import Ownership
from preflight import policies
from preflight.graph import Graph, Resource
from preflight.synth import Synthesizer
from tests.conftest import stack_config
from tests.stacks.copies import project_copy, unchanged

BUDGET = "gcp:billing/budget:Budget"
TOPIC = "gcp:pubsub/topic:Topic"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
PAGERDUTY_KEY = "G00gleCloudMonitoringKey0123456789"
LONG_TEAM = "t" * 63


@pytest.fixture(scope="module")
def gcp(project_synthesizer: Synthesizer) -> Graph:
    return project_synthesizer.synthesize("prod-gcp")


@pytest.fixture(scope="module")
def teams(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, dict[str, Any]]:
    """prod-gcp with team budgets and a PagerDuty key (the channels budgets must skip)."""

    def change(config: dict[str, Any]) -> None:
        config["projectai:pagerdutyIntegrationKey"] = PAGERDUTY_KEY
        config["projectai:platform"]["teamBudgets"] = {"ai-platform": 6000, LONG_TEAM: 4000}

    folder: Path = tmp_path_factory.mktemp("gcp-teams")
    program = project_copy(folder, {"prod": unchanged, "prod-gcp": change})
    return Synthesizer(program).synthesize("prod-gcp"), program.stack_config("prod-gcp").values


def by_name(graph: Graph, kind: str) -> dict[str, Resource]:
    return {r.name: r for r in graph.of_type(kind)}


def test_both_packs_pass(gcp: Graph, teams: tuple[Graph, dict[str, Any]], project_synthesizer: Synthesizer) -> None:
    for graph, config in ((gcp, project_synthesizer.program.stack_config("prod-gcp").values), teams):
        report = policies.check(graph, config)
        assert report.errors == [] and report.outcome.unknown == []
        assert [(f.policy, f.urn, f.message) for f in report.outcome.mandatory] == []


def test_the_budget_alerts_at_its_thresholds_through_pubsub_and_the_alert_emails(gcp: Graph) -> None:
    (budget,) = gcp.of_type(BUDGET)
    (topic,) = gcp.of_type(TOPIC)
    (email,) = gcp.of_type(CHANNEL)
    inputs = budget.inputs
    assert [(rule["thresholdPercent"], rule["spendBasis"]) for rule in inputs["thresholdRules"]] == [
        (0.5, "CURRENT_SPEND"),
        (0.8, "CURRENT_SPEND"),
        (1, "CURRENT_SPEND"),
        (1, "FORECASTED_SPEND"),
    ]
    assert topic.inputs["name"] == "project-ai-prod-gcp-budget-alerts"
    assert inputs["allUpdatesRule"] == {
        "pubsubTopic": "projects/project-ai-prod/topics/project-ai-prod-gcp-budget-alerts",
        "schemaVersion": "1.0",
        "monitoringNotificationChannels": [email.outputs["name"]],
    }
    assert email.inputs["labels"] == {"email_address": "ai-platform-alerts@project-ai.dev"}
    assert inputs["budgetFilter"] == {"projects": ["projects/123456789012"], "labels": {"environment": "prod"}}
    assert inputs["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "10000"}}
    # The topic carries the ownership labels, a week of messages, and Google's encryption.
    labels = topic.inputs["labels"]
    assert (labels["team"], labels["environment"], labels["service"]) == ("ai-platform", "prod", "budget")
    assert topic.inputs["messageRetentionDuration"] == "604800s" and "kmsKeyName" not in topic.inputs


def test_billing_grants_itself_the_right_to_publish(gcp: Graph) -> None:
    # Cloud Billing adds billing-budget-alert@system.gserviceaccount.com as a publisher when
    # a budget names the topic; a binding of ours would be a second owner of that grant.
    assert [r for r in gcp.resources if r.type.startswith("gcp:pubsub/topicIAM")] == []


def test_team_budgets_filter_on_the_team_label_within_the_project(teams: tuple[Graph, dict[str, Any]]) -> None:
    graph, _ = teams
    budgets = by_name(graph, BUDGET)
    assert set(budgets) == {"stack-budget", "stack-team-ai-platform-budget", f"stack-team-{LONG_TEAM}-budget"}
    team = budgets["stack-team-ai-platform-budget"].inputs
    # A budget takes one label pair: the project (prod's only) scopes it to the environment.
    assert team["budgetFilter"] == {"projects": ["projects/123456789012"], "labels": {"team": "ai-platform"}}
    assert team["amount"]["specifiedAmount"]["units"] == "6000"
    assert team["displayName"] == "project-ai prod team ai-platform"
    assert team["thresholdRules"] == budgets["stack-budget"].inputs["thresholdRules"]
    assert team["allUpdatesRule"] == budgets["stack-budget"].inputs["allUpdatesRule"]
    # Display names stop at the 60 characters Cloud Billing takes.
    long = budgets[f"stack-team-{LONG_TEAM}-budget"].inputs
    assert len(long["displayName"]) == 60 and long["budgetFilter"]["labels"] == {"team": LONG_TEAM}


def test_budgets_notify_email_channels_only_and_replication_pages_too(teams: tuple[Graph, dict[str, Any]]) -> None:
    graph, _ = teams
    channels = {r.inputs["type"]: r.outputs["name"] for r in graph.of_type(CHANNEL)}
    assert set(channels) == {"email", "pagerduty"}
    for budget in graph.of_type(BUDGET):
        assert budget.inputs["allUpdatesRule"]["monitoringNotificationChannels"] == [channels["email"]]
    (policy,) = graph.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    assert policy.inputs["notificationChannels"] == [channels["email"], channels["pagerduty"]]


def test_more_channels_than_a_budget_takes_are_refused_before_anything_is_declared() -> None:
    owner = Ownership(team="ai-platform", cost_center="cc-ai-platform", environment="prod")
    channels = tuple(f"projects/p/notificationChannels/{n}" for n in range(MAX_CHANNELS + 1))
    args = GcpBudgetArgs(owner, "01ABCD-23EF45-6789AB", "123456789012", 100, notification_channels=channels)
    with pytest.raises(ValueError, match="6 notification channels; a budget takes at most 5"):
        monthly_budget("stack", args, pulumi.ResourceOptions())


def test_the_stack_files_budget_is_the_budget(gcp: Graph) -> None:
    (budget,) = gcp.of_type(BUDGET)
    assert budget.inputs["amount"]["specifiedAmount"]["units"] == str(
        stack_config("prod-gcp")["projectai:platform"]["budgetUsd"]
    )
