"""When the game day runs: a weekly start time, the experiments one after another in slots
of equal length, and the check that none of them runs in business hours.

Pure Python (no Pulumi): the stack config validates with it (stacks/model.py) and the
experiments component lays out its Schedules with it, so both read the cron the same way.

The stack gives one five-field cron (minute hour day-of-month month day-of-week, as
Chaos Mesh's parser, robfig/cron v3, reads it) in its own time zone. A game day is
weekly: one minute and one hour, `*` for day of month and month, and the days of the
week it runs on. Experiment `i` starts `i` slots after it; a slot that passes midnight
runs on the next day of the week. Every Schedule carries the zone (`CRON_TZ=<zone>`), so
the controller's own zone does not matter, and the business hours are the stack's too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# Cron's day-of-week numbers (Sunday is 0) and names, as robfig/cron v3 reads them (no 7).
_DOW_NAMES = {name[:3].lower(): number for number, name in enumerate(DAY_NAMES)}
# Business hours, Monday to Friday, in the stack's time zone: [07:00, 19:00).
BUSINESS_DAYS = frozenset({1, 2, 3, 4, 5})
BUSINESS_START, BUSINESS_END = 7 * 60, 19 * 60
BUSINESS_HOURS = "Mon–Fri 07:00–19:00"
MINUTES_PER_DAY = 24 * 60
_INTEGER = re.compile(r"^\d{1,2}$")


class CronError(ValueError):
    """What is wrong with a game day's cron, and what was expected."""


@dataclass(frozen=True)
class WeeklyStart:
    """A game day's start: a minute and an hour on some days of the week."""

    minute: int
    hour: int
    days: frozenset[int]
    # The days field as written (`*`, or a list): kept where no slot moves past midnight.
    days_field: str

    @property
    def start(self) -> int:
        """Minutes after midnight."""
        return self.hour * 60 + self.minute


def _number(text: str, low: int, high: int, what: str, names: dict[str, int] | None = None) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    if not _INTEGER.match(text):
        expected = f"{low}-{high}" + (" or a day's name (sun-sat)" if names else "")
        raise CronError(f"{what} '{text}' is not a number; expected {expected}")
    number = int(text)
    if not low <= number <= high:
        hint = " (Sunday is 0)" if names else ""
        raise CronError(f"{what} {number} is outside {low}-{high}{hint}")
    return number


def _days(field: str) -> frozenset[int]:
    """A day-of-week field: `*`, `?`, numbers, names, ranges (`mon-fri`), steps (`*/2`), lists."""
    if field in ("*", "?"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in field.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, 1, 6, "day-of-week step") if step_text else 1
        if body in ("*", "?"):
            low, high = 0, 6
        elif "-" in body:
            first, _, last = body.partition("-")
            low = _number(first, 0, 6, "day of week", _DOW_NAMES)
            high = _number(last, 0, 6, "day of week", _DOW_NAMES)
            if low > high:
                raise CronError(f"day-of-week range '{body}' runs backwards; expected low-high, such as mon-fri")
        else:
            low = high = _number(body, 0, 6, "day of week", _DOW_NAMES)
            if step_text:
                high = 6
        days.update(range(low, high + 1, step))
    return frozenset(days)


def parse(cron: str) -> WeeklyStart:
    """A weekly start, or a CronError that says what is wrong and what was expected."""
    fields = cron.split()
    if len(fields) != 5:
        raise CronError(
            f"'{cron}' has {len(fields)} fields; expected five (minute hour day-of-month month day-of-week), "
            "such as '0 1 * * 2' for Tuesdays at 01:00"
        )
    minute, hour, day_of_month, month, day_of_week = fields
    if not _INTEGER.match(minute) or not _INTEGER.match(hour):
        raise CronError(f"'{cron}': expected one minute and one hour (when the game day starts), got '{minute} {hour}'")
    if day_of_month not in ("*", "?") or month not in ("*", "?"):
        raise CronError(
            f"'{cron}': a game day is weekly; expected '*' for day of month and month (the days of the week say when)"
        )
    try:
        return WeeklyStart(
            _number(minute, 0, 59, "minute"), _number(hour, 0, 23, "hour"), _days(day_of_week), day_of_week
        )
    except CronError as problem:
        raise CronError(f"'{cron}': {problem}") from None


def time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"unknown time zone '{name}'; expected an IANA name such as Europe/Paris or UTC") from None


def _clock(minutes: int) -> str:
    minutes %= MINUTES_PER_DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def business_hours_problem(cron: str, zone: str, window_minutes: int) -> str | None:
    """Why a game day from `cron` lasting `window_minutes` would run into business hours
    (Mon–Fri 07:00–19:00 in `zone`), or None when it never does."""
    start = parse(cron)
    time_zone(zone)
    begin = start.start
    end = begin + window_minutes
    for day in sorted(start.days):
        # The window may run past midnight into the following days.
        for offset in range(0, end // MINUTES_PER_DAY + 1):
            weekday = (day + offset) % 7
            if weekday not in BUSINESS_DAYS:
                continue
            open_from = offset * MINUTES_PER_DAY + BUSINESS_START
            open_until = offset * MINUTES_PER_DAY + BUSINESS_END
            if begin < open_until and open_from < end:
                return (
                    f"'{cron}' runs the game day {DAY_NAMES[day]} {_clock(begin)}–{_clock(end)} {zone} "
                    f"({window_minutes} min), into business hours ({BUSINESS_HOURS}, {DAY_NAMES[weekday]}); "
                    "expected a start that keeps every experiment outside them (evenings, nights or weekends)"
                )
    return None


def slot(cron: str, index: int, slot_minutes: int) -> str:
    """The cron of the game day's `index`th slot (0 is the start itself)."""
    start = parse(cron)
    total = start.start + index * slot_minutes
    days_later, minute_of_day = divmod(total, MINUTES_PER_DAY)
    if days_later == 0 or start.days == frozenset(range(7)):
        days_field = start.days_field if days_later == 0 else "*"
    else:
        days_field = ",".join(str((day + days_later) % 7) for day in sorted(start.days))
    return f"{minute_of_day % 60} {minute_of_day // 60} * * {days_field}"


def with_zone(cron: str, zone: str) -> str:
    """Chaos Mesh's Schedule reads the zone from the cron itself (robfig/cron v3)."""
    return f"CRON_TZ={zone} {cron}"
