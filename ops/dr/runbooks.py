"""The disaster-recovery runbooks as steps (docs/dr-runbook.md is their prose twin).

- switchover: a planned move of the writer to another region, with no data loss. Refused
  while the writer is unhealthy (that is a failover); waits until the target's
  replication lag is under its bound before asking Aurora to switch.
- failover: a regional outage. Refused while the writer is healthy, unless forced. Then
  either Aurora's managed failover to the target, or (`detach`) the target leaves the
  global database and writes alone; and, given the edge's details, the failed region's
  pool is disabled at Cloudflare.
- promote-standby: AWS as a whole cannot serve: prod-gcp's Cloud SQL standby, which DMS
  keeps replicating from the primary, is promoted to a writer.
"""

from __future__ import annotations

from dataclasses import dataclass

from ops.dr.aurora import DOWN, UNKNOWN, AuroraGlobal, Member, arn_region
from ops.dr.edge import EdgePools
from ops.dr.standby import Standby
from ops.steps import Clock, Facts, OpsError, PreconditionFailed, Runbook, Step, wait_until


@dataclass(frozen=True)
class Timing:
    # How long a planned switchover waits for the lag to come under its bound.
    lag_wait_seconds: float = 600.0
    # How long Aurora may take to show the new writer (minutes, by AWS's own figures).
    settle_seconds: float = 900.0
    interval_seconds: float = 15.0


def _member(database: AuroraGlobal, arn: str) -> Member:
    member = database.state().member(arn)
    if member is None:
        raise OpsError(f"{arn} is not a member of {database.identifier}")
    return member


def switchover(
    database: AuroraGlobal, target_region: str, max_lag_seconds: float, timing: Timing, clock: Clock
) -> Runbook:
    def precondition(apply: bool) -> Facts:
        state = database.state()
        target, writer = state.in_region(target_region), state.writer
        if state.moving_to == target.arn:
            return {"target": target_region, "under_way": True}  # a resumed run: just wait
        if state.moving_to is not None:
            raise PreconditionFailed(f"a move of the writer to {state.moving_to} is under way; wait for it")
        if writer is None or not writer.healthy:
            where = f"{writer.region} is {writer.status}" if writer else "there is no writer"
            raise PreconditionFailed(f"a switchover needs a healthy writer, and {where}: see `ops dr status`")
        if not target.healthy or target.synchronization == "pending-resync":
            raise PreconditionFailed(
                f"the target {target.identifier} in {target_region} is {target.status}"
                f"{f', {target.synchronization}' if target.synchronization else ''}: it cannot take the writer"
            )
        facts: Facts = {"writer": writer.region, "target": target_region, "max_lag_seconds": max_lag_seconds}

        def lag_within_bound() -> float | None:
            lag = database.lag_seconds(target)
            facts["lag_seconds"] = lag
            # 0.0 is within bound, so report it as a truthy "done" marker.
            return (lag if lag > 0 else 1e-9) if lag is not None and lag <= max_lag_seconds else None

        if apply:
            wait_until(
                lag_within_bound,
                timing.lag_wait_seconds,
                f"replication lag of {target.identifier} under {max_lag_seconds:g} s",
                timing.interval_seconds,
                clock,
            )
        else:
            facts["lag_within_bound"] = lag_within_bound() is not None
        return facts

    step = Step(
        name="switchover",
        summary=f"move the writer of {database.identifier} to {target_region}, losing nothing",
        done=lambda: database.writes_from(target_region),
        action=lambda: database.switchover(database.state().in_region(target_region)),
        precondition=precondition,
        settle_seconds=timing.settle_seconds,
        interval_seconds=timing.interval_seconds,
    )
    return Runbook("dr-switchover", [step], clock)


@dataclass(frozen=True)
class EdgeTarget:
    pools: EdgePools
    # The failed region's pool, disabled so the edge stops trying it.
    failed_pool: str


def failover(
    database: AuroraGlobal,
    target_arn: str,
    force: bool,
    detach: bool,
    edge: EdgeTarget | None,
    timing: Timing,
    clock: Clock,
) -> Runbook:
    target_region = arn_region(target_arn)

    def precondition(apply: bool) -> Facts:
        state = database.state()
        target, writer = state.member(target_arn), state.writer
        if target is None:
            raise PreconditionFailed(f"{target_arn} is not a member of {database.identifier}")
        if state.moving_to == target_arn:
            return {"target": target_region, "under_way": True}  # a resumed run: just wait
        if state.moving_to is not None:
            raise PreconditionFailed(f"a move of the writer to {state.moving_to} is under way; wait for it")
        if target.is_writer:
            raise PreconditionFailed(
                f"{target.identifier} in {target_region} is the writer ({target.status}): fail over to another region"
            )
        if writer is not None and writer.healthy and not force:
            raise PreconditionFailed(
                f"the writer in {writer.region} is healthy ({writer.status}): a planned move is "
                "`ops dr switchover`; pass --force to fail over anyway and accept data loss"
            )
        if writer is not None and writer.health == UNKNOWN and not force:
            raise PreconditionFailed(
                f"cannot tell whether the writer in {writer.region} is down ({writer.status}); "
                "pass --force once you know it is"
            )
        if not target.healthy:
            raise PreconditionFailed(f"the target {target.identifier} in {target_region} is {target.status}")
        return {
            "writer": writer.describe() if writer else None,
            "target": target_region,
            "forced": force,
            "mode": "detach" if detach else "managed",
        }

    if detach:
        failover_step = Step(
            name="detach-and-promote",
            summary=f"take {target_region}'s cluster out of {database.identifier}; it then writes alone",
            done=lambda: database.detached(target_arn),
            action=lambda: database.detach(target_arn),
            precondition=precondition,
            settle_seconds=timing.settle_seconds,
            interval_seconds=timing.interval_seconds,
        )
    else:
        failover_step = Step(
            name="failover",
            summary=f"fail {database.identifier}'s writer over to {target_region}, accepting data loss",
            done=lambda: database.writes_from(target_region),
            action=lambda: database.failover(_member(database, target_arn)),
            precondition=precondition,
            settle_seconds=timing.settle_seconds,
            interval_seconds=timing.interval_seconds,
        )
    steps = [failover_step]
    if edge is not None:
        steps.append(
            Step(
                name="disable-edge-pool",
                summary=f"disable the edge pool {edge.failed_pool}",
                done=lambda: not edge.pools.enabled(edge.failed_pool),
                action=lambda: edge.pools.set_enabled(edge.failed_pool, False),
                precondition=lambda apply: edge.pools.others_enabled(edge.failed_pool),
                settle_seconds=60.0,
                interval_seconds=timing.interval_seconds,
            )
        )
    return Runbook("dr-failover", steps, clock)


def promote_standby(
    standby: Standby, primary: AuroraGlobal | None, force: bool, timing: Timing, clock: Clock
) -> Runbook:
    """prod-gcp's Cloud SQL standby becomes a writer; replication from Aurora ends. Only
    when AWS cannot serve: a second writer beside a healthy Aurora is a split brain."""

    def aws_down() -> Facts:
        if primary is None:
            return {"aws": "not checked"}
        try:
            writer = primary.state().writer
        except OpsError as silent:
            return {"aws": f"unreachable: {silent}"}
        if writer is None or writer.health == DOWN:
            return {"aws": f"writer {writer.status if writer else 'missing'}"}
        if not force:
            raise PreconditionFailed(
                f"Aurora's writer in {writer.region} is {writer.status} ({writer.health}): promoting the standby "
                "now makes a second writer; fail over within AWS (`ops dr failover`), or pass --force"
            )
        return {"aws": f"writer {writer.status}, forced"}

    def precondition(apply: bool) -> Facts:
        facts = aws_down()
        state = standby.state()
        if not state.replicating and not force:
            raise PreconditionFailed(
                f"the migration job is {state.state} in phase {state.phase}: the standby is not following the "
                "primary (an initial copy still running is incomplete); pass --force to promote it as it is"
            )
        return {"job": standby.job, **state.describe(), "forced": force, **facts}

    step = Step(
        name="promote-standby",
        summary="promote prod-gcp's Cloud SQL standby (the DMS migration job) to a writer",
        done=lambda: standby.state().promoted,
        action=standby.promote,
        precondition=precondition,
        settle_seconds=timing.settle_seconds,
        interval_seconds=timing.interval_seconds,
    )
    return Runbook("dr-promote-standby", [step], clock)
