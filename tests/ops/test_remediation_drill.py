"""`ops heal drill`: the remediation drill end to end on real processes (a quick subset:
one incident of each outcome), its processes all gone when it ends and when it is
interrupted; the local executors against the real workload and edge, their refusals,
and HAProxy's runtime API stopped and frozen; the kubelet stand-in's back-off; the
drill's alerts as the receiver's strict parser reads them; its usage errors."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.chaos import processes
from ops.heal import catalog, drill, fleet, rails
from ops.heal.executors import Action, CannotHelp, ExecutorError
from ops.heal.local import LocalEdge, LocalWorkload
from ops.heal.payload import parse
from ops.heal.stand_ins import FAILING_REGION, REGIONS
from ops.steps import wait_until
from tests.conftest import ROOT
from tests.ops.conftest import run

QUICK = ("worker-hung", "region-failure", "dependency-outage")
# One local topology at a time from these tests: two starting at once may pick the same
# free port (ops/dr/local_postgres.free_port binds, releases, and the server binds later).
TOPOLOGY_LOCK = Path("/tmp/projectai-remediation-drill-tests.lock")


@pytest.fixture
def one_topology() -> Iterator[None]:
    with TOPOLOGY_LOCK.open("w") as lock:
        wait_until(lambda: _locked(lock), 240, "the other drill test's processes stopped", 0.2)
        yield


def _locked(lock: Any) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _session_processes(session: int) -> list[int]:
    """Processes still alive in a session (the drill's, started with a session of its own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _drill(*arguments: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "ops", "heal", "drill", *arguments]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def test_a_quick_drill_ends_with_one_json_line_and_leaves_no_process(one_topology) -> None:
    only = [argument for name in QUICK for argument in ("--only", name)]
    drilling = _drill("--apply", *only)
    try:
        out, err = drilling.communicate(timeout=120)
    finally:
        if _session_processes(drilling.pid):
            os.killpg(drilling.pid, signal.SIGKILL)
    assert drilling.returncode == 0, out[-2000:] + err[-4000:]
    figures = json.loads(out.splitlines()[-1])
    assert set(figures) == {"incidents", "auto_resolved", "mttr_seconds"}
    assert figures["incidents"] == len(QUICK) and figures["auto_resolved"] == 1
    rows = {line.split()[0]: line.split() for line in out.splitlines()[:-1]}
    assert [rows[name][1] for name in QUICK] == ["auto-resolved", "resolved-with-approval", "escalated"]
    # The MTTR is the auto-resolved incident's time, injection to the criterion holding.
    assert abs(figures["mttr_seconds"] - float(rows["worker-hung"][2])) <= 0.05
    assert 0 < figures["mttr_seconds"] < drill.DETECT_SECONDS + drill.RESOLVE_SECONDS
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    steps = [(line["step"], line["outcome"]) for line in lines]
    assert ("decided", "pending-approval") in steps and ("approval", "approved") in steps
    assert all(line["dry_run"] is False for line in lines)
    assert _session_processes(drilling.pid) == []


def test_an_interrupted_drill_stops_every_process_it_started(one_topology) -> None:
    drilling = _drill("--apply", "--only", "overload")
    deadline, seen = time.monotonic() + 60, ""
    try:
        while "drill/overload" not in seen and time.monotonic() < deadline:
            if select.select([drilling.stderr], [], [], 1.0)[0]:
                seen += drilling.stderr.readline()
        assert "drill/overload" in seen, seen[-2000:]
        drilling.send_signal(signal.SIGTERM)
        _, err = drilling.communicate(timeout=60)
    finally:
        if _session_processes(drilling.pid):
            os.killpg(drilling.pid, signal.SIGKILL)
    assert drilling.returncode == 130 and "ops: interrupted" in err and "Traceback" not in err
    assert _session_processes(drilling.pid) == []


# The executors against the real workload and edge.


def test_the_local_executors_on_the_real_workload_and_edge(one_topology, monkeypatch) -> None:
    """One stage (every process of the drill) for all the executors' checks: starting it
    takes seconds."""
    assert processes.missing_tools() == []
    with drill._stage(None) as stage:
        _restart_replaces_a_frozen_worker_within_the_workload_scope(stage)
        _the_workload_refuses_what_it_does_not_have(stage)
        _scale_out_adds_checked_replicas_up_to_the_ceiling_and_scale_in_removes_them(stage)
        _the_edge_never_takes_out_the_last_healthy_region(stage)
        _the_edge_stopped_or_frozen_is_an_executor_error_within_a_bound(stage, monkeypatch)


def _restart(pod: str, namespace: str = "project-ai") -> Action:
    return Action("restart_pod", {"namespace": namespace, "pod": pod})


def _scale(ceiling: int, autoscaler: str = "project-ai-api") -> Action:
    params = {"namespace": "project-ai", "autoscaler": autoscaler, "autoscaler_kind": "HorizontalPodAutoscaler"}
    return Action("scale_out", {**params, "step": 2, "ceiling": ceiling})


def _restart_replaces_a_frozen_worker_within_the_workload_scope(stage) -> None:
    workload = LocalWorkload(stage.fleet)
    worker = stage.topology.workers["worker-2"]
    before = worker.process.pid
    worker.freeze()
    impact = workload.assess(_restart("worker-2"))
    assert (impact.scope, impact.units, impact.population) == ("project-ai/Deployment/project-ai-api", 1, 2)
    # The production rails: one restart of two replicas per window, the second refused.
    bounds = catalog.load().rails
    assert rails.refusal(bounds, _restart("worker-2"), impact, []) is None
    touched = [("restart_pod", "project-ai/worker-1", impact.scope, 1)]
    assert rails.refusal(bounds, _restart("worker-2"), impact, touched).startswith("blast radius")
    result = workload.execute(_restart("worker-2"))
    assert result["restarted"] == "worker-2" and result["pid"] != before
    stage.topology.wait_for_lb({"worker-1", "worker-2"}, 10)


def _the_workload_refuses_what_it_does_not_have(stage) -> None:
    workload = LocalWorkload(stage.fleet)
    with pytest.raises(ExecutorError, match="no worker 'worker-9'"):
        workload.assess(_restart("worker-9"))
    with pytest.raises(ExecutorError, match="no namespace 'kube-system'"):
        workload.assess(_restart("worker-1", namespace="kube-system"))
    with pytest.raises(ExecutorError, match="no autoscaler 'other-api'"):
        workload.assess(_scale(4, autoscaler="other-api"))
    with pytest.raises(CannotHelp, match="at its cost ceiling 2"):
        workload.assess(_scale(2))
    with pytest.raises(CannotHelp, match="no release"):
        workload.assess(Action("abort_rollout", {"namespace": "project-ai", "rollout": "project-ai-api"}))


def _scale_out_adds_checked_replicas_up_to_the_ceiling_and_scale_in_removes_them(stage) -> None:
    workload = LocalWorkload(stage.fleet)
    impact = workload.assess(_scale(3))
    assert (impact.units, impact.population) == (1, 2)  # the ceiling caps the step of 2
    result = workload.execute(_scale(3))
    (added,) = result["added"]
    try:
        wait_until(lambda: added in stage.fleet.serving(), 10, f"{added} in rotation", 0.05)
        with pytest.raises(CannotHelp):
            workload.assess(_scale(3))
    finally:
        assert stage.fleet.scale_in() == [added]
    assert added not in stage.topology.lb.stat()
    assert added not in stage.topology.workers


def _the_edge_never_takes_out_the_last_healthy_region(stage) -> None:
    edge = LocalEdge(stage.regions.edge)
    disable = Action("disable_edge_pool", {"pool": FAILING_REGION}, approval=True)
    impact = edge.assess(disable)
    assert (impact.serving_after, impact.done) == (1, False)
    with pytest.raises(ExecutorError, match="no pool 'project-ai-prod-xx'"):
        edge.assess(Action("disable_edge_pool", {"pool": "project-ai-prod-xx"}))
    stage.regions.edge.runtime(f"disable server edge/{REGIONS[0]}")
    try:
        alone = edge.assess(disable)
        assert alone.serving_after == 0
        assert rails.refusal(catalog.load().rails, disable, alone, []).startswith("edge floor")
    finally:
        stage.regions.edge.runtime(f"enable server edge/{REGIONS[0]}")
    assert edge.execute(disable) == {"disabled_pool": FAILING_REGION}
    try:
        assert edge.assess(disable).done
    finally:
        stage.regions.edge.runtime(f"enable server edge/{FAILING_REGION}")


def _the_edge_stopped_or_frozen_is_an_executor_error_within_a_bound(stage, monkeypatch) -> None:
    edge = LocalEdge(stage.regions.edge)
    disable = Action("disable_edge_pool", {"pool": FAILING_REGION}, approval=True)
    stage.regions.edge.freeze()
    try:
        began = time.monotonic()
        with pytest.raises(ExecutorError, match="did not answer"):
            edge.assess(disable)
        assert time.monotonic() - began < 10
    finally:
        stage.regions.edge.thaw()
    monkeypatch.setattr(stage.regions.edge, "socket_path", Path("/nonexistent/haproxy.sock"))
    with pytest.raises(ExecutorError, match="did not answer"):
        edge.execute(disable)


# Without processes.


class _Service:
    def __init__(self) -> None:
        self.running, self.launches = True, 0

    def launch(self) -> None:
        self.running, self.launches = True, self.launches + 1


def test_the_kubelet_stand_in_backs_off_doubling_up_to_its_cap_and_forgets_a_steady_worker() -> None:
    service = _Service()
    replica = fleet._Replica(service, started=0.0)
    tend = fleet._tend
    now, waits = 0.0, []
    for _ in range(7):
        service.running = False
        tend(replica, now)  # the crash is seen
        waits.append(replica.next_start - now)
        tend(replica, replica.next_start - 0.01)
        assert not service.running  # not before its back-off
        now = replica.next_start
        tend(replica, now)
        assert service.running
    assert waits == [2, 4, 8, 16, 32, 60, 60]
    tend(replica, now + fleet.STEADY_SECONDS + 1)
    assert replica.crashes == []


def test_the_drills_alerts_are_what_the_receiver_parses_and_its_runbooks_match_them() -> None:
    runbooks = catalog.load(drill.DRILL_CATALOG)
    for incident in drill.INCIDENTS.values():
        labels = incident().labels()
        firing = drill.notification(labels, "firing", "2025-01-02T03:04:05Z", drill.ZERO_TIME)
        (alert,) = parse(json.dumps(firing).encode()).alerts
        assert alert.name == incident.alert and alert.resolved_at is None
        kinds = [action.kind for action in runbooks.candidates(alert.labels)]
        assert kinds and kinds[-1] == "open_incident", incident.name  # a human, when all else fails
    resolved = drill.notification(labels, "resolved", "2025-01-02T03:04:05Z", "2025-01-02T03:05:05Z")
    assert parse(json.dumps(resolved).encode()).alerts[0].resolved_at is not None


def test_a_dry_run_plans_and_starts_nothing(capsys, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"the dry run ran a program: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    code, out, _ = run(capsys, "heal", "drill", "--only", "overload", "--only", "worker-hung")
    assert code == 0
    assert json.loads(out.splitlines()[-1]) == {"dry_run": True, "plan": ["worker-hung", "overload"]}


def test_bad_usage_and_a_missing_tool_are_refused_before_anything_starts(capsys, monkeypatch) -> None:
    code, _, err = run(capsys, "heal", "drill", "--only", "worker-hang")
    assert code == 2 and "unknown incident 'worker-hang'; expected one of: worker-crash-loop," in err
    started = []
    monkeypatch.setattr(processes.Topology, "start", lambda self: started.append(self))
    monkeypatch.setattr(processes, "missing_tools", lambda: ["haproxy (Debian package haproxy)"])
    code, _, err = run(capsys, "heal", "drill", "--apply")
    assert code == 2 and "the remediation drill needs haproxy (Debian package haproxy)" in err
    assert started == [] and "Traceback" not in err
