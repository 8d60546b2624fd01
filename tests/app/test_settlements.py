"""The deferred-settlement queue: oldest first, nothing lost to a deferral that arrives
while it retries, and one broken settlement never blocks the others."""

from __future__ import annotations

import pytest

from app.db.database import DatabaseUnavailable
from app.db.settlements import Settlements

pytestmark = pytest.mark.anyio


class ScriptedDatabase:
    """Runs settlements as the test says: down, up, or broken for some."""

    def __init__(self) -> None:
        self.down = True
        self.applied: list[int] = []
        self.during_retry = None

    async def run(self, settlement, what: str) -> None:
        if self.down:
            raise DatabaseUnavailable("down")
        if self.during_retry is not None:
            arriving, self.during_retry = self.during_retry, None
            await arriving()
        await settlement(self)


def settlement(number: int, broken: bool = False):
    async def apply(database: ScriptedDatabase) -> None:
        if broken:
            raise ValueError("a bug in this one settlement")
        database.applied.append(number)

    return apply


async def test_deferred_settlements_apply_oldest_first_and_a_broken_one_is_dropped() -> None:
    database = ScriptedDatabase()
    settlements = Settlements(database)  # type: ignore[arg-type]
    for number in range(4):
        await settlements._apply("settled", settlement(number, broken=number == 1))
    assert len(settlements) == 4
    database.down = False
    assert await settlements.retry_pending() == 0
    assert database.applied == [0, 2, 3]


async def test_a_deferral_during_a_retry_at_capacity_loses_nothing_in_flight() -> None:
    database = ScriptedDatabase()
    settlements = Settlements(database, capacity=3)  # type: ignore[arg-type]
    for number in range(3):
        await settlements._apply("settled", settlement(number))
    database.down = False

    async def arrives() -> None:
        database.down = True
        await settlements._apply("settled", settlement(99))  # deferred: the queue is full
        database.down = False

    database.during_retry = arrives
    await settlements.retry_pending()
    # 0 was in flight when 99 arrived and pushed out the oldest waiting one (1): 0 lands.
    assert database.applied[0] == 0 and 99 in database.applied
