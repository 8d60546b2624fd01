"""A mistyped stack name is one line naming the closest stack there is, and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.graph import Graph
from preflight.project import PreflightError, Program
from tests.conftest import PROJECT_STACKS, ROOT


@pytest.mark.parametrize(("typed", "meant"), [("prdo", "prod"), ("prod-ue", "prod-eu"), ("stagign", "staging")])
def test_the_closest_stack_is_suggested(typed: str, meant: str) -> None:
    with pytest.raises(PreflightError) as caught:
        Program.load(ROOT).stack_config(typed)
    assert str(caught.value) == f"stack '{typed}' has no stack file Pulumi.{typed}.yaml; did you mean '{meant}'?"


def test_without_a_close_one_every_stack_is_listed() -> None:
    with pytest.raises(PreflightError) as caught:
        Program.load(ROOT).require_stacks(["local", "qqqq"])
    assert str(caught.value) == f"stack 'qqqq' has no stack file Pulumi.qqqq.yaml (stacks: {', '.join(PROJECT_STACKS)})"


def test_the_commands_say_it_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--program", str(ROOT), "--stack", "local", "--stack", "prdo"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "preflight: stack 'prdo' has no stack file Pulumi.prdo.yaml; did you mean 'prod'?\n",
    )
    base = tmp_path / "graph.json"
    base.write_text(json.dumps(Graph("project-ai", "prod").to_dict()))
    assert main(["diff", "--program", str(ROOT), "--stack", "prdo", "--base", str(base)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "preflight diff: stack 'prdo' has no stack file Pulumi.prdo.yaml; did you mean 'prod'?"
    ]
