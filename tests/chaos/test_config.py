"""`projectai:chaos` (stacks/model.py ChaosConfig): on in dev and staging, off elsewhere,
refused in prod; the game day outside business hours (Mon–Fri 07:00–19:00 in the stack's
time zone) at its limits; malformed crons, unknown zones and everything the experiments
need but cannot find, each one clear line."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import ConfigError, parse
from tests.chaos.conftest import local_with_chaos
from tests.conftest import projectai_values, stack_config


def without_nights(config: dict[str, Any]) -> dict[str, Any]:
    """The stack's config with its app nodes up at night: the nights must miss the game day
    (tests/stacks/test_cost_config.py), and these tests move the game day anywhere."""
    if "platform" in config:
        config["platform"] = {**config["platform"], "offHours": None}
    return config


def problems(stack: str, chaos: dict[str, Any] | None = None, **sections: Any) -> str:
    config = without_nights(projectai_values(stack_config(stack)))
    if chaos is not None:
        config["chaos"] = {**config.get("chaos", {}), **chaos}
    config.update(sections)
    with pytest.raises(ConfigError) as caught:
        parse(config, f"Pulumi.{stack}.yaml")
    return str(caught.value)


def dev(**chaos: Any) -> Any:
    config = without_nights(projectai_values(stack_config("dev")))
    config["chaos"] = {**config["chaos"], **chaos}
    return parse(config, "Pulumi.dev.yaml").chaos


@pytest.mark.parametrize(("stack", "on"), [("dev", True), ("staging", True), ("local", False), ("prod", False)])
def test_on_in_dev_and_staging_off_elsewhere(stack: str, on: bool) -> None:
    assert parse(projectai_values(stack_config(stack)), f"Pulumi.{stack}.yaml").chaos.enabled is on


def test_prod_refuses_it_with_a_clear_line() -> None:
    assert (
        "Pulumi.prod.yaml: projectai:chaos.enabled: Chaos Mesh and its experiments run outside production only "
        "(dev, staging); not in prod"
    ) in problems("prod", {"enabled": True, "zone": "us-east-1a"})
    # prod-eu and a cluster stack of the prod environment alike.
    assert "not in prod" in problems("prod-eu", {"enabled": True})


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"monitoring": {"enabled": False}},
            "projectai:chaos.enabled: the experiments abort on the API's burn-rate alerts, which the monitoring stack "
            "evaluates; expected monitoring.enabled: true",
        ),
    ],
)
def test_the_experiments_need_the_alerts(changes: dict[str, Any], expected: str) -> None:
    assert expected in problems("dev", **changes)


def test_the_guard_needs_the_ops_image_by_digest() -> None:
    config = projectai_values(stack_config("dev"))
    del config["chaos"]["guardImage"]
    with pytest.raises(ConfigError, match=r"projectai:chaos\.guardImage: missing; expected the ops image by digest"):
        parse(config, "Pulumi.dev.yaml")
    tagged = {"repository": "111122223333.dkr.ecr.us-east-1.amazonaws.com/project-ai/ops", "tag": "1.0.0"}
    assert "projectai:chaos.guardImage: expected the ops image pinned by digest" in problems(
        "dev", {"guardImage": tagged}
    )
    # staging has none of its own: it runs the canary judge's.
    assert "guardImage" not in stack_config("staging")["projectai:chaos"]


def test_the_zone_is_one_of_the_regions_own() -> None:
    assert dev().zone is None  # the first of us-east-1a, b, c
    assert dev(zone="us-east-1c").zone == "us-east-1c"
    assert (
        "projectai:chaos.zone: 'eu-west-1a' is not one of the stack's zones (us-east-1a, us-east-1b, us-east-1c)"
        in problems("dev", {"zone": "eu-west-1a"})
    )


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("zone", "projectai:chaos.zone: missing; expected the zone of the cluster's nodes"),
        ("databaseHost", "projectai:chaos.databaseHost: missing; the experiments need the database's host name"),
    ],
)
def test_a_cluster_stack_names_what_the_program_cannot_know(missing: str, expected: str) -> None:
    config = local_with_chaos()
    del config["projectai:chaos"][missing]
    with pytest.raises(ConfigError) as caught:
        parse(projectai_values(config), "Pulumi.local.yaml")
    assert expected in str(caught.value)
    # The cache's host comes from APP_REDIS_URL; without it, from chaos.cacheHost.
    config = local_with_chaos()
    del config["projectai:app"]["settings"]["APP_REDIS_URL"]
    with pytest.raises(ConfigError, match=r"projectai:chaos\.cacheHost: missing"):
        parse(projectai_values(config), "Pulumi.local.yaml")


# --- the game day, at its limits (17 experiments × 15 minutes = 4 h 15 min) ---

OUTSIDE = [
    "0 19 * * 1-5",  # from the end of business hours
    "45 2 * * 1-5",  # ends at 07:00 exactly
    "0 1 * * tue,thu",  # names
    "0 10 * * 6",  # Saturday, any hour
    "0 10 * * sun",
    "0 23 * * 0",  # Sunday night into Monday 03:15
    "0 20 * * 5",  # Friday evening into Saturday
    "0 22 * * *",  # every night
]
INSIDE = [
    ("46 2 * * 1", "Monday 02:46–07:01"),  # one minute into Monday morning
    ("0 18 * * 5", "Friday 18:00–22:15"),  # starts an hour before the end of Friday
    ("59 18 * * 3", "Wednesday 18:59–23:14"),
    ("0 12 * * 0-6", "Monday 12:00–16:15"),  # every day: Monday is among them
    ("0 4 * * 1", "Monday 04:00–08:15"),
]


@pytest.mark.parametrize("cron", OUTSIDE)
def test_a_game_day_outside_business_hours_is_taken(cron: str) -> None:
    assert dev(gameDay=cron).game_day == cron


@pytest.mark.parametrize(("cron", "when"), INSIDE)
def test_a_game_day_reaching_into_business_hours_is_refused_saying_when(cron: str, when: str) -> None:
    found = problems("dev", {"gameDay": cron})
    assert (
        f"projectai:chaos.gameDay: '{cron}' runs the game day {when} America/New_York (255 min), into business hours"
        in found
    )
    assert "expected a start that keeps every experiment outside them" in found


def test_a_longer_slot_moves_the_end_and_the_check_follows_it() -> None:
    assert dev(gameDay="0 19 * * 1", slotMinutes=30).slot_minutes == 30  # 19:00 to 03:30
    # Sunday 23:00 with hour-long slots runs until Monday 16:00.
    assert "runs the game day Sunday 23:00–16:00" in problems("dev", {"gameDay": "0 23 * * 0", "slotMinutes": 60})


def test_the_business_hours_are_the_stacks_time_zone() -> None:
    for zone in ("Europe/Paris", "Asia/Tokyo", "UTC", "America/Los_Angeles"):
        assert dev(timeZone=zone, gameDay="0 1 * * 2").time_zone == zone
        assert f"Monday 04:00–08:15 {zone}" in problems("dev", {"timeZone": zone, "gameDay": "0 4 * * 1"})
    assert (
        "projectai:chaos.timeZone: unknown time zone 'Mars/Olympus_Mons'; expected an IANA name such as "
        "Europe/Paris or UTC"
    ) in problems("dev", {"timeZone": "Mars/Olympus_Mons"})
    assert "unknown time zone" in problems("dev", {"timeZone": "../../etc/passwd"})


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 1 * *", "'0 1 * *' has 4 fields; expected five (minute hour day-of-month month day-of-week)"),
        ("@weekly", "'@weekly' has 1 fields; expected five"),
        ("0 0 1 * * 2", "has 6 fields; expected five"),
        ("*/5 1 * * 2", "expected one minute and one hour (when the game day starts), got '*/5 1'"),
        ("0 1-3 * * 2", "expected one minute and one hour"),
        ("0 1 1 * 2", "a game day is weekly; expected '*' for day of month and month"),
        ("0 1 * 6 2", "a game day is weekly"),
        ("60 1 * * 2", "minute 60 is outside 0-59"),
        ("0 24 * * 2", "hour 24 is outside 0-23"),
        ("0 1 * * 7", "day of week 7 is outside 0-6 (Sunday is 0)"),
        ("0 1 * * fri-mon", "day-of-week range 'fri-mon' runs backwards; expected low-high, such as mon-fri"),
        ("0 1 * * funday", "day of week 'funday' is not a number; expected 0-6 or a day's name (sun-sat)"),
        ("0 1 * * 2/0", "day-of-week step 0 is outside 1-6"),
    ],
)
def test_a_malformed_cron_is_one_clear_line(cron: str, expected: str) -> None:
    found = problems("dev", {"gameDay": cron})
    assert f"Pulumi.dev.yaml: projectai:chaos.gameDay: {expected}" in found or expected in found
    assert found.count("\n") == 1  # the header line and this one: one problem, one line


def test_a_slot_shorter_than_the_longest_experiment_is_refused() -> None:
    # game-day-serial: two faults of 180 s and 120 s of recovery, a minute's grace, 300 s to start.
    assert (
        "projectai:chaos.slotMinutes: 12 min is shorter than the longest experiment with its grace and starting "
        "deadline (840 s"
    ) in problems("dev", {"slotMinutes": 12})
    assert "expected slotMinutes ≥ 14" in problems("dev", {"slotMinutes": 12})
    assert dev(slotMinutes=14).slot_minutes == 14
    assert "faultSeconds" in problems("dev", {"faultSeconds": 600})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("faultSeconds", 5, "projectai:chaos.faultSeconds: expected a value ≥ 30, got 5"),
        ("faultSeconds", 3600, "projectai:chaos.faultSeconds: expected a value ≤ 900, got 3600"),
        ("historyLimit", 0, "projectai:chaos.historyLimit: expected a value ≥ 1, got 0"),
        ("startingDeadlineSeconds", 5, "projectai:chaos.startingDeadlineSeconds: expected a value ≥ 30, got 5"),
        ("gameDays", "0 1 * * 2", "projectai:chaos.gameDays: unknown key; did you mean 'gameDay'?"),
    ],
)
def test_durations_are_bounded(key: str, value: Any, expected: str) -> None:
    assert expected in problems("dev", {key: value})
