"""Secrets the program generates itself, renewed on a schedule.

A schedule counts whole periods since a fixed epoch; the period a `pulumi up` runs in is
the secret's generation. A generated value is kept by its generation, so the first
`pulumi up` of a new period replaces it and every other run leaves it alone.

Where clients must keep working through a change (the API-key pepper), two values take
turns: each period renews the older one and makes it current, and the other stays
valid as the previous value for one more period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pulumi
import pulumi_random as random

EPOCH = date(2026, 1, 1)


@dataclass(frozen=True)
class RotationSchedule:
    period_days: int
    today: date

    @property
    def generation(self) -> int:
        return (self.today - EPOCH).days // self.period_days

    def renewed_at(self, slot: int, slots: int) -> int:
        """The latest generation at or before this one that renewed `slot`."""
        return self.generation - (self.generation - slot) % slots


def rotating_password(
    name: str, schedule: RotationSchedule, opts: pulumi.ResourceOptions, length: int = 48
) -> random.RandomPassword:
    """A new value every period. Letters and digits only: valid in URLs and in every
    system's password rules here (ElastiCache allows few symbols)."""
    return random.RandomPassword(
        name, length=length, special=False, keepers={"generation": str(schedule.generation)}, opts=opts
    )


def rotating_pair(
    name: str, schedule: RotationSchedule, opts: pulumi.ResourceOptions, length: int = 48
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(current, previous): two values renewed in turn, one each period."""
    slots = [
        random.RandomPassword(
            f"{name}-{slot}",
            length=length,
            special=False,
            keepers={"generation": str(schedule.renewed_at(slot, 2))},
            opts=opts,
        )
        for slot in (0, 1)
    ]
    current = schedule.generation % 2
    return pulumi.Output.secret(slots[current].result), pulumi.Output.secret(slots[1 - current].result)
