"""The cost settings of a region's platform: the account's cost-allocation tags (one
stack per account), anomaly alerts, team budgets within the stack's, and the non-prod
off-hours, each mistake refused with one clear line."""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

import pytest

from stacks.config import ConfigError, parse
from stacks.model import AwsPlatformConfig, AwsRegionStack, GcpRegionStack, OffHoursConfig
from tests.conftest import PROJECT_STACKS, projectai_values, stack_config

AWS_REGIONS = [s for s in PROJECT_STACKS if stack_config(s).get("projectai:cloud") == "aws"]


def raw(stack: str, **platform: Any) -> dict[str, Any]:
    """A stack file's namespace with `platform` keys laid over its platform section."""
    values = copy.deepcopy(projectai_values(stack_config(stack)))
    values.setdefault("platform", {}).update(platform)
    return values


def parsed(stack: str, **platform: Any) -> AwsRegionStack | GcpRegionStack:
    config = parse(raw(stack, **platform), f"Pulumi.{stack}.yaml")
    assert isinstance(config, AwsRegionStack | GcpRegionStack)
    return config


def problems(stack: str, **platform: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw(stack, **platform), f"Pulumi.{stack}.yaml")
    return caught.value.problems


def only(stack: str, **platform: Any) -> str:
    (problem,) = problems(stack, **platform)
    return problem


# Cost allocation and anomaly alerts.


def test_exactly_one_stack_per_aws_account_activates_the_cost_allocation_tags() -> None:
    activating: dict[str, list[str]] = defaultdict(list)
    for stack in AWS_REGIONS:
        platform = parsed(stack).platform
        assert isinstance(platform, AwsPlatformConfig)
        activating[platform.account_id] += [stack] if platform.cost_allocation.activate_tags else []
    assert dict(activating) == {"111122223333": ["dev"], "444455556666": ["prod"]}


def test_one_anomaly_monitor_per_environment_and_account() -> None:
    watched: dict[tuple[str, str], list[str]] = defaultdict(list)
    for stack in AWS_REGIONS:
        config = parsed(stack)
        assert isinstance(config.platform, AwsPlatformConfig)
        if config.platform.cost_anomalies.enabled:
            watched[(config.platform.account_id, config.environment)].append(stack)
    assert all(len(stacks) == 1 for stacks in watched.values()), watched
    assert sorted(s for stacks in watched.values() for s in stacks) == ["dev", "prod", "staging"]


def test_anomaly_alerts_need_someone_to_tell() -> None:
    assert "expected at least one address in alertEmails" in only("staging", alertEmails=[])
    config = parsed("staging", alertEmails=[], costAnomalies={"enabled": False})
    assert config.platform.alert_emails == []


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        ({"minImpactUsd": 0}, "costAnomalies.minImpactUsd: expected a value ≥ 1, got 0"),
        ({"minImpactPercent": 10_001}, "costAnomalies.minImpactPercent: expected a value ≤ 10000, got 10001"),
        ({"minImpactUsd": "lots"}, "costAnomalies.minImpactUsd: expected an integer, got 'lots'"),
        ({"anomaly": True}, "costAnomalies.anomaly: unknown key"),
    ],
)
def test_anomaly_thresholds_at_and_beyond_their_limits(thresholds: dict[str, Any], expected: str) -> None:
    assert expected in only("staging", costAnomalies=thresholds)


def test_anomaly_thresholds_at_their_limits_parse() -> None:
    anomalies = parsed("staging", costAnomalies={"minImpactUsd": 1, "minImpactPercent": 10_000}).platform
    assert isinstance(anomalies, AwsPlatformConfig)
    assert (anomalies.cost_anomalies.min_impact_usd, anomalies.cost_anomalies.min_impact_percent) == (1, 10_000)


# Team budgets.


def test_team_budgets_may_add_up_to_the_stack_budget_and_no_more() -> None:
    config = parsed("staging", teamBudgets={"ai-platform": 3000, "search": 1000})
    assert config.platform.team_budgets == {"ai-platform": 3000, "search": 1000}
    problem = only("staging", teamBudgets={"ai-platform": 3000, "search": 1001})
    assert problem == (
        "Pulumi.staging.yaml: projectai:platform.teamBudgets: the teams' budgets add up to 4001 USD "
        "(ai-platform 3000, search 1001), over the stack's budgetUsd of 4000; expected shares of it "
        "(lower them, or raise budgetUsd)"
    )


@pytest.mark.parametrize(
    ("teams", "expected"),
    [
        ({"search": 0}, "projectai:platform.teamBudgets.search: expected a value ≥ 1, got 0"),
        ({"search": -5}, "projectai:platform.teamBudgets.search: expected a value ≥ 1, got -5"),
        ({"search": 1.5}, "projectai:platform.teamBudgets.search: expected a whole number, got 1.5"),
        ({"Search": 10}, "projectai:platform.teamBudgets: key 'Search': expected a lower-case DNS label"),
        ({"search team": 10}, "key 'search team': expected a lower-case DNS label"),
        ({"équipe": 10}, "key 'équipe': expected a lower-case DNS label"),
        ({"a" * 64: 10}, f"teamBudgets.{'a' * 64}: expected at most 63 characters, got 64"),
        ({"": 10}, "key '': expected a lower-case DNS label"),
        (["search"], "projectai:platform.teamBudgets: expected a mapping of keys to values"),
    ],
)
def test_team_budgets_refuse_bad_names_and_amounts(teams: Any, expected: str) -> None:
    assert expected in only("staging", teamBudgets=teams)


def test_a_team_name_of_63_characters_is_a_label_value() -> None:
    assert parsed("staging", teamBudgets={"a" * 63: 1}).platform.team_budgets == {"a" * 63: 1}


def test_team_budgets_on_gcp_and_at_most_five_budget_channels() -> None:
    assert parsed("prod-gcp", teamBudgets={"ai-platform": 10_000}).platform.team_budgets == {"ai-platform": 10_000}
    emails = [f"team{n}@project-ai.dev" for n in range(6)]
    assert "6 addresses; a GCP budget notifies at most 5 email channels" in only("prod-gcp", alertEmails=emails)
    assert len(parsed("prod-gcp", alertEmails=emails[:5]).platform.alert_emails) == 5


# Off-hours.


def test_dev_and_staging_are_scaled_down_at_night_and_prod_never() -> None:
    nights = {}
    for stack in AWS_REGIONS:
        platform = parsed(stack).platform
        assert isinstance(platform, AwsPlatformConfig)
        nights[stack] = platform.off_hours
    assert nights["prod"] is None and nights["prod-eu"] is None
    assert nights["dev"] == OffHoursConfig(scaleDown="0 20 * * 2-5", scaleUp="0 7 * * 1-5", timeZone="America/New_York")
    assert nights["staging"] == OffHoursConfig(
        scaleDown="0 20 * * 1,2,4,5", scaleUp="0 7 * * 1-5", timeZone="America/New_York"
    )


def test_off_hours_are_refused_in_prod() -> None:
    problem = only("prod", offHours={"timeZone": "UTC"})
    assert problem == (
        "Pulumi.prod.yaml: projectai:platform.offHours: production serves users around the clock; the app nodes "
        "are scaled down at night outside prod only (dev, staging), not in prod"
    )


def test_off_hours_are_refused_on_gcp() -> None:
    assert only("prod-gcp", offHours={"timeZone": "UTC"}) == (
        "Pulumi.prod-gcp.yaml: projectai:platform.offHours: a key of AWS regions, not of GCP regions"
    )


def test_day_names_become_the_numbers_auto_scaling_reads() -> None:
    off = OffHoursConfig(scaleDown="30 19 * * MON-FRI", scaleUp="0 6 * * mon,tue,wed,thu,fri", timeZone="UTC")
    assert (off.scale_down, off.scale_up) == ("30 19 * * 1-5", "0 6 * * 1-5")
    assert OffHoursConfig(scaleDown="0 22 * * *", scaleUp="0 6 * * ?").scale_down == "0 22 * * *"
    assert OffHoursConfig(scaleDown="0 22 * * sun,sat", scaleUp="0 6 * * 1").scale_down == "0 22 * * 0,6"
    # A long list of the same days is those days.
    assert OffHoursConfig(scaleDown="0 22 * * " + "2," * 500 + "3", scaleUp="0 6 * * 1").scale_down == "0 22 * * 2,3"


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 20 * *", "has 4 fields; expected five"),
        ("0 20 * * 1-5 2026", "has 6 fields; expected five"),
        ("", "has 0 fields; expected five"),
        ("*/5 20 * * 1-5", "expected one minute and one hour, such as '0 20 * * 1-5', got '*/5 20'"),
        ("0 20 1 * 1-5", "expected '*' for day of month and month"),
        ("0 20 * 12 1-5", "expected '*' for day of month and month"),
        ("60 20 * * 1-5", "minute 60 is outside 0-59"),
        ("0 24 * * 1-5", "hour 24 is outside 0-23"),
        ("0 20 * * 7", "day of week 7 is outside 0-6 (Sunday is 0)"),
        ("0 20 * * fri-mon", "day-of-week range 'fri-mon' runs backwards"),
        ("0 20 * * someday", "day of week 'someday' is not a number"),
        ("0 20 * * ｍｏｎ", "is not a number"),
        ("0 20 * * " + "2," * 500 + "x" * 5000, "is not a number"),
    ],
)
def test_bad_crons_get_one_clear_line(cron: str, expected: str) -> None:
    problem = only("dev", offHours={"scaleDown": cron, "timeZone": "America/New_York"})
    assert problem.startswith("Pulumi.dev.yaml: projectai:platform.offHours.scaleDown: ")
    assert expected in problem
    assert "game day" not in problem


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "Europe/Berlin\x00", "a" * 300])
def test_unknown_time_zones_are_refused(zone: str) -> None:
    problem = only("dev", offHours={"timeZone": zone})
    assert "projectai:platform.offHours.timeZone: unknown time zone" in problem
    assert "expected an IANA name such as Europe/Paris or UTC" in problem


def test_the_night_and_the_morning_differ_and_the_floor_stays_within_the_pool() -> None:
    same = only("dev", offHours={"scaleDown": "0 7 * * 1", "scaleUp": "0 7 * * 1-5", "timeZone": "America/New_York"})
    assert "offHours.scaleUp: '0 7 * * 1-5' fires at the same time as scaleDown '0 7 * * 1'" in same
    # dev's app pool has min 1: a floor of 1 keeps it, 2 would grow it at night.
    assert parsed("dev", offHours={"timeZone": "America/New_York", "floor": 1}).platform.off_hours.floor == 1  # type: ignore[union-attr]
    assert "offHours.floor: 2 nodes at night is more than appPool.min (1)" in only(
        "dev", offHours={"timeZone": "America/New_York", "floor": 2}
    )
    assert "offHours.floor: expected a value ≥ 0, got -1" in only("dev", offHours={"floor": -1})
    assert "offHours.floor: expected a value ≤ 100, got 101" in only("dev", offHours={"floor": 101})


def test_the_nights_must_miss_the_chaos_game_day() -> None:
    # Monday night down would take the app nodes away from dev's Tuesday 01:00 game day.
    problem = only("dev", offHours={"scaleDown": "0 20 * * 1-5", "timeZone": "America/New_York"})
    assert problem.startswith("Pulumi.dev.yaml: projectai:platform.offHours.scaleDown: the app nodes are down during")
    assert "game day (Tuesday 01:00, " in problem and "in America/New_York" in problem
    zone = only("staging", offHours={"timeZone": "Europe/Berlin"})
    assert "offHours.timeZone: 'Europe/Berlin' differs from chaos.timeZone 'America/New_York'" in zone
    # Without chaos, any night goes.
    values = raw("dev", offHours={"scaleDown": "0 20 * * 1-5", "timeZone": "Europe/Berlin"})
    values["chaos"] = {"enabled": False}
    config = parse(values, "Pulumi.dev.yaml")
    assert isinstance(config.platform, AwsPlatformConfig) and config.platform.off_hours is not None


def test_the_nights_span_from_each_scale_down_to_the_next_scale_up() -> None:
    off = OffHoursConfig(scaleDown="0 20 * * 2-5", scaleUp="0 7 * * 1-5")
    day = 24 * 60
    # Tuesday to Thursday evenings to the next morning; Friday evening to Monday morning
    # (across the week's end, so in two spans).
    assert off.nights() == [
        (2 * day + 20 * 60, 3 * day + 7 * 60),
        (3 * day + 20 * 60, 4 * day + 7 * 60),
        (4 * day + 20 * 60, 5 * day + 7 * 60),
        (5 * day + 20 * 60, 7 * day),
        (0, day + 7 * 60),
    ]
