"""ChaosExperiments: the experiments as code, in the app's namespace (issue #18).

For each experiment of the plan (plan.py), a Chaos Mesh Schedule of type Workflow named
after it: the Workflow runs its fault (faults.py) in parallel with the steady-state check
(workflows.py), which asks the steady-state guard (guard.py) and aborts the experiment
once the API's burn-rate alerts fire. A game day runs its experiments one slot after the
other from the stack's weekly start (schedule.py), outside business hours, each Schedule
with `concurrencyPolicy: Forbid`, a starting deadline and a bounded history.

Every object is a custom resource of chaos-mesh.org/v1alpha1 in the app's namespace,
validated by preflight against the vendored CRD schemas; the Workflows are also held to
what Chaos Mesh's admission webhook would refuse (workflows.problems).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.chaos import faults, plan, schedule, workflows
from components.chaos.faults import Sizes, Targets
from components.chaos.guard import SteadyStateGuard, SteadyStateGuardArgs
from components.chaos.plan import Experiment
from components.chaos.workflows import Fault, Timing
from components.labels import Ownership, kubernetes_labels

API_VERSION = "chaos-mesh.org/v1alpha1"
MODES_ANNOTATION = "chaos.project-ai.dev/failure-modes"


@dataclass(frozen=True)
class GameDay:
    """When the experiments run: a weekly start in the stack's time zone, one slot each."""

    cron: str
    time_zone: str
    slot_minutes: int
    starting_deadline_seconds: int
    history_limit: int


@dataclass(frozen=True)
class ChaosExperimentsArgs:
    owner: Ownership
    targets: Targets
    sizes: Sizes
    timing: Timing
    game_day: GameDay
    guard: SteadyStateGuardArgs
    # What must exist first: Chaos Mesh (its CRDs and webhooks), the API and its
    # namespace, the monitoring stack and the API's alerts; filled in by the caller.
    ready: tuple[pulumi.Resource, ...] = ()


def experiment_faults(experiment: Experiment, targets: Targets, sizes: Sizes) -> list[Fault]:
    if not experiment.game_day:
        kind, spec = faults.fault(experiment.name, targets, sizes)
        return [Fault(f"{experiment.name}-fault", kind, spec)]
    return [
        Fault(f"{experiment.name}-{single.removeprefix('api-')}", *faults.fault(single, targets, sizes))
        for single in experiment.faults
    ]


def experiment_workflow(experiment: Experiment, args: ChaosExperimentsArgs, guard_url: str) -> dict:
    spec = workflows.workflow(
        experiment.name,
        experiment_faults(experiment, args.targets, args.sizes),
        experiment.serial,
        guard_url,
        args.timing,
    )
    problems = workflows.problems(spec)
    if problems:
        raise ValueError(f"{experiment.name}: Chaos Mesh would refuse its workflow: {'; '.join(problems)}")
    return spec


def crons(game_day: GameDay) -> dict[str, str]:
    """Each experiment's Schedule cron, with its time zone: one slot after the one before."""
    slots = {
        e.name: schedule.slot(game_day.cron, index, game_day.slot_minutes) for index, e in enumerate(plan.EXPERIMENTS)
    }
    return {name: schedule.with_zone(cron, game_day.time_zone) for name, cron in slots.items()}


def _checked(args: ChaosExperimentsArgs) -> None:
    missing = faults.hosts_needed(args.targets)
    if missing:
        raise ValueError(f"the experiments need {'; '.join(missing)}")
    longest = plan.longest_seconds(args.timing.fault_seconds, args.timing.recovery_seconds)
    slot = args.game_day.slot_minutes * 60
    if longest + args.timing.grace_seconds + args.game_day.starting_deadline_seconds > slot:
        raise ValueError(
            f"a {args.game_day.slot_minutes}-minute slot is shorter than the longest experiment "
            f"({longest} s) with its grace and starting deadline; the next one would overlap it"
        )
    window = len(plan.EXPERIMENTS) * args.game_day.slot_minutes
    problem = schedule.business_hours_problem(args.game_day.cron, args.game_day.time_zone, window)
    if problem:
        raise ValueError(problem)


class ChaosExperiments(pulumi.ComponentResource):
    guard: SteadyStateGuard
    schedules: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: ChaosExperimentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("projectai:chaos:ChaosExperiments", name, None, opts)
        _checked(args)
        if args.guard.namespace != args.targets.namespace:
            raise ValueError("the steady-state guard runs in the app's namespace, beside what it guards")
        guard_args = dataclasses.replace(args.guard, ready=(*args.guard.ready, *args.ready))
        self.guard = SteadyStateGuard(f"{name}-guard", guard_args, pulumi.ResourceOptions(parent=self))
        labels = kubernetes_labels(args.owner, name="chaos-experiments", instance=name, component="chaos")
        # An experiment starts only once its guard can answer.
        after_guard = pulumi.ResourceOptions(parent=self, depends_on=[*args.ready, self.guard])
        when = crons(args.game_day)
        self.schedules = {}
        for experiment in plan.EXPERIMENTS:
            spec = workflows.schedule(
                when[experiment.name],
                experiment_workflow(experiment, args, self.guard.url),
                args.game_day.starting_deadline_seconds,
                args.game_day.history_limit,
            )
            self.schedules[experiment.name] = k8s.apiextensions.CustomResource(
                f"{name}-{experiment.name}",
                api_version=API_VERSION,
                kind="Schedule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=experiment.name,
                    namespace=args.targets.namespace,
                    labels=labels,
                    annotations={MODES_ANNOTATION: ",".join(experiment.modes)},
                ),
                spec=spec,
                opts=after_guard,
            )
        self.register_outputs({"schedules": list(self.schedules), "guard": self.guard.url})
