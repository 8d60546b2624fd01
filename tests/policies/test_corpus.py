"""Issue #19's corpora, end to end through `python -m preflight --program`: whole Pulumi
programs as a team writes them, outside this project.

- corpus/programs/*.py: legitimate designs (an AWS service, a private EKS cluster, a GCP
  service, GKE Autopilot, a Kubernetes app, Vault, a Cloudflare edge...). Each must pass
  both packs with no mandatory violation.
- corpus/mutations.yaml: one misconfiguration each, as one textual replacement in one of
  those programs. Each must be refused for exactly the rules it names, and no other: the
  rest of the program is compliant, so the corpus also proves there are no false positives.

Every program becomes one stack of a single program folder (its __main__.py runs the
stack's own program file), and one CLI run checks them all (`--all`), each stack
synthesized in its own child as preflight always does. The run is shared by the xdist
workers: the first to need it runs it, the others read its report.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
PROGRAMS = CORPUS / "programs"
# Every stack's configuration: the providers' settings, and the secrets a program requires.
STACK_CONFIG = {
    "aws:region": "eu-west-1",
    "gcp:project": "orders-dev-4821",
    "gcp:region": "europe-west1",
    "vault:address": "https://vault.example.com:8200",
    "corpus:cacheAuthToken": {"secure": "v1:corpus"},
}
DISPATCH = '''"""Runs the stack's own program: one stack per program of the corpus."""

import runpy
from pathlib import Path

import pulumi

runpy.run_path(str(Path(__file__).parent / "programs" / f"{pulumi.get_stack()}.py"), run_name="__main__")
'''


@dataclass(frozen=True)
class Mutation:
    name: str
    base: str
    rules: tuple[str, ...]
    old: str
    new: str

    def program(self) -> str:
        text = (PROGRAMS / f"{self.base}.py").read_text()
        found = text.count(self.old)
        if found != 1:
            raise ValueError(
                f"mutation {self.name}: its old text occurs {found} times in {self.base}.py, expected once"
            )
        return text.replace(self.old, self.new)


def _mutations() -> list[Mutation]:
    entries = yaml.safe_load((CORPUS / "mutations.yaml").read_text())
    mutations = []
    for entry in entries:
        rules = entry["rule"] if isinstance(entry["rule"], list) else [entry["rule"]]
        mutations.append(Mutation(entry["name"], entry["base"], tuple(rules), entry["old"], entry["new"]))
    return mutations


DESIGNS = sorted(path.stem for path in PROGRAMS.glob("*.py"))
MUTATIONS = _mutations()


def build(folder: Path) -> list[str]:
    """The corpus as one program folder: a stack per program. Returns the stacks."""
    (folder / "programs").mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "corpus", "runtime": "python"}))
    (folder / "__main__.py").write_text(DISPATCH)
    programs = {name: (PROGRAMS / f"{name}.py").read_text() for name in DESIGNS}
    programs.update({mutation.name: mutation.program() for mutation in MUTATIONS})
    for stack, text in programs.items():
        (folder / "programs" / f"{stack}.py").write_text(text)
        (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": STACK_CONFIG}))
    return sorted(programs)


def run_corpus(folder: Path) -> dict[str, Any]:
    """One `preflight --program <folder> --all` run: its exit code, its seconds, and each stack's report."""
    build(folder / "program")
    started = time.monotonic()
    command = [sys.executable, "-m", "preflight", "--program", str(folder / "program"), "--all"]
    command += ["--format", "json", "--no-cache", "--out", str(folder / "out")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"preflight exited {done.returncode} without a report: {done.stderr[-4000:]}")
    return {
        "exitCode": done.returncode,
        "seconds": seconds,
        "stacks": {stack["stack"]: stack for stack in report["stacks"]},
    }


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The corpus run, once for every xdist worker (the first runs it under a lock)."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is a folder of the session's; alone, the session's own.
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "policy-corpus"
    shared.mkdir(exist_ok=True)
    result = shared / "result.json"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            result.write_text(json.dumps(run_corpus(shared)))
    return json.loads(result.read_text())


def _mandatory(stack: dict[str, Any]) -> dict[str, list[str]]:
    """The rules a stack violates with mandatory enforcement: their messages, by rule."""
    found: dict[str, list[str]] = {}
    for findings in stack["policies"]["violations"].values():
        for finding in findings:
            if finding["enforcement"] == "mandatory":
                found.setdefault(finding["policy"], []).append(finding["message"])
    return found


def _stack(corpus: dict[str, Any], name: str) -> dict[str, Any]:
    stack = corpus["stacks"][name]
    assert stack.get("error") is None, f"{name} did not synthesize: {stack.get('error')}"
    assert stack["policies"]["errors"] == []
    return stack


@pytest.mark.parametrize("name", DESIGNS)
def test_a_legitimate_design_passes_both_packs(corpus: dict[str, Any], name: str) -> None:
    stack = _stack(corpus, name)
    assert _mandatory(stack) == {}
    assert stack["status"] == "ok"


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_one_misconfiguration_is_refused_for_its_rule_only(corpus: dict[str, Any], mutation: Mutation) -> None:
    stack = _stack(corpus, mutation.name)
    assert sorted(_mandatory(stack)) == sorted(mutation.rules), _mandatory(stack)
    assert stack["status"] == "failed"


def test_every_mutation_changes_its_base_exactly_once() -> None:
    names = [mutation.name for mutation in MUTATIONS]
    assert len(set(names)) == len(names), "two mutations share a name"
    assert not set(names) & set(DESIGNS), "a mutation is named like a program"
    for mutation in MUTATIONS:
        assert mutation.base in DESIGNS, f"{mutation.name}: no program {mutation.base}.py"
        assert mutation.program() != (PROGRAMS / f"{mutation.base}.py").read_text()


def test_the_whole_corpus_is_one_cli_run(corpus: dict[str, Any]) -> None:
    assert sorted(corpus["stacks"]) == sorted(DESIGNS + [m.name for m in MUTATIONS])
    assert corpus["exitCode"] == 1  # the misconfigured programs fail the run
