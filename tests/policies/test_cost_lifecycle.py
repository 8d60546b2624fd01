"""The cost pack's lifecycle and spot rules beyond the table (test_rules.py runs their
cases with default parameters): the parameters each environment sets, the share of spot
capacity, values unknown until deployment, and parameters out of range."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE

from policies.config import effective
from policies.core.evaluate import evaluate
from policies.core.rule import Resource, Stack
from policies.core.settings import SettingsError, resolve
from policies.cost.rules import PACK as COST
from tests.policies.cases import STACK, resource
from tests.policies.cost_lifecycle_cases import (
    ASG,
    DLM,
    ECR,
    ECR_POLICY,
    LOG_BUCKET,
    RDS_CLUSTER,
    SPOT_TEMPLATE,
    dlm,
    group,
    on,
    pool,
)
from tests.policies.test_settings import engine_config

RULES = {rule.name: rule for rule in COST.rules}


def outcome(rule_name: str, resources: list[Resource], config: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    rule = RULES[rule_name]
    return evaluate("cost", [rule], Stack(STACK, tuple(resources)), resolve([rule], {rule_name: config or {}}))


def messages(rule_name: str, resources: list[Resource], config: dict[str, Any] | None = None) -> list[str]:
    return [finding.message for finding in outcome(rule_name, resources, config).violations]


def test_the_share_of_spot_counts_nodes_of_app_pools_only() -> None:
    pools = [
        group("system", "ON_DEMAND", ["m6i.large"], 6, system=True),
        group("apps", "ON_DEMAND", ["m6i.xlarge"], 2),
        group("apps-spot", "SPOT", ["m6i.xlarge", "m5.xlarge"], "1"),
    ]
    assert messages("cost-spot-share", pools, {"minSpotShare": 50}) == [
        "spot is 33% of the app pools' capacity (1 of 3 nodes), minimum 50%"
    ]
    assert messages("cost-spot-share", pools, {"minSpotShare": 33}) == []
    # At the limits: 0 asks for nothing; 100 for every app node.
    assert messages("cost-spot-share", pools, {"minSpotShare": 0}) == []
    assert messages("cost-spot-share", pools[:1] + pools[2:], {"minSpotShare": 100, "onDemandAppPool": False}) == []


def test_an_autoscaling_group_counts_its_spot_share() -> None:
    # 10 nodes, 2 on-demand as the base, a quarter of the rest on-demand: 6 spot.
    mixed = {
        "desiredCapacity": 10,
        "mixedInstancesPolicy": {
            "instancesDistribution": {"onDemandBaseCapacity": 2, "onDemandPercentageAboveBaseCapacity": 25},
            "launchTemplate": {"launchTemplateSpecification": {"launchTemplateName": "apps"}},
        },
    }
    asg = resource(ASG, mixed, "mixed")
    assert messages("cost-spot-share", [asg], {"minSpotShare": 60}) == []
    assert messages("cost-spot-share", [asg], {"minSpotShare": 61}) == [
        "spot is 60% of the app pools' capacity (6 of 10 nodes), minimum 61%"
    ]
    # From a spot launch template: all spot, so all-spot without an on-demand pool.
    spot = on(ASG, {"desiredCapacity": 2, "launchTemplate": {"id": "lt-1"}}, "batch", SPOT_TEMPLATE)
    assert messages("cost-spot-share", [spot, SPOT_TEMPLATE], {"minSpotShare": 100}) == [
        "every app pool is spot (batch): a spot reclaim takes all app capacity at once"
    ]
    assert messages("cost-spot-share", [spot, SPOT_TEMPLATE], {"onDemandAppPool": False}) == []


def test_a_regional_gke_pool_counts_its_nodes_in_every_zone() -> None:
    regional = resource(
        "gcp:container/nodePool:NodePool",
        {
            "cluster": "prod",
            "nodeLocations": ["a", "b", "c"],
            "autoscaling": {"minNodeCount": 1},
            "nodeConfig": {"spot": True},
        },
        "spot",
    )
    steady = pool("steady", False, 1)
    # 3 spot nodes (1 per zone) of 4.
    assert messages("cost-spot-share", [regional, steady], {"minSpotShare": 76}) == [
        "spot is 75% of the app pools' capacity (3 of 4 nodes), minimum 76%"
    ]


def test_each_environment_sets_its_caps() -> None:
    dev = effective.applied(COST, "dev", engine_config("dev"))
    staging = effective.applied(COST, "staging", engine_config("staging"))
    prod = effective.applied(COST, "prod", engine_config("prod"))
    days = [
        (env["cost-database-backup-retention"].params.max_days, env["cost-snapshot-retention"].params.max_days)
        for env in (dev, staging, prod)
    ]
    assert days == [(7, 7), (14, 14), (35, 35)]
    assert [env["cost-gcp-log-retention"].params.max_days for env in (dev, staging, prod)] == [14, 30, 90]
    assert dev["cost-spot-share"].params.min_spot_share == 100 and not dev["cost-spot-share"].params.on_demand_app_pool
    assert prod["cost-spot-share"].params.min_spot_share == 0 and prod["cost-spot-share"].params.on_demand_app_pool
    # The same database passes in prod and fails in dev.
    database = [resource(RDS_CLUSTER, {"backupRetentionPeriod": 14}, "orders")]
    assert messages("cost-database-backup-retention", database, {"maxDays": 35}) == []
    assert messages("cost-database-backup-retention", database, {"maxDays": 7}) == [
        "backupRetentionPeriod is 14 days, cap 7"
    ]


def test_a_retain_count_unknown_until_deployment_is_reported_as_unknown() -> None:
    policy = dlm(
        "later", {"name": "daily", "createRule": {"interval": 24}, "retainRule": {"count": UNKNOWN_NUMBER_VALUE}}
    )
    found = outcome("cost-snapshot-retention", [policy])
    assert found.violations == [] and [rule for rule, _, _ in found.unknown] == ["cost-snapshot-retention"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("not json", ["repository api's lifecycle policy expires no untagged images"]),
        ("", ["repository api's lifecycle policy expires no untagged images"]),
        ('{"rules": "none"}', ["repository api's lifecycle policy expires no untagged images"]),
        ("[]", ["repository api's lifecycle policy expires no untagged images"]),
    ],
)
def test_a_malformed_ecr_policy_expires_nothing(policy: str, expected: list[str]) -> None:
    repository = resource(ECR, {"name": "project-ai/api"}, "api")
    attached = on(ECR_POLICY, {"repository": "project-ai/api", "policy": policy}, "lifecycle", repository)
    assert messages("cost-ecr-lifecycle", [repository, attached]) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (90, []),
        ("90", []),
        (91, ["retentionDays is 91 days, cap 90"]),
        (-1, ["retentionDays is -1, expected 1 to 90"]),
        (True, ["retentionDays is True, expected 1 to 90"]),
        ("9" * 40, [f"retentionDays is {'9' * 40} days, cap 90"]),
    ],
)
def test_log_retention_at_and_beyond_its_limits(days: Any, expected: list[str]) -> None:
    assert messages("cost-gcp-log-retention", [resource(LOG_BUCKET, {"retentionDays": days})]) == expected


@pytest.mark.parametrize(
    ("rule", "config", "message"),
    [
        ("cost-spot-share", {"minSpotShare": 101}, "less than or equal to 100"),
        ("cost-spot-share", {"minSpotShare": -1}, "greater than or equal to 0"),
        ("cost-snapshot-retention", {"maxDays": 0}, "greater than or equal to 1"),
        ("cost-s3-lifecycle-rules", {"maxAbortDays": "a week"}, "valid integer"),
        ("cost-spot-node-groups", {"minTypes": 2}, "Extra inputs are not permitted"),
    ],
)
def test_a_parameter_out_of_range_is_refused(rule: str, config: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve([RULES[rule]], {rule: config})


def test_a_dlm_default_policy_is_judged_by_its_retain_interval() -> None:
    default = resource(DLM, {"defaultPolicy": "VOLUME", "policyDetails": {"retainInterval": 60}}, "default")
    assert messages("cost-snapshot-retention", [default]) == ["policyDetails.retainInterval is 60, expected 1 to 35"]
    unset = resource(DLM, {"defaultPolicy": "VOLUME", "policyDetails": {"policyLanguage": "SIMPLIFIED"}}, "unset")
    assert messages("cost-snapshot-retention", [unset]) == []
