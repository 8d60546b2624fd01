"""Copies of this project with some stack files changed, for tests that need a stack and
the stacks it references (a secondary and its primary) side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from preflight.graph import Graph
from preflight.project import Program
from preflight.synth import Synthesizer
from tests.conftest import link_program, stack_config

Change = Callable[[dict[str, Any]], None]


def project_copy(folder: Path, changes: dict[str, Change]) -> Program:
    """The program with a stack file per key of `changes`, each the project's own with
    its change applied (in place, on the `config:` mapping)."""
    link_program(folder)
    for stack, change in changes.items():
        config = stack_config(stack)
        change(config)
        (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    return Program.load(folder)


def synthesize_copy(folder: Path, stack: str, changes: dict[str, Change]) -> Graph:
    return Synthesizer(project_copy(folder, changes)).synthesize(stack)


def unchanged(config: dict[str, Any]) -> None:
    """The stack file as the project has it."""
