"""Programs run in child interpreters: a program cannot reach the gate, its output never
lands in a report, a child that dies or hangs fails its stack (exit 2), and stacks run
concurrently with each referenced stack synthesized once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preflight.cli import main
from preflight.isolation import IsolatedSynthesizer
from preflight.project import PreflightError
from tests.conftest import write_program

PRIVILEGED_POD = """
import pulumi_kubernetes as k8s

k8s.core.v1.Pod(
    "debug",
    metadata={"name": "debug", "namespace": "default"},
    spec={"containers": [{"name": "shell", "image": "busybox@sha256:" + "0" * 64,
                          "securityContext": {"privileged": True}}]},
)
"""


def run(capsys: pytest.CaptureFixture[str], program: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--program", str(program), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_program_that_empties_the_packs_still_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tampering = "import preflight.policies\npreflight.policies.PACKS = ()\n" + PRIVILEGED_POD
    program = write_program(tmp_path, "tamper", tampering, {"dev": {}})
    code, out, _ = run(capsys, program.directory, "--stack", "dev")
    assert code == 1 and "k8s-no-privileged-containers" in out


def test_a_program_that_exits_early_is_a_program_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write_program(tmp_path, "quitter", "import os\nos._exit(0)\n", {"dev": {}})
    code, out, _ = run(capsys, program.directory, "--stack", "dev")
    assert code == 2
    assert "the program ended (exit code 0) without delivering its graph" in out


def test_a_program_killed_by_a_signal_is_a_program_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main_py = "import os, signal\nprint('about to die')\nos.kill(os.getpid(), signal.SIGKILL)\n"
    program = write_program(tmp_path, "killed", main_py, {"dev": {}})
    code, out, err = run(capsys, program.directory, "--stack", "dev")
    assert code == 2 and "exit code -9" in out
    assert "about to die" not in out and "  | about to die" in err


def test_program_output_stays_out_of_the_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forged = 'print(\'{"exitCode": 0}\')\nimport sys\nprint("noise", file=sys.stderr)\n' + PRIVILEGED_POD
    program = write_program(tmp_path, "printer", forged, {"dev": {}})
    code, out, err = run(capsys, program.directory, "--stack", "dev", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["exitCode"] == 1
    assert '{"exitCode": 0}' not in out
    assert "output of the program for stack 'dev'" in err and '  | {"exitCode": 0}' in err and "  | noise" in err


def test_a_program_that_hangs_is_stopped(tmp_path: Path) -> None:
    program = write_program(tmp_path, "sleeper", "import time\nwhile True:\n    time.sleep(0.1)\n", {"dev": {}})
    synthesizer = IsolatedSynthesizer(program, timeout=2)
    try:
        with pytest.raises(PreflightError, match=r"ran longer than 2 s and was stopped"):
            synthesizer.synthesize("dev")
    finally:
        synthesizer.close()


REFERENCING = """
import pulumi

stack = pulumi.get_stack()
print("ran", stack)
if stack != "base":
    pulumi.export("seen", pulumi.StackReference("base").require_output("value"))
pulumi.export("value", stack)
"""


def test_stacks_run_concurrently_and_a_referenced_stack_runs_once(tmp_path: Path) -> None:
    stacks = {name: {} for name in ("base", "one", "two", "three")}
    program = write_program(tmp_path, "refs", REFERENCING, stacks)
    synthesizer = IsolatedSynthesizer(program, workers=2)
    try:
        graphs = synthesizer.synthesize_all(list(stacks))
    finally:
        synthesizer.close()
    for name in ("one", "two", "three"):
        assert graphs[name].outputs["seen"] == "base"
    assert synthesizer.program_output["base"].count("ran base") == 1


CYCLE = """
import pulumi

other = {"a": "b", "b": "a"}[pulumi.get_stack()]
pulumi.export("other", pulumi.StackReference(other).require_output("other"))
"""


def test_a_reference_cycle_is_an_error_not_a_hang(tmp_path: Path) -> None:
    program = write_program(tmp_path, "cycle", CYCLE, {"a": {}, "b": {}})
    synthesizer = IsolatedSynthesizer(program, timeout=60)
    try:
        results = synthesizer.synthesize_all(["a", "b"])
    finally:
        synthesizer.close()
    assert any("StackReference cycle" in str(result) for result in results.values())


def test_garbage_on_the_reference_pipe_is_refused(tmp_path: Path) -> None:
    program = write_program(tmp_path, "garbage", "", {"dev": {}})
    synthesizer = IsolatedSynthesizer(program)
    try:
        answer = synthesizer._answer("dev", "not json\n")
    finally:
        synthesizer.close()
    assert answer == {"error": "stack 'dev': its program sent the gate something it did not ask for"}


REWRITES_ITS_STACK_FILE = (
    """
from pathlib import Path

# An environment with no settings would stop the packs (exit 2) if the gate read it now.
Path("Pulumi.dev.yaml").write_text("config:\\n  projectai:environment: nowhere\\n")
"""
    + PRIVILEGED_POD
)


def test_the_gate_reads_its_inputs_before_any_program_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write_program(tmp_path, "rewriter", REWRITES_ITS_STACK_FILE, {"dev": {"projectai:environment": "dev"}})
    code, out, _ = run(capsys, program.directory, "--stack", "dev", "--no-cache")
    assert "nowhere" in (program.directory / "Pulumi.dev.yaml").read_text()
    assert code == 1 and "k8s-no-privileged-containers" in out
