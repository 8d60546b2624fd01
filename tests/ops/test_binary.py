"""The standalone executable: built with PyInstaller by ops/standalone/build.sh, then run from
a folder with nothing beside it and no Python path, as on an on-call laptop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def binary(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ops-build")
    environment = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    built = subprocess.run(
        ["bash", str(ROOT / "ops" / "standalone" / "build.sh")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    path = Path(built.stdout.strip().splitlines()[-1])
    assert path == out / "dist" / "ops" and os.access(path, os.X_OK)
    return path


def run(binary: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    # Only PATH and HOME: no PYTHONPATH, no venv, nothing of the repository.
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([str(binary), *argv], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


def test_help_lists_the_commands(binary, tmp_path):
    shown = run(binary, tmp_path, "--help")
    assert shown.returncode == 0 and "dr" in shown.stdout
    dr = run(binary, tmp_path, "dr", "--help")
    assert dr.returncode == 0
    for command in ("status", "switchover", "failover", "drill"):
        assert command in dr.stdout


def test_a_dry_run_drill_plans_and_touches_nothing(binary, tmp_path):
    drill = run(binary, tmp_path, "dr", "drill")
    assert drill.returncode == 0, drill.stderr
    planned = [json.loads(line) for line in drill.stderr.splitlines() if line.startswith("{")]
    assert planned and all(line["dry_run"] and line["outcome"] == "would-apply" for line in planned)
    assert list(tmp_path.iterdir()) == []


def test_bad_input_is_a_clear_error_from_the_binary_too(binary, tmp_path):
    refused = run(binary, tmp_path, "dr", "switchover", "--to", "Europe")
    assert refused.returncode == 2
    assert "'Europe' is not an AWS region name" in refused.stderr and "Traceback" not in refused.stderr


def test_the_price_table_rides_along(binary, tmp_path):
    # `ops commitments` prices node counts from policies/cost/prices.yaml, data in the binary.
    rows = [f"2026-09-{1 + hour // 24:02d}T{hour % 24:02d}:00:00Z,2" for hour in range(15 * 24)]
    (tmp_path / "nodes.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    planned = run(binary, tmp_path, "commitments", "nodes.csv", "--region", "us-east-1", "--instance-type", "m6i.large")
    assert planned.returncode == 0, planned.stderr
    assert "computeSavingsPlan" in planned.stdout and "recorded 2026-11-30" in planned.stdout
