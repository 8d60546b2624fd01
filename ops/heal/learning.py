"""Learning from past incidents: each (alert, action) pair's outcomes order the candidate
actions the next time the alert fires.

An action succeeded when its alert resolved within `outcome_seconds` after it; an action
whose alert is still firing past that failed; younger ones are not counted yet. The score
is the posterior mean success rate under a uniform prior (Laplace's rule: (s + 1) / (n +
2)), so one lucky or unlucky sample does not swing the order, and an untried action (0.5)
ranks above one that failed twice (0.25). Ties go to the shorter MTTR (alert start to
resolution), then to the catalog's order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ops.heal.executors import Action
from ops.heal.store import Attempt


@dataclass
class Record:
    alert: str
    kind: str
    successes: int = 0
    failures: int = 0
    waiting: int = 0
    repair_seconds: float = 0.0

    @property
    def score(self) -> float:
        return (self.successes + 1) / (self.successes + self.failures + 2)

    @property
    def mttr_seconds(self) -> float:
        return self.repair_seconds / self.successes if self.successes else math.inf


def records(attempts: Iterable[Attempt], outcome_seconds: float, now: float) -> dict[tuple[str, str], Record]:
    table: dict[tuple[str, str], Record] = {}
    for attempt in attempts:
        record = table.setdefault((attempt.alert, attempt.kind), Record(attempt.alert, attempt.kind))
        if attempt.resolved is not None and attempt.resolved - attempt.acted <= outcome_seconds:
            record.successes += 1
            record.repair_seconds += max(0.0, attempt.resolved - attempt.started)
        elif attempt.resolved is not None or now - attempt.acted > outcome_seconds:
            record.failures += 1
        else:
            record.waiting += 1
    return table


def order(alert: str, candidates: list[Action], table: dict[tuple[str, str], Record]) -> list[Action]:
    """Best first; `sorted` is stable, so the catalog's order breaks ties."""

    def key(action: Action) -> tuple[float, float]:
        record = table.get((alert, action.kind), Record(alert, action.kind))
        return -record.score, record.mttr_seconds

    return sorted(candidates, key=key)


def report(table: dict[tuple[str, str], Record]) -> str:
    header = f"{'alert':<34} {'action':<18} {'success':>7} {'failed':>6} {'waiting':>7} {'score':>5} {'mttr_s':>8}"
    lines = [header]
    for (alert, kind), record in sorted(table.items(), key=lambda item: (item[0][0], -item[1].score)):
        mttr = "-" if record.successes == 0 else f"{record.mttr_seconds:.0f}"
        lines.append(
            f"{alert:<34} {kind:<18} {record.successes:>7} {record.failures:>6} {record.waiting:>7} "
            f"{record.score:>5.2f} {mttr:>8}"
        )
    return "\n".join(lines)
