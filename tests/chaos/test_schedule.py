"""The game day's layout (components/chaos/schedule.py): each experiment one slot after
the one before, a slot past midnight on the next day of the week, and Chaos Mesh's
parser given the stack's zone with every cron."""

from __future__ import annotations

import pytest

from components.chaos import schedule


@pytest.mark.parametrize(
    ("cron", "index", "expected"),
    [
        ("0 1 * * 2", 0, "0 1 * * 2"),
        ("0 1 * * 2", 1, "15 1 * * 2"),
        ("0 1 * * tue,thu", 4, "0 2 * * tue,thu"),  # the days as written, while on the same day
        ("45 23 * * 6", 1, "0 0 * * 0"),  # Saturday night into Sunday
        ("30 22 * * 1-5", 8, "30 0 * * 2,3,4,5,6"),  # weeknights into the next mornings
        ("0 23 * * *", 5, "15 0 * * *"),  # every day stays every day
    ],
)
def test_a_slot_after_midnight_runs_the_next_day(cron: str, index: int, expected: str) -> None:
    assert schedule.slot(cron, index, 15) == expected


def test_every_slot_runs_when_the_game_day_says_and_never_in_business_hours() -> None:
    cron, slot_minutes, count = "0 19 * * 5", 30, 17
    assert schedule.business_hours_problem(cron, "UTC", slot_minutes * count) is None
    slots = [schedule.parse(schedule.slot(cron, i, slot_minutes)) for i in range(count)]
    # Friday 19:00 … Saturday 03:00: the last ten on Saturday (6).
    assert [(s.hour, s.minute) for s in slots[:2]] == [(19, 0), (19, 30)]
    assert {tuple(s.days) for s in slots[10:]} == {(6,)} and (slots[-1].hour, slots[-1].minute) == (3, 0)


def test_the_zone_travels_with_every_cron() -> None:
    assert schedule.with_zone("0 1 * * 2", "Europe/Paris") == "CRON_TZ=Europe/Paris 0 1 * * 2"


@pytest.mark.parametrize(
    ("cron", "window", "problem"),
    [
        ("0 7 * * 1", 1, "Monday 07:00–07:01"),
        ("59 6 * * 1", 2, "Monday 06:59–07:01"),
        ("59 18 * * 5", 1, "Friday 18:59–19:00"),
    ],
)
def test_business_hours_are_half_open_from_seven_to_nineteen(cron: str, window: int, problem: str) -> None:
    assert problem in (schedule.business_hours_problem(cron, "UTC", window) or "")


@pytest.mark.parametrize(("cron", "window"), [("59 6 * * 1", 1), ("0 19 * * 5", 60 * 24), ("0 0 * * 6", 60 * 48)])
def test_the_minute_before_and_the_minute_after_are_free(cron: str, window: int) -> None:
    assert schedule.business_hours_problem(cron, "UTC", window) is None
