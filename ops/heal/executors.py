"""What the healer asks of whatever carries out an action: a small interface, so the same
decisions drive the cluster (ops/heal/kube.py, edge.py, pagerduty.py) or local processes
(a remediation drill's executors).

An executor handles some action kinds. For each action it first `assess`es (reads only):
whether the work is already done, and what the action would touch, which the blast-radius
rail bounds. Only then, and only with --apply, does it `execute`. Both raise
ExecutorError (or time out, which it reports as one) and never hang past their bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from ops.steps import OpsError

RESTART_POD = "restart_pod"
ABORT_ROLLOUT = "abort_rollout"
SCALE_OUT = "scale_out"
SHED_LOAD = "shed_load"
DISABLE_EDGE_POOL = "disable_edge_pool"
OPEN_INCIDENT = "open_incident"
ActionKind = Literal["restart_pod", "abort_rollout", "scale_out", "shed_load", "disable_edge_pool", "open_incident"]
KINDS = get_args(ActionKind)


class ExecutorError(OpsError):
    """The system acted on could not be read or changed (refused, down, too slow)."""


class CannotHelp(ExecutorError):
    """The action can do nothing useful here (an autoscaler already at its cost ceiling,
    a pod with no controller to replace it): the next candidate is tried."""


@dataclass(frozen=True)
class Action:
    """One runbook action made concrete for one alert: parameters rendered from its labels."""

    kind: str
    params: Mapping[str, Any]
    # Destructive steps wait for a human (ops heal approve ID).
    approval: bool = False

    @property
    def target(self) -> str:
        """What the per-target rate limit counts: the object acted on."""
        return "/".join(str(self.params[name]) for name in sorted(self.params) if name in TARGET_PARAMS)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "params": dict(self.params), "approval": self.approval}


# The parameters that name the object acted on (the rest say how).
TARGET_PARAMS = frozenset({"namespace", "pod", "rollout", "autoscaler", "configmap", "flag", "pool", "dedup_key"})


@dataclass(frozen=True)
class Impact:
    """What an action would touch, as its executor reads the system now.

    scope: the unit the blast radius is bounded in (a workload, the edge);
    units: how many of its members the action touches (pods restarted, replicas added);
    population: how many members the scope has (a workload's replicas), 0 if not counted;
    serving_after: members still serving afterwards where the edge counts them (healthy
    pools left), None where that does not apply;
    done: the action's effect is already there (a pod already terminating, a pool
    already disabled): nothing to do, and nothing counted.
    """

    scope: str
    units: int = 1
    population: int = 0
    serving_after: int | None = None
    done: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    kinds: frozenset[str]

    def assess(self, action: Action) -> Impact: ...

    def execute(self, action: Action) -> Mapping[str, Any]:
        """Carries the action out; returns what it did, for the audit line."""
        ...


def by_kind(executors: list[Executor]) -> dict[str, Executor]:
    table: dict[str, Executor] = {}
    for executor in executors:
        for kind in executor.kinds:
            if kind in table:
                raise OpsError(f"two executors handle {kind!r}; expected one per action kind")
            table[kind] = executor
    return table
