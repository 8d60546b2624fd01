"""Runbooks: dry run by default, idempotent, audited, bounded in time."""

from __future__ import annotations

import io
import json

import pytest

from ops.audit import AuditLog
from ops.steps import PreconditionFailed, Runbook, Step, StepFailed, WaitTimedOut, wait_until
from tests.ops.conftest import audit


class Switch:
    """A thing a step turns on; `lag` is how many polls it takes to show."""

    def __init__(self, lag: int = 0) -> None:
        self.on, self.lag, self.actions = False, lag, 0

    def act(self) -> None:
        self.actions += 1
        self.on = True

    def done(self) -> bool:
        if self.on and self.lag > 0:
            self.lag -= 1
            return False
        return self.on


def step(switch: Switch, **options) -> Step:
    return Step(name="turn-on", summary="turn it on", done=switch.done, action=switch.act, **options)


def test_dry_run_changes_nothing_and_says_what_it_would_do(fake_clock):
    switch = Switch()
    lines = Runbook("r", [step(switch)], fake_clock.clock).run(audit(dry_run=True))
    assert switch.actions == 0
    assert [(line["step"], line["outcome"], line["dry_run"]) for line in lines] == [("turn-on", "would-apply", True)]


def test_apply_acts_once_and_a_second_run_skips_the_done_step(fake_clock):
    switch = Switch()
    runbook = Runbook("r", [step(switch)], fake_clock.clock)
    first = runbook.run(audit(dry_run=False))
    second = runbook.run(audit(dry_run=False))
    assert switch.actions == 1
    assert [line["outcome"] for line in first] == ["applying", "applied"]
    assert [line["outcome"] for line in second] == ["already-done"]


def test_a_result_that_shows_late_is_polled_for_within_the_settle_bound(fake_clock):
    switch = Switch(lag=3)
    Runbook("r", [step(switch, settle_seconds=60, interval_seconds=10)], fake_clock.clock).run(audit(dry_run=False))
    assert fake_clock.sleeps == [10, 10, 10]


def test_a_result_that_never_shows_fails_the_step_at_its_bound(fake_clock):
    switch = Switch(lag=1_000)
    log = audit(dry_run=False)
    with pytest.raises(StepFailed, match="did not happen within 30 s"):
        Runbook("r", [step(switch, settle_seconds=30, interval_seconds=10)], fake_clock.clock).run(log)
    assert fake_clock.now == 30
    assert log.lines[-1]["outcome"] == "failed"


def test_a_refused_precondition_stops_before_acting_and_is_audited(fake_clock):
    switch, later = Switch(), Switch()

    def refuse(apply: bool) -> dict:
        raise PreconditionFailed("the writer is healthy")

    log = audit(dry_run=False)
    with pytest.raises(PreconditionFailed):
        Runbook("r", [step(switch, precondition=refuse), step(later)], fake_clock.clock).run(log)
    assert switch.actions == later.actions == 0
    assert log.lines == [
        {
            "time": "t",
            "runbook": "test",
            "step": "turn-on",
            "outcome": "refused",
            "dry_run": False,
            "detail": {"summary": "turn it on", "reason": "the writer is healthy"},
        }
    ]


def test_an_action_that_raises_is_a_failed_step_naming_the_error(fake_clock):
    def broken() -> None:
        raise ConnectionError("endpoint closed")

    failing = Step(name="call", summary="call the API", done=lambda: False, action=broken)
    with pytest.raises(StepFailed, match="ConnectionError: endpoint closed"):
        Runbook("r", [failing], fake_clock.clock).run(audit(dry_run=False))


def test_wait_until_returns_the_first_truthy_value_and_never_oversleeps_its_bound(fake_clock):
    values = iter([None, 0, 7])
    assert wait_until(lambda: next(values), 100, "x", 3, fake_clock.clock) == 7
    with pytest.raises(WaitTimedOut, match="lag under 1 s did not happen within 7 s"):
        wait_until(lambda: None, 7, "lag under 1 s", 5, fake_clock.clock)
    assert fake_clock.sleeps[-2:] == [5, 2]


def test_audit_lines_are_json_on_the_stream_and_appended_to_the_file(tmp_path):
    stream, path = io.StringIO(), tmp_path / "audit.jsonl"
    log = AuditLog("dr-failover", dry_run=False, stream=stream, path=path)
    log.record("failover", "applied", target="eu-west-1")
    log.record("disable-edge-pool", "already-done")
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert written == [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["step"] for line in written] == ["failover", "disable-edge-pool"]
    assert written[0]["detail"] == {"target": "eu-west-1"} and written[0]["time"].endswith("+00:00")
