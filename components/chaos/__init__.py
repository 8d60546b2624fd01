"""Chaos engineering on a cluster (issue #18): Chaos Mesh from its pinned chart, scoped to
the app's namespace (chaos_mesh.py), and the experiments as code (experiments.py): one
scheduled Workflow per experiment of the plan (plan.py), its fault (faults.py) beside a
steady-state check (workflows.py) that asks the steady-state guard (guard.py), laid out
over a game day outside business hours (schedule.py)."""

from components.chaos.chaos_mesh import ChaosMesh, ChaosMeshArgs, GuardPath
from components.chaos.experiments import ChaosExperiments, ChaosExperimentsArgs, GameDay
from components.chaos.faults import Sizes, Targets
from components.chaos.guard import SteadyStateGuard, SteadyStateGuardArgs
from components.chaos.workflows import Timing

__all__ = [
    "ChaosExperiments",
    "ChaosExperimentsArgs",
    "ChaosMesh",
    "ChaosMeshArgs",
    "GameDay",
    "GuardPath",
    "Sizes",
    "SteadyStateGuard",
    "SteadyStateGuardArgs",
    "Targets",
    "Timing",
]
