"""`ops chaos drill`: Chaos Toolkit experiments against real processes on 127.0.0.1.

The drill starts the topology (ops/chaos/processes.py: two API workers behind HAProxy,
a PostgreSQL primary and standby, Redis, an upstream stub, each dependency behind a
link of the fault proxy), then plays each experiment of ops/chaos/experiments/ with
chaostoolkit-lib: the steady-state hypothesis before, the method (its faults, the
traffic during them, the probes of how the platform answered, the recovery), the
hypothesis after, the rollbacks. Between experiments it restores the whole topology
and waits for the steady state, so one experiment's damage is not the next one's.

An experiment passes when Chaos Toolkit completed it without deviating, and every
activity of its method and rollbacks succeeded (a probe whose condition does not hold
fails its activity). Each journal is written to --journals. The last line on stdout is
one JSON object: every experiment's figures, and `coverage`, the share of the catalog's
failure modes (ops/chaos/failure_modes.yaml) that passing experiments exercised.

Exit 0 when every experiment passed, 1 when one did not (each named on stderr), 2 for
bad usage or a machine that lacks a tool (nothing started). Without --apply it prints
its plan and starts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.audit import AuditLog
from ops.steps import OpsError, PreconditionFailed

EXPERIMENTS = Path(__file__).with_name("experiments")
# The order they run in: the workers, Redis, the database, the upstream, pressure, releases.
ORDER = (
    "worker-kill",
    "worker-freeze",
    "zone-loss",
    "redis-kill",
    "redis-freeze",
    "database-failover",
    "database-freeze",
    "slow-upstream",
    "failing-upstream",
    "cpu-pressure",
    "memory-pressure",
    "database-partition",
    "bad-release",
    "redis-freeze-and-worker-kill",
)
JOURNALS = Path("build") / "chaos-drill"
SETTLE_SECONDS = 30.0


def _experiment_name(value: str) -> str:
    if value not in ORDER:
        raise argparse.ArgumentTypeError(f"unknown experiment {value!r}; expected one of: {', '.join(ORDER)}")
    return value


def register(commands: Any) -> None:
    summary = "play the Chaos Toolkit experiments against real processes on 127.0.0.1; prints one JSON line"
    command = commands.add_parser("drill", help=summary, description=summary)
    command.add_argument(
        "--only",
        action="append",
        type=_experiment_name,
        metavar="NAME",
        help="run only this experiment (repeatable); --list names them",
    )
    command.add_argument("--list", action="store_true", help="list the experiments and their failure modes, and stop")
    command.add_argument(
        "--journals",
        type=Path,
        default=JOURNALS,
        metavar="DIR",
        help=f"where each experiment's Chaos Toolkit journal is written ({JOURNALS})",
    )
    command.add_argument("--apply", action="store_true", help="run the drill; without it, only print the plan")
    command.set_defaults(run=run)


# The experiments.


class ExperimentError(PreconditionFailed):
    """An experiment file is missing, not JSON, or not a valid Chaos Toolkit experiment:
    refused before anything starts."""


def load_experiment(name: str, folder: Path | None = None) -> dict[str, Any]:
    """The experiment `name` (`<folder>/<name>.json`, ops/chaos/experiments/ by default),
    checked by chaostoolkit-lib: its shape, and each Python activity's function and
    arguments."""
    try:
        from chaoslib.exceptions import ChaosException
        from chaoslib.experiment import ensure_experiment_is_valid
    except ImportError:
        raise ExperimentError(
            "Chaos Toolkit is not installed: pip install -r ops/requirements.txt (into .venv)"
        ) from None

    path = (folder or EXPERIMENTS) / f"{name}.json"
    try:
        experiment = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ExperimentError(f"{path}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise ExperimentError(f"{path}: not JSON ({error})") from None
    logger = logging.getLogger("chaostoolkit")
    level, logger.level = logger.level, logging.CRITICAL  # the validation's own chatter
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as error:
        raise ExperimentError(f"{path}: not a valid Chaos Toolkit experiment: {error}") from None
    finally:
        logger.level = level
    return experiment


def _activities(experiment: dict[str, Any], section: str) -> list[str]:
    return [activity.get("name", "?") for activity in experiment.get(section, [])]


# Running one.


@dataclass
class Result:
    name: str
    failure_modes: list[str]
    passed: bool = False
    recovery_seconds: float | None = None
    recovery_from: str | None = None  # the fault, or its repair
    steady_state: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "failureModes": self.failure_modes,
            "passed": self.passed,
            "recoverySeconds": self.recovery_seconds,
            "recoveryFrom": self.recovery_from,
            "steadyState": self.steady_state,
            "problems": self.problems,
            "seconds": round(self.seconds, 2),
        }


def _phase(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The figures of one steady-state check: its requests, and its writes."""
    if not state:
        return None
    found: dict[str, Any] = {}
    for probe in state.get("probes", []):
        output = probe.get("output")
        if not isinstance(output, dict):
            continue
        if "byKind" in output:
            found.update(_traffic(output))
        elif "acknowledged" in output:
            found["writes"] = output
    found["met"] = bool(state.get("steady_state_met"))
    return found


def _traffic(figures: dict[str, Any]) -> dict[str, Any]:
    keep = ("requests", "failed", "successRatio", "p50Seconds", "p99Seconds", "maxSeconds", "statuses", "errors")
    extra = ("inFlightAtFault", "inFlightFailed", "writeRtoSeconds")
    summary = {key: figures[key] for key in (*keep, *extra) if key in figures}
    summary["byKind"] = {
        kind: {key: group[key] for key in ("requests", "successRatio", "p99Seconds", "statuses")}
        for kind, group in figures.get("byKind", {}).items()
    }
    return summary


def _during(runs: list[dict[str, Any]], streams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the method measured: its traffic under the fault (`streams`, by name), and
    what its probes found."""
    during: dict[str, Any] = _traffic(streams["main"]) if "main" in streams else {}
    others = {name: _traffic(figures) for name, figures in streams.items() if name != "main"}
    if others:
        during["streams"] = others
    for activity_run in runs:
        activity = activity_run.get("activity", {})
        output = activity_run.get("output")
        func = activity.get("provider", {}).get("func")
        if activity.get("type") == "probe" and isinstance(output, dict) and func not in SUMMARISED:
            during.setdefault("probes", {})[activity.get("name")] = output
    return during


# Probes whose output the result shows elsewhere: the traffic, the recovery.
SUMMARISED = ("stop_traffic", "recovered", "wait_for_traffic")


def _failures(journal: dict[str, Any], problems: list[str]) -> list[str]:
    """Why an experiment did not pass, one line each."""
    found = []
    for phase in ("before", "after"):
        state = journal.get("steady_states", {}).get(phase)
        if state is not None and not state.get("steady_state_met"):
            probe = state["probes"][-1] if state.get("probes") else {}
            name = probe.get("activity", {}).get("name", "?")
            found.append(f"steady state {phase}: {name} out of tolerance")
    for section in ("run", "rollbacks"):
        for activity_run in journal.get(section) or []:
            if activity_run.get("status") != "succeeded":
                found.append(f"{section} activity {activity_run['activity'].get('name')}: {_reason(activity_run)}")
    if journal.get("status") not in ("completed",) and not found:
        found.append(f"Chaos Toolkit ended it {journal.get('status')}")
    return found + [f"found: {problem}" for problem in problems]


# The exception names Chaos Toolkit puts before an activity's own message.
_RAISED_BY = re.compile(r"^(?:(?:[a-z_]\w*\.)+[A-Z]\w*: )+")


def _reason(activity_run: dict[str, Any]) -> str:
    """Why an activity failed, in its own words (without the exceptions' names)."""
    last = (activity_run.get("exception") or ["failed"])[-1].strip()
    return _RAISED_BY.sub("", last)


class _AuditEvents:
    """Chaos Toolkit's events as the drill's audit lines: one per activity."""

    def __init__(self, audit: AuditLog, experiment: str) -> None:
        self.audit, self.experiment = audit, experiment

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None  # the events the drill does not log

    def activity_completed(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        output = run.get("output")
        detail = {k: v for k, v in output.items() if not isinstance(v, dict)} if isinstance(output, dict) else {}
        if run.get("status") != "succeeded":
            detail["reason"] = _reason(run)
        self.audit.record(f"{self.experiment}/{activity.get('name')}", run.get("status", "?"), **detail)


def play(name: str, experiment: dict[str, Any], topology: Any, audit: AuditLog) -> tuple[dict[str, Any], Any]:
    """One experiment through chaostoolkit-lib, its run attached for the activities."""
    from chaoslib.experiment import run_experiment
    from chaoslib.types import Strategy

    from ops.chaos import activities
    from ops.chaos.traffic import Ledger

    key, key_id = topology.new_key(f"chaos-{name}")
    run = activities.Run(topology, name, Ledger(key, key_id))
    activities.attach(run)
    try:
        # Rollbacks always: a method that failed half-way is what they are there for.
        settings = {"runtime": {"rollbacks": {"strategy": "always"}}}
        journal = run_experiment(
            experiment, settings=settings, strategy=Strategy.DEFAULT, event_handlers=[_AuditEvents(audit, name)]
        )
    finally:
        activities.detach()
    return journal, run


def settle(topology: Any) -> float:
    """Put every process back as the drill started it and wait for the steady state;
    how long it took. A drill that cannot settle stops: every later result would be
    this damage, not its own."""
    from ops.chaos import activities
    from ops.chaos.processes import NEW_RELEASE, WORKERS
    from ops.chaos.traffic import Ledger

    started = time.monotonic()
    key, key_id = topology.new_key("chaos-settle")
    activities.attach(activities.Run(topology, "settle", Ledger(key, key_id)))
    try:
        assert topology.pair is not None
        for server in topology.pair.servers:
            server.thaw()
        activities.thaw([*WORKERS, NEW_RELEASE, "redis"])
        activities.release_pressure()
        activities.withdraw_release()
        activities.restart([*WORKERS, "redis"])
        activities.rejoin_database()
        activities.heal_link(["database-1", "database-2", "redis", "upstream"])
        activities.upstream_answers(200)
        activities.recovered(within_seconds=SETTLE_SECONDS)
    finally:
        activities.detach()
    return time.monotonic() - started


# The command.


def _catalog() -> Any:
    from ops.chaos import catalog

    try:
        return catalog.load()
    except OpsError as error:
        raise PreconditionFailed(f"the failure-mode catalog: {error}") from None


def _modes(catalog: Any, name: str) -> list[str]:
    return [mode.id for mode in catalog.modes if name in mode.local]


def run(arguments: argparse.Namespace) -> int:
    names = [name for name in ORDER if name in (arguments.only or ORDER)]
    experiments = {name: load_experiment(name) for name in names}
    catalog = _catalog()
    if arguments.list:
        for name in names:
            modes = ", ".join(_modes(catalog, name)) or "-"
            print(f"{name:30} {modes:36} {experiments[name]['title']}")
        return 0
    audit = AuditLog("chaos-drill", dry_run=not arguments.apply, path=arguments.audit_log)
    if not arguments.apply:
        return _plan(names, experiments, catalog, audit)
    from ops.chaos.processes import missing_tools

    missing = missing_tools()
    if missing:
        raise PreconditionFailed(f"the chaos drill needs {', '.join(missing)}; .ci/run installs them")
    try:
        arguments.journals.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PreconditionFailed(f"cannot write journals to {arguments.journals}: {error.strerror}") from None
    started = time.monotonic()
    results = _apply(names, experiments, catalog, audit, arguments.journals)
    passed = {result.name for result in results if result.passed}
    report = {
        "experiments": len(results),
        "passed": len(passed),
        "coverage": round(catalog.coverage("local", exercised=passed), 4),
        "seconds": round(time.monotonic() - started, 1),
        "results": [result.as_json() for result in results],
    }
    for result in results:
        verdict = "passed" if result.passed else "FAILED"
        recovery = "-" if result.recovery_seconds is None else f"{result.recovery_seconds:g} s"
        print(f"{result.name:30} {verdict:7} recovery {recovery:>9}  ({result.seconds:.1f} s)")
    print(json.dumps(report))
    failed = [result for result in results if not result.passed]
    for result in failed:
        print(f"ops: chaos drill: {result.name} failed: {'; '.join(result.problems)}", file=sys.stderr)
    return 1 if failed else 0


def _plan(names: list[str], experiments: dict[str, Any], catalog: Any, audit: AuditLog) -> int:
    for number, name in enumerate(names, 1):
        experiment = experiments[name]
        audit.record(name, "would-apply", summary=experiment["title"])
        print(f"{number:2}. {name} ({', '.join(_modes(catalog, name)) or 'no catalogued mode'}): {experiment['title']}")
        print(f"      method: {', '.join(_activities(experiment, 'method'))}")
        print(f"      rollbacks: {', '.join(_activities(experiment, 'rollbacks')) or '-'}")
    print("dry run: nothing was started; add --apply to run the drill")
    print(json.dumps({"dry_run": True, "plan": names}))
    return 0


def _apply(
    names: list[str], experiments: dict[str, Any], catalog: Any, audit: AuditLog, journals: Path
) -> list[Result]:
    from ops.chaos import processes

    _chaostoolkit_logs()
    results: list[Result] = []
    with contextlib.ExitStack() as cleanup:
        audit.record("start-topology", "applying")
        began = time.monotonic()
        topology = cleanup.enter_context(processes.running())
        ports = {**topology.ports, **{server.name: server.port for server in topology.pair.servers}}
        audit.record("start-topology", "applied", seconds=round(time.monotonic() - began, 2), **ports)
        broken: str | None = None
        for name in names:
            result = Result(name, _modes(catalog, name))
            results.append(result)
            if broken:
                result.problems = [f"not run: {broken}"]
                continue
            began = time.monotonic()
            journal, state = play(name, experiments[name], topology, audit)
            if journal.get("status") == "interrupted":
                # Chaos Toolkit turns Ctrl-C and SIGTERM into an interrupted run: stop here,
                # and let the cleanup stop every process.
                raise KeyboardInterrupt
            _record(result, journal, state)
            result.seconds = time.monotonic() - began
            (journals / f"{name}.json").write_text(json.dumps(journal, indent=2, default=str), encoding="utf-8")
            audit.record(name, "passed" if result.passed else "failed", recovery_seconds=result.recovery_seconds)
            try:
                audit.record("settle", "applied", seconds=round(settle(topology), 2))
            except Exception as error:  # noqa: BLE001 - said in every later result, then the drill stops
                broken = f"the topology could not be restored after {name}: {type(error).__name__}: {error}"
                audit.record("settle", "failed", reason=broken)
    return results


def _record(result: Result, journal: dict[str, Any], state: Any) -> None:
    states = journal.get("steady_states", {})
    result.steady_state = {
        "before": _phase(states.get("before")),
        "during": _during(journal.get("run") or [], state.during),
        "after": _phase(states.get("after")),
    }
    for activity_run in journal.get("run") or []:
        output = activity_run.get("output")
        if isinstance(output, dict) and "recoverySeconds" in output:
            result.recovery_seconds, result.recovery_from = output["recoverySeconds"], output.get("since")
    result.problems = _failures(journal, state.problems)
    result.passed = journal.get("status") == "completed" and not journal.get("deviated") and not result.problems


class _Stderr(logging.Handler):
    """To whatever sys.stderr is when a line is logged (a test may have replaced it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _chaostoolkit_logs() -> None:
    """Chaos Toolkit's errors on stderr, one line each; its chatter not."""
    logger = logging.getLogger("chaostoolkit")
    if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("chaostoolkit: %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
