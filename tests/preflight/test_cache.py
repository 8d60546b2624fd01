"""Results are cached by everything they depend on: a repeated run with no change runs
no program and reports the same; any change to the program, a stack file or an option
runs it again; --no-cache always runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.cli import main
from tests.conftest import write_program

# Counts its own runs in a file outside its folder (a file in it would be an input).
COUNTING = """
from pathlib import Path

import pulumi

runs = Path(__file__).parent.parent / "runs.txt"
runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
pulumi.export("answer", 42)
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    (tmp_path / "program").mkdir()
    return write_program(tmp_path / "program", "counted", COUNTING, {"dev": {}}).directory


def check(capsys: pytest.CaptureFixture[str], program: Path, *options: str) -> str:
    assert main(["--program", str(program), "--stack", "dev", *options]) == 0
    return capsys.readouterr().out


def runs(program: Path) -> int:
    return len((program.parent / "runs.txt").read_text())


def test_a_repeated_run_with_no_change_runs_no_program(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = check(capsys, program)
    second = check(capsys, program)
    assert runs(program) == 1 and first == second


@pytest.mark.parametrize(
    "change",
    [
        lambda folder: (folder / "Pulumi.dev.yaml").write_text("config:\n  counted:flag: 'on'\n"),
        lambda folder: (folder / "helper.py").write_text("VALUE = 1\n"),
    ],
    ids=["stack-file", "program-file"],
)
def test_a_change_runs_the_program_again(program: Path, capsys: pytest.CaptureFixture[str], change: object) -> None:
    check(capsys, program)
    change(program)  # type: ignore[operator]
    check(capsys, program)
    assert runs(program) == 2


def test_an_option_that_changes_a_verdict_is_part_of_the_key(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check(capsys, program)
    check(capsys, program, "--fail-on-unvalidated")
    assert runs(program) == 2


def test_no_cache_always_runs(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check(capsys, program)
    check(capsys, program, "--no-cache")
    assert runs(program) == 2


def test_a_result_is_good_for_the_day_it_was_made(program: Path) -> None:
    from datetime import date

    from preflight.cache import key

    monday, tuesday = date(2026, 11, 30), date(2026, 12, 1)
    assert key(program, None, (), monday) == key(program, None, (), monday)
    assert key(program, None, (), monday) != key(program, None, (), tuesday)
