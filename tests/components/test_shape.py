"""Every component has one shape: (name, args, opts), and registers outputs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pulumi
import pytest

import components
from preflight.synth import Synthesizer
from tests.conftest import PROJECT_STACKS


def component_classes() -> list[type[pulumi.ComponentResource]]:
    for module in pkgutil.walk_packages(components.__path__, f"{components.__name__}."):
        importlib.import_module(module.name)
    found, pending = set(), [pulumi.ComponentResource]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith(f"{components.__name__}."):
                found.add(subclass)
    return sorted(found, key=lambda cls: cls.__qualname__)


def test_components_are_found() -> None:
    assert {"AppService", "ClusterAutoscaler", "ApiMonitors"} <= {cls.__name__ for cls in component_classes()}


@pytest.mark.parametrize("component", component_classes(), ids=lambda cls: cls.__name__)
def test_every_component_takes_name_args_and_opts(component: type[pulumi.ComponentResource]) -> None:
    parameters = list(inspect.signature(component.__init__).parameters)
    assert parameters == ["self", "name", "args", "opts"]


@pytest.mark.parametrize("stack", PROJECT_STACKS)
def test_every_component_registers_outputs(project_synthesizer: Synthesizer, stack: str) -> None:
    graph = project_synthesizer.synthesize(stack)
    silent = [r.urn for r in graph.resources if not r.custom and r.type.startswith("projectai:") and not r.outputs]
    assert silent == []
