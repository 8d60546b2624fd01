"""`ops chaos drill`: its experiments (valid Chaos Toolkit documents, each in the
failure-mode catalog), its options and their errors, its dry run, and real experiments
end to end on real processes, as `make chaos-drill` runs them: two that pass (one with
two faults at once), and one whose hypothesis cannot hold, which must fail the drill."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from datetime import datetime

from ops.chaos import catalog, drill, processes
from tests.conftest import ROOT
from tests.ops.conftest import audit_lines, run

PASSING = ["worker-kill", "redis-freeze-and-worker-kill"]
# What each activity of an experiment may do (ops/chaos/activities.py).
FAULTS = {"kill", "freeze", "fail_link", "upstream_answers", "apply_pressure", "deploy_release"}


def test_every_experiment_is_a_valid_chaos_toolkit_experiment_of_a_catalogued_mode() -> None:
    files = sorted(path.stem for path in drill.EXPERIMENTS.glob("*.json"))
    assert files == sorted(drill.ORDER)
    modes = catalog.load()
    assert modes.experiments("local") == set(drill.ORDER)
    for name in drill.ORDER:
        experiment = drill.load_experiment(name)  # chaostoolkit-lib's own validation
        probes = experiment["steady-state-hypothesis"]["probes"]
        assert probes and all("tolerance" in probe for probe in probes), name
        funcs = [activity["provider"]["func"] for activity in experiment["method"]]
        assert FAULTS & set(funcs), f"{name} injects no fault"
        assert funcs[0] == "start_traffic" and "stop_traffic" in funcs, f"{name} measures no traffic"
        assert experiment["rollbacks"], f"{name} has no rollback"


def test_list_names_each_experiment_with_its_failure_modes(capsys) -> None:
    code, out, _ = run(capsys, "chaos", "drill", "--list")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert list(rows) == list(drill.ORDER)
    assert "zone-loss, database-failover" in rows["zone-loss"]
    assert "pod-loss, redis-freeze" in rows["redis-freeze-and-worker-kill"]


def test_a_dry_run_plans_and_starts_nothing(capsys, monkeypatch, tmp_path) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"the dry run ran a program: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "chaos", "drill", "--only", "zone-loss", "--only", "worker-kill")
    assert code == 0
    assert json.loads(out.splitlines()[-1]) == {"dry_run": True, "plan": ["worker-kill", "zone-loss"]}
    assert "promote-the-standby" in out
    assert [(line["step"], line["outcome"]) for line in audit_lines(err)] == [
        ("worker-kill", "would-apply"),
        ("zone-loss", "would-apply"),
    ]
    assert list(tmp_path.iterdir()) == []


def test_a_bad_option_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops", "chaos", "drill", "--only", "worker-kil"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "argument --only: unknown experiment 'worker-kil'; expected one of: worker-kill," in done.stderr
    assert "Traceback" not in done.stderr


def test_what_would_stop_the_drill_half_way_is_refused_before_anything_starts(capsys, monkeypatch, tmp_path) -> None:
    started = []
    monkeypatch.setattr(processes.Topology, "start", lambda self: started.append(self))
    monkeypatch.setattr(processes, "missing_tools", lambda: ["stress-ng (Debian package stress-ng)"])
    code, _, err = run(capsys, "chaos", "drill", "--apply", "--only", "redis-kill")
    assert code == 2
    assert "refused: the chaos drill needs stress-ng (Debian package stress-ng); .ci/run installs them" in err

    monkeypatch.setattr(processes, "missing_tools", list)
    not_a_folder = tmp_path / "journals"
    not_a_folder.write_text("")
    code, _, err = run(capsys, "chaos", "drill", "--apply", "--only", "redis-kill", "--journals", str(not_a_folder))
    assert code == 2 and f"cannot write journals to {not_a_folder}" in err

    broken = tmp_path / "experiments"
    broken.mkdir()
    experiment = json.loads((drill.EXPERIMENTS / "redis-kill.json").read_text())
    experiment["method"][2]["provider"]["func"] = "kill_everything"
    (broken / "redis-kill.json").write_text(json.dumps(experiment))
    monkeypatch.setattr(drill, "EXPERIMENTS", broken)
    code, _, err = run(capsys, "chaos", "drill", "--apply", "--only", "redis-kill")
    assert code == 2
    assert "redis-kill.json: not a valid Chaos Toolkit experiment" in err and "kill_everything" in err
    assert started == [] and "Traceback" not in err


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_two_experiments_end_to_end_one_with_two_faults_at_once(tmp_path) -> None:
    journals = tmp_path / "journals"
    only = [argument for name in PASSING for argument in ("--only", name)]
    done = subprocess.run(
        [sys.executable, "-m", "ops", "chaos", "drill", "--apply", *only, "--journals", str(journals)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert (report["experiments"], report["passed"]) == (2, 2)
    # pod-loss and redis-freeze, of the catalog's fifteen modes.
    assert report["coverage"] == round(catalog.load().coverage("local", exercised=set(PASSING)), 4) == 0.1333
    results = {result["name"]: result for result in report["results"]}
    assert results["worker-kill"]["failureModes"] == ["pod-loss"]
    assert results["redis-freeze-and-worker-kill"]["failureModes"] == ["pod-loss", "redis-freeze"]
    for name, result in results.items():
        assert result["passed"] and result["problems"] == [], name
        assert 0 < result["recoverySeconds"] <= 20 and result["recoveryFrom"] == "fault"
        before, during, after = (result["steadyState"][phase] for phase in ("before", "during", "after"))
        for phase in (before, after):
            assert phase["met"] and phase["successRatio"] == 1.0 and phase["p99Seconds"] <= 0.5
            assert phase["writes"]["lost"] == 0 and phase["writes"]["acknowledged"] >= 20
        # Nothing sent once worker-1 was dead failed: only requests in flight on it may have.
        assert during["successRatio"] == 1.0 and during["requests"] >= 150
        assert during["inFlightFailed"] <= during["inFlightAtFault"]
        (taken_out,) = during["probes"].values()
        assert taken_out["state"] == "DOWN" and taken_out["secondsSinceFault"] < 3
        journal = json.loads((journals / f"{name}.json").read_text())
        assert (journal["status"], journal["deviated"]) == ("completed", False)
    # The two faults of the multiple failure ran in parallel, as background activities.
    journal = json.loads((journals / "redis-freeze-and-worker-kill.json").read_text())
    faults = [run for run in journal["run"] if run["activity"].get("background")]
    assert [run["activity"]["provider"]["func"] for run in faults] == ["freeze", "kill"]
    starts = [datetime.fromisoformat(run["start"]) for run in faults]
    assert abs((starts[1] - starts[0]).total_seconds()) < 0.25
    # Every process the drill started was stopped.
    lines = audit_lines(done.stderr)
    (started,) = [line for line in lines if line["step"] == "start-topology" and line["outcome"] == "applied"]
    ports = [port for name, port in started["detail"].items() if name != "seconds"]
    assert len(ports) == 13 and all(_refuses(port) for port in ports)
    assert [line["step"] for line in lines if line["outcome"] == "passed"] == PASSING


def test_a_hypothesis_that_does_not_hold_fails_the_drill_and_names_the_experiment(capsys, monkeypatch, tmp_path):
    # redis-freeze, asked for what no request through HAProxy and the app can do: a p99
    # under a millisecond while Redis is frozen.
    experiments = tmp_path / "experiments"
    shutil.copytree(drill.EXPERIMENTS, experiments)
    path = experiments / "redis-freeze.json"
    experiment = json.loads(path.read_text())
    (during,) = [a for a in experiment["method"] if a["provider"]["func"] == "stop_traffic"]
    during["provider"]["arguments"]["expect"]["all"]["max_p99_seconds"] = 0.001
    path.write_text(json.dumps(experiment))
    monkeypatch.setattr(drill, "EXPERIMENTS", experiments)
    code, out, err = run(
        capsys, "chaos", "drill", "--apply", "--only", "redis-freeze", "--journals", str(tmp_path / "journals")
    )
    assert code == 1
    report = json.loads(out.splitlines()[-1])
    assert (report["experiments"], report["passed"], report["coverage"]) == (1, 0, 0.0)
    (result,) = report["results"]
    assert not result["passed"] and result["failureModes"] == ["redis-freeze"]
    assert any("traffic-during-the-fault" in problem and "above 0.001 s" in problem for problem in result["problems"])
    assert result["steadyState"]["during"]["p99Seconds"] > 0.001
    assert "ops: chaos drill: redis-freeze failed: run activity traffic-during-the-fault" in err
    # The rollback still thawed Redis, and the steady state after was still measured.
    journal = json.loads((tmp_path / "journals" / "redis-freeze.json").read_text())
    assert [(run["activity"]["name"], run["status"]) for run in journal["rollbacks"]] == [("thaw-redis", "succeeded")]
    assert result["steadyState"]["after"]["requests"] == 60
