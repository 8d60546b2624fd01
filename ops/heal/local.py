"""The receiver's executors for local processes (the remediation drill, ops/heal/drill.py):
the same actions as on the cluster, carried out on the drill's workload (ops/heal/fleet.py)
and its edge (an HAProxy in front of two "regions").

    restart_pod        the worker's process replaced at once, its crash back-off cleared
    abort_rollout      the release's replica out of rotation, then stopped
    scale_out          replicas started and added to HAProxy, never above the ceiling
    disable_edge_pool  the region's server put in maintenance on the edge

Opening an incident is ops/heal/pagerduty.py's, pointed at a local Events API stand-in.
Each assessment reads what it counts (replicas, the edge's healthy pools) from the running
processes and HAProxy's runtime API; an unknown object is an ExecutorError, as a 404 is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ops.chaos.processes import HAProxy
from ops.heal.executors import (
    ABORT_ROLLOUT,
    DISABLE_EDGE_POOL,
    RESTART_POD,
    SCALE_OUT,
    Action,
    CannotHelp,
    ExecutorError,
    Impact,
)
from ops.heal.fleet import Fleet, FleetError

NAMESPACE = "project-ai"  # the only one the drill has
EDGE_BACKEND = "edge"


class LocalWorkload:
    kinds = frozenset({RESTART_POD, ABORT_ROLLOUT, SCALE_OUT})

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def _check(self, params: Mapping[str, Any], name_param: str | None = None) -> None:
        if params["namespace"] != NAMESPACE:
            raise ExecutorError(f"no namespace {params['namespace']!r} here; the drill's is {NAMESPACE}")
        if name_param is not None and params[name_param] != self.fleet.name:
            raise ExecutorError(f"no {name_param} {params[name_param]!r}; the drill's workload is {self.fleet.name}")

    def _replicas(self) -> list[str]:
        return [name for name in self.fleet.replicas if name != self.fleet.release]

    def assess(self, action: Action) -> Impact:
        p = action.params
        try:
            if action.kind == RESTART_POD:
                self._check(p)
                if p["pod"] not in self.fleet.replicas:
                    raise ExecutorError(f"no worker {p['pod']!r} in {NAMESPACE}")
                scope = f"{NAMESPACE}/Deployment/{self.fleet.name}"
                return Impact(scope, units=1, population=len(self._replicas()), facts={"worker": p["pod"]})
            if action.kind == ABORT_ROLLOUT:
                self._check(p, "rollout")
                if self.fleet.release is None:
                    raise CannotHelp(f"no release of {self.fleet.name} is rolling out")
                return Impact(f"{NAMESPACE}/Rollout/{p['rollout']}", facts={"release": self.fleet.release})
            self._check(p, "autoscaler")
            current = len(self._replicas())
            wanted = min(current + int(p["step"]), int(p["ceiling"]))
            if wanted <= current:
                raise CannotHelp(f"{self.fleet.name} has {current} replicas, at its cost ceiling {p['ceiling']}")
            scope = f"{NAMESPACE}/{p['autoscaler_kind']}/{p['autoscaler']}"
            facts = {"replicas": current, "new_replicas": wanted}
            return Impact(scope, units=wanted - current, population=current, facts=facts)
        except (FleetError, OSError) as error:
            raise ExecutorError(f"the drill's workload did not answer: {error}") from None

    def execute(self, action: Action) -> Mapping[str, Any]:
        impact = self.assess(action)  # the world may have moved since the decision
        try:
            if action.kind == RESTART_POD:
                return {"restarted": action.params["pod"], "pid": self.fleet.restart(action.params["pod"])}
            if action.kind == ABORT_ROLLOUT:
                return {"withdrawn": self.fleet.withdraw_release()}
            return {"added": self.fleet.scale_out(impact.units), **impact.facts}
        except (FleetError, OSError) as error:
            raise ExecutorError(f"the drill's workload: {error}") from None


class LocalEdge:
    kinds = frozenset({DISABLE_EDGE_POOL})

    def __init__(self, edge: HAProxy) -> None:
        self.edge = edge

    def assess(self, action: Action) -> Impact:
        pool = action.params["pool"]
        try:
            servers = {name: row for name, row in self.edge.stat(EDGE_BACKEND).items() if name != "BACKEND"}
        except OSError as error:
            raise ExecutorError(f"the edge's runtime API did not answer: {error}") from None
        if pool not in servers:
            raise ExecutorError(f"no pool {pool!r} on the edge; it has {', '.join(sorted(servers))}")
        # Healthy by the edge's own checks; a pool in maintenance is not serving.
        others = sorted(name for name, row in servers.items() if name != pool and row["status"].startswith("UP"))
        return Impact(
            "edge",
            units=1,
            population=len(servers),
            serving_after=len(others),
            done=servers[pool]["status"] == "MAINT",
            facts={"healthy_others": others},
        )

    def execute(self, action: Action) -> Mapping[str, Any]:
        pool = action.params["pool"]
        try:
            answer = self.edge.runtime(f"disable server {EDGE_BACKEND}/{pool}").strip()
        except OSError as error:
            raise ExecutorError(f"the edge's runtime API did not answer: {error}") from None
        if answer:
            raise ExecutorError(f"the edge refused to disable {pool}: {answer[:200]}")
        return {"disabled_pool": pool}
