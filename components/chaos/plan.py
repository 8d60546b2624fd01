"""The experiments a game day runs, in order, and the failure modes each one exercises.

Pure data (no Pulumi): the stack config reads it to check that a whole game day fits
outside business hours (stacks/model.py), the experiments component builds a scheduled
Workflow from each entry (experiments.py), and the failure-mode catalog
(ops/chaos/failure_modes.yaml, its `cluster:` lists) names them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    name: str
    # The failure modes it exercises: ids of the catalog (ops/chaos/failure_modes.yaml).
    modes: tuple[str, ...]
    # A game day runs the faults of these single experiments together; () for a single one.
    faults: tuple[str, ...] = ()
    # True: one fault after the other (a Serial template); False: all at once (Parallel).
    serial: bool = False

    @property
    def game_day(self) -> bool:
        return bool(self.faults)

    def faults_in_sequence(self) -> int:
        """How many fault durations it lasts, before the recovery the steady state still watches."""
        return len(self.faults) if self.serial else 1

    def seconds(self, fault_seconds: int, recovery_seconds: int) -> int:
        """From its start until its steady-state check ends."""
        return self.faults_in_sequence() * fault_seconds + recovery_seconds


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("api-pod-kill", ("pod-loss",)),
    Experiment("api-container-kill", ("pod-loss",)),
    Experiment("api-node-loss", ("node-loss",)),
    Experiment("api-zone-loss", ("zone-loss",)),
    Experiment("api-redis-partition", ("redis-loss",)),
    Experiment("api-redis-delay", ("redis-freeze",)),
    Experiment("api-database-delay", ("database-freeze",)),
    Experiment("api-database-partition", ("network-partition",)),
    Experiment("api-network-loss", ("network-partition",)),
    Experiment("api-http-delay", ("slow-upstream",)),
    Experiment("api-http-abort", ("failing-upstream",)),
    Experiment("api-dns-error", ("dns-failure",)),
    Experiment("api-clock-skew", ("clock-skew",)),
    Experiment("api-cpu-stress", ("cpu-pressure",)),
    Experiment("api-memory-stress", ("memory-pressure",)),
    # Several failures at once, or one on top of another: Redis frozen, then the CPU
    # starved while the breaker still keeps Redis out; a pod lost while the others are slow.
    Experiment("game-day-serial", ("redis-freeze", "cpu-pressure"), ("api-redis-delay", "api-cpu-stress"), serial=True),
    Experiment("game-day-parallel", ("pod-loss", "slow-upstream"), ("api-pod-kill", "api-http-delay")),
)
BY_NAME = {experiment.name: experiment for experiment in EXPERIMENTS}


def longest_seconds(fault_seconds: int, recovery_seconds: int) -> int:
    return max(experiment.seconds(fault_seconds, recovery_seconds) for experiment in EXPERIMENTS)
