"""The DR drill: end to end on real PostgreSQL servers, as `make dr-drill` runs it; its
dry run, which touches nothing; its cleanup after a failure; and its arithmetic."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys

import pytest

from ops.cli import main
from ops.dr.drill import Drill
from ops.dr.local_postgres import LocalPostgresError, Pair
from ops.dr.write_load import Ack, row_checksum, row_values, rpo_seconds, verify
from ops.steps import StepFailed, wait_until
from tests.conftest import ROOT
from tests.ops.conftest import audit, audit_lines

STEPS = [
    "start-pair",
    "prepare-schema",
    "start-writes",
    "switchover",
    "check-switchover",
    "rejoin-old-primary",
    "kill-primary",
    "promote-standby",
    "rejoin-failed-primary",
    "stop-writes",
    "verify",
]


def test_the_drill_meets_its_goals_on_real_servers() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ops", "dr", "drill", "--apply"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert set(result) == {"switchover", "failover", "consistent"}
    assert set(result["switchover"]) == {"rows_lost", "rto_seconds"}
    assert set(result["failover"]) == {"rpo_seconds", "rto_seconds"}
    assert result["switchover"]["rows_lost"] == 0
    assert result["failover"]["rpo_seconds"] <= 1.0
    assert 0 < result["switchover"]["rto_seconds"] <= 30 and 0 < result["failover"]["rto_seconds"] <= 30
    assert result["consistent"] is True
    lines = audit_lines(done.stderr)
    assert [line["step"] for line in lines if line["outcome"] == "applied"] == STEPS
    assert not any(line["dry_run"] for line in lines)
    (report,) = [line for line in lines if line["step"] == "report"]
    assert report["detail"]["acknowledged"] > 0 and report["detail"]["standby_matches_primary"]


def test_a_dry_run_plans_every_step_and_starts_nothing(capsys, monkeypatch, tmp_path) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"the dry run ran a program: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.chdir(tmp_path)
    assert main(["dr", "drill"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1]) == {"dry_run": True, "plan": STEPS}
    lines = audit_lines(err)
    assert [line["step"] for line in lines] == STEPS
    assert all(line["outcome"] == "would-apply" and line["dry_run"] for line in lines)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--writers", "0"], "argument --writers: 0 is outside 1 to 32"),
        (["--max-seconds", "soon"], "argument --max-seconds: 'soon' is not a number of seconds"),
    ],
)
def test_bad_arguments_are_a_clear_error(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dr", "drill", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_failed_step_stops_the_servers_and_removes_their_folder(monkeypatch) -> None:
    def refused(pair: Pair, seconds: float) -> int:
        raise LocalPostgresError("the standby lacks WAL of the primary")

    monkeypatch.setattr(Pair, "switchover", refused)
    arguments = argparse.Namespace(
        writers=2, writes_between=50, max_writes=10_000, max_seconds=30.0, confirm_seconds=1.0
    )
    rehearsal = Drill.from_arguments(arguments)
    with pytest.raises(StepFailed, match="the standby lacks WAL of the primary"):
        try:
            rehearsal.runbook().run(audit(dry_run=False))
        finally:
            rehearsal.close()
    assert rehearsal.pair is not None and rehearsal.load is not None
    assert not any(server.running for server in rehearsal.pair.servers)
    assert not rehearsal.pair.primary.folder.exists()
    assert rehearsal.load.finished


def test_writes_the_standby_never_got_are_counted_lost_and_their_span_is_the_rpo(monkeypatch) -> None:
    """The drill on localhost rarely loses a write; here the primary's WAL sender stalls
    (SIGSTOP) while 200 more writes are acknowledged, then the primary dies: those writes
    are lost, and the drill must say so."""
    rehearsal = Drill(writers=4, writes_between=100, max_writes=100_000, max_seconds=45, confirm_seconds=0.5)
    crash = Pair.kill_primary

    def stall_then_crash(pair: Pair) -> None:
        ((sender,),) = pair.primary.query("SELECT pid FROM pg_stat_replication")
        os.kill(sender, signal.SIGSTOP)
        assert rehearsal.load is not None
        stalled_at = len(rehearsal.load.acks)
        wait_until(lambda: len(rehearsal.load.acks) >= stalled_at + 200, 30, "writes during the stall", 0.01)
        crash(pair)

    monkeypatch.setattr(Pair, "kill_primary", stall_then_crash)
    try:
        rehearsal.runbook().run(audit(dry_run=False))
    finally:
        rehearsal.close()
    assert rehearsal.result is not None
    assert rehearsal.details["failover_rows_lost"] >= 200
    assert rehearsal.result["failover"]["rpo_seconds"] > 0
    assert rehearsal.result["switchover"]["rows_lost"] == 0
    # Lost, but accounted for: nothing altered or invented, and the rewound old primary
    # holds exactly what the new one does.
    assert rehearsal.result["consistent"] and rehearsal.details["standby_matches_primary"]


def acks(*times: float, port: int = 1) -> list[Ack]:
    return [Ack(seq, at, port, row_checksum("key", *row_values(seq))) for seq, at in enumerate(times, 1)]


def rows(*seqs: int) -> list[tuple[str, str, int, int]]:
    return [(row_values(seq)[0], "key", *row_values(seq)[1:]) for seq in seqs]


def test_verify_tells_lost_altered_and_invented_rows_apart() -> None:
    acknowledged = acks(1.0, 1.1, 1.2, 1.3)
    model, _, prompt, completion = rows(2)[0]
    found = [*rows(1), (model, "key", prompt, completion + 1), *rows(3, 5), ("drill-000000099", "key", 99, 0)]
    result = verify(acknowledged, found, attempts=5)
    assert [ack.seq for ack in result.missing] == [4]
    assert result.corrupted == (2,)
    assert result.unexpected == ("drill-000000099",)
    assert result.unacknowledged_present == 1  # write 5: attempted, committed, never acknowledged
    assert not result.intact


def test_rpo_is_the_span_from_the_last_surviving_write_to_the_last_lost_one() -> None:
    acknowledged = acks(10.0, 10.2, 10.5, 10.9)
    assert rpo_seconds(acknowledged, []) == 0.0
    assert rpo_seconds(acknowledged, acknowledged[2:]) == pytest.approx(10.9 - 10.2)
    assert rpo_seconds(acknowledged, acknowledged) == pytest.approx(10.9 - 10.0)


def test_each_missed_goal_is_named() -> None:
    rehearsal = Drill(writers=1, writes_between=1, max_writes=100, max_seconds=5, confirm_seconds=1)
    rehearsal.result = {
        "switchover": {"rows_lost": 2, "rto_seconds": 31.0},
        "failover": {"rpo_seconds": 1.5, "rto_seconds": 3.0},
        "consistent": False,
    }
    missed = rehearsal.missed_goals()
    assert missed[:3] == [
        "switchover lost 2 acknowledged writes (goal: none)",
        "failover RPO 1.5 s (goal: at most 1 s)",
        "switchover RTO 31 s (goal: at most 30 s)",
    ]
    assert missed[3].startswith("the data is not consistent")


def test_the_drill_module_imports_nothing_heavy_for_a_dry_run() -> None:
    # The standalone binary's dry run must not need the app, SQLAlchemy or psycopg.
    probe = "import sys, ops.dr.drill; print(sorted({'app', 'sqlalchemy', 'psycopg'} & set(sys.modules)))"
    shown = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
