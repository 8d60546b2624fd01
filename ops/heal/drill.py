"""`ops heal drill`: incidents injected on real local processes, resolved (or not) by the
self-healing receiver, end to end.

The drill starts the chaos topology (ops/chaos/processes.py: API workers behind HAProxy,
PostgreSQL, Redis, the upstream stub, fault links), an edge in front of two regions and
a PagerDuty stand-in (ops/heal/stand_ins.py), and the receiver itself: `ops heal serve
--apply` on 127.0.0.1, with the production rails (runbooks.yaml) and the drill's runbooks
(drill_runbooks.yaml), its executors acting on the local processes (ops/heal/local.py).

Each incident is injected, detected from what the processes show (HAProxy's checks, the
kubelet stand-in's crash count, the error rate and latency of real requests, a dependency
answering), sent to the receiver as Alertmanager's webhook over HTTP, then watched until
its success criterion holds, within bounds. Outcomes:

    auto-resolved           the criterion held after the receiver acted, with no human step
    resolved-with-approval  the receiver held a destructive step for a human; the drill,
                            playing the on-call, approved it after APPROVE_AFTER_SECONDS
    escalated               the receiver opened an incident (a human's job from there)
    recovered-by-itself     the criterion held before the receiver did anything
    undetected, unresolved  nothing fired, or nothing mended it in time

Only auto-resolved incidents count in `auto_resolved` and the MTTR (injection to the
criterion holding). Between incidents the drill restores every process, and the
receiver's clock jumps two rails windows: each incident meets the rails as one happening
hours after the last would (within an incident they apply in full), and learning carries
over from one incident to the next.

The last line on stdout is one JSON object: {"incidents", "auto_resolved",
"mttr_seconds"}. Exit 0 when every incident ended as the drill expects it to, 1 if not,
2 for bad usage or a machine lacking a tool (nothing started). Without --apply it prints
the plan and starts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import secrets
import signal
import socket
import statistics
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.steps import OpsError, PreconditionFailed, WaitTimedOut, wait_until

DRILL_CATALOG = Path(__file__).with_name("drill_runbooks.yaml")
NAMESPACE = "project-ai"
POLL_SECONDS = 0.1
DETECT_SECONDS = 30.0
RESOLVE_SECONDS = 40.0
SETTLE_SECONDS = 30.0
# The on-call's answer to an approval request, in the drill.
APPROVE_AFTER_SECONDS = 3.0
# A window of requests the error rate and latency are read over.
WINDOW_SECONDS = 2.0
MIN_REQUESTS = 10
PROBE_TIMEOUT_SECONDS = 1.0

AUTO, APPROVED, ESCALATED = "auto-resolved", "resolved-with-approval", "escalated"
BY_ITSELF, UNDETECTED, UNRESOLVED = "recovered-by-itself", "undetected", "unresolved"


# The stage: every process of the drill and the receiver.


class DrillClock:
    """The receiver's clock: real time, plus the jumps between incidents."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def rfc3339(self) -> str:
        return datetime.datetime.fromtimestamp(self.now(), datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Stage:
    topology: Any
    fleet: Any
    regions: Any
    events: Any
    healer: Any
    heal_url: str
    webhook_token: str
    approval_token: str
    clock: DrillClock
    folder: Path
    streams: dict[str, Any] = field(default_factory=dict)

    # Traffic: real requests, their outcomes read over a recent window.

    def stream(self, name: str, base_url: str, mix: dict[str, int], concurrency: int) -> None:
        from ops.chaos.traffic import Ledger, Traffic

        key, key_id = self.topology.new_key(f"remediation-{name}")
        traffic = Traffic(base_url, Ledger(key, key_id), mix, concurrency, max_requests=6000, max_seconds=120.0)
        self.streams[name] = traffic.start()

    def stop_streams(self) -> None:
        while self.streams:
            self.streams.popitem()[1].stop()

    def recent(self, name: str, started: bool = False) -> list[Any]:
        """The stream's requests that ended (or, with `started`, began) in the last window."""
        since = time.monotonic() - WINDOW_SECONDS
        outcomes = list(self.streams[name].outcomes)
        return [o for o in outcomes if (o.started if started else o.ended) >= since]

    def failing(self, name: str) -> bool:
        recent = self.recent(name)
        return len(recent) >= MIN_REQUESTS and sum(not o.ok for o in recent) / len(recent) > 0.05

    def clean(self, name: str) -> bool:
        recent = self.recent(name, started=True)
        return len(recent) >= MIN_REQUESTS and all(o.ok for o in recent)

    # The receiver's side.

    def post(self, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"}
        return httpx.post(self.heal_url + path, json=body or {}, headers=headers, timeout=5.0)

    def decisions(self, fingerprint: str) -> list[dict[str, Any]]:
        lines = list(self.healer.audit.lines)
        return [line for line in lines if line.get("detail", {}).get("fingerprint") == fingerprint]


# The incidents.


class Incident:
    name = ""
    alert = ""
    expected = AUTO
    summary = ""

    def labels(self) -> dict[str, str]:
        return {"alertname": self.alert, "namespace": NAMESPACE, "severity": "critical"}

    def inject(self, stage: Stage) -> None: ...

    def firing(self, stage: Stage) -> bool:
        raise NotImplementedError

    def healthy(self, stage: Stage) -> bool:
        raise NotImplementedError

    def restore(self, stage: Stage) -> None: ...


class CrashLoop(Incident):
    name, alert = "worker-crash-loop", "ApiPodCrashLooping"
    summary = "worker-1 is SIGKILLed each time it starts, three times: the kubelet stand-in backs off 2, 4, then 8 s"
    worker, crashes = "worker-1", 3

    def labels(self) -> dict[str, str]:
        return {**super().labels(), "pod": self.worker}

    def inject(self, stage: Stage) -> None:
        fleet = stage.fleet
        for crash in range(self.crashes):
            if crash:  # the kubelet stand-in starts it again after its back-off: it crashes again
                began = fleet.process_started(self.worker)
                restarted = lambda began=began: fleet.process_started(self.worker) > began  # noqa: E731
                wait_until(restarted, DETECT_SECONDS, f"{self.worker} started again", POLL_SECONDS)
            fleet.crash(self.worker)

    def firing(self, stage: Stage) -> bool:
        down = self.worker not in stage.fleet.serving()
        return down and stage.fleet.crashes(self.worker, 60.0) >= self.crashes

    def healthy(self, stage: Stage) -> bool:
        return self.worker in stage.fleet.serving()


class Hung(Incident):
    name, alert = "worker-hung", "ApiPodUnresponsive"
    summary = "worker-2 is SIGSTOPped: alive, holding its port, answering nothing"
    worker = "worker-2"

    def labels(self) -> dict[str, str]:
        return {**super().labels(), "pod": self.worker}

    def inject(self, stage: Stage) -> None:
        stage.topology.workers[self.worker].freeze()

    def firing(self, stage: Stage) -> bool:
        import httpx

        if self.worker in stage.fleet.serving() or not stage.topology.workers[self.worker].running:
            return False
        try:
            httpx.get(stage.topology.worker_url(self.worker) + "/livez", timeout=PROBE_TIMEOUT_SECONDS)
        except httpx.TimeoutException:
            return True
        except httpx.HTTPError:
            return False
        return False

    def healthy(self, stage: Stage) -> bool:
        return self.worker in stage.fleet.serving()

    def restore(self, stage: Stage) -> None:
        stage.topology.workers[self.worker].thaw()


class Overload(Incident):
    name, alert = "overload", "ApiHighLatencyP99"
    summary = (
        "12 completions at a time for 2 replicas serving 3 each, inference taking 0.4 s: requests queue in HAProxy"
    )
    # A replica serves this many requests at once (HAProxy's maxconn, as a pod's concurrency).
    per_replica, concurrency, inference_seconds = 3, 12, 0.4
    slow_p99, fast_p99 = 0.7, 0.6

    def inject(self, stage: Stage) -> None:
        from ops.chaos.fault_proxy import Fault

        stage.fleet.set_maxconn(self.per_replica)
        stage.topology.links.set("upstream", Fault("latency", self.inference_seconds))
        stage.stream("burst", stage.topology.lb_url, {"complete": 1}, self.concurrency)

    def _p99(self, outcomes: list[Any]) -> float | None:
        from ops.chaos.traffic import percentile

        return percentile([o.seconds for o in outcomes], 0.99) if len(outcomes) >= MIN_REQUESTS else None

    def firing(self, stage: Stage) -> bool:
        p99 = self._p99(stage.recent("burst"))
        return p99 is not None and p99 > self.slow_p99

    def healthy(self, stage: Stage) -> bool:
        recent = stage.recent("burst", started=True)
        p99 = self._p99(recent)
        return p99 is not None and p99 <= self.fast_p99 and all(o.ok for o in recent)

    def restore(self, stage: Stage) -> None:
        stage.stop_streams()
        stage.topology.links.heal("upstream")
        stage.fleet.scale_in()
        stage.fleet.set_maxconn(0)


class BadRelease(Incident):
    name, alert, expected = "bad-release", "ApiHighErrorRate", APPROVED
    summary = "a release with a stale upstream token goes live: ready, but every completion it serves fails"
    release = "release-2"

    def inject(self, stage: Stage) -> None:
        from ops.chaos.processes import _write_secrets

        stage.stream("probe", stage.topology.lb_url, {"complete": 1, "models": 1}, 2)
        current = {path.name: path.read_text().strip() for path in (stage.topology.folder / "secrets").iterdir()}
        stale = _write_secrets(stage.folder / self.release, {**current, "APP_UPSTREAM_TOKEN": secrets.token_urlsafe()})
        stage.fleet.deploy(self.release, stale)

    def firing(self, stage: Stage) -> bool:
        return stage.failing("probe")

    def healthy(self, stage: Stage) -> bool:
        return stage.clean("probe")

    def restore(self, stage: Stage) -> None:
        stage.stop_streams()
        stage.fleet.withdraw_release()


class RegionFailure(Incident):
    name, alert, expected = "region-failure", "ApiAvailabilityBudgetBurnFast1h", APPROVED
    summary = "region eu resets every request yet passes the edge's TCP checks: half the edge's traffic fails"

    def labels(self) -> dict[str, str]:
        return {**super().labels(), "stack": "prod-eu"}

    def inject(self, stage: Stage) -> None:
        from ops.chaos.fault_proxy import Fault
        from ops.heal.stand_ins import REGION_LINK

        stage.stream("edge", stage.regions.url, {"models": 1}, 2)
        stage.regions.links.set(REGION_LINK, Fault("reset"))

    def firing(self, stage: Stage) -> bool:
        return stage.failing("edge")

    def healthy(self, stage: Stage) -> bool:
        return stage.clean("edge")

    def restore(self, stage: Stage) -> None:
        from ops.heal.stand_ins import FAILING_REGION, REGION_LINK

        stage.stop_streams()
        stage.regions.links.heal(REGION_LINK)
        stage.regions.edge.runtime(f"enable server edge/{FAILING_REGION}")


class DependencyOutage(Incident):
    name, alert, expected = "dependency-outage", "ApiDependencyDown", ESCALATED
    summary = "Redis is killed: no runbook action of the receiver brings a dependency back"

    def labels(self) -> dict[str, str]:
        return {**super().labels(), "dependency": "redis"}

    def inject(self, stage: Stage) -> None:
        stage.topology.redis.kill()

    def _answers(self, stage: Stage) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", stage.topology.ports["redis"]), PROBE_TIMEOUT_SECONDS) as redis:
                redis.settimeout(PROBE_TIMEOUT_SECONDS)
                redis.sendall(b"PING\r\n")
                return redis.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def firing(self, stage: Stage) -> bool:
        return not self._answers(stage)

    def healthy(self, stage: Stage) -> bool:
        from ops.chaos.activities import _metric

        if not self._answers(stage):
            return False
        run = types.SimpleNamespace(topology=stage.topology)  # all _metric reads of a chaos run
        return all(_metric(run, worker, "rate_limiter_fallback") == 0 for worker in stage.fleet.serving())

    def restore(self, stage: Stage) -> None:
        if not stage.topology.redis.running:
            stage.topology.redis.start()


INCIDENTS = {
    incident.name: incident for incident in (CrashLoop, Hung, Overload, BadRelease, RegionFailure, DependencyOutage)
}


# Running one.


@dataclass
class Result:
    name: str
    alert: str
    expected: str
    outcome: str = UNRESOLVED
    detected_seconds: float | None = None
    seconds: float | None = None  # injection to the success criterion holding
    actions: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "alert": self.alert,
            "outcome": self.outcome,
            "expected": self.expected,
            "detectedSeconds": self.detected_seconds,
            "seconds": self.seconds,
            "actions": self.actions,
        }


def notification(labels: dict[str, str], status: str, starts_at: str, ends_at: str) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) for one alert."""
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    alert = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"remediation drill: {labels['alertname']}"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://127.0.0.1/remediation-drill",
        "fingerprint": fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "ops-heal",
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://127.0.0.1/remediation-drill",
        "alerts": [alert],
    }


ZERO_TIME = "0001-01-01T00:00:00Z"


def play(incident: Incident, stage: Stage) -> Result:
    result = Result(incident.name, incident.alert, incident.expected)
    labels = incident.labels()
    injected = time.monotonic()
    stage.healer.record(f"drill/{incident.name}", "injecting", summary=incident.summary)
    incident.inject(stage)
    try:
        wait_until(lambda: incident.firing(stage), DETECT_SECONDS, f"{incident.alert} firing", POLL_SECONDS)
    except WaitTimedOut:
        result.outcome = UNDETECTED
        return result
    result.detected_seconds = round(time.monotonic() - injected, 2)
    starts_at = stage.clock.rfc3339()
    firing = notification(labels, "firing", starts_at, ZERO_TIME)
    fingerprint = firing["alerts"][0]["fingerprint"]
    answer = stage.post("/v1/alerts", stage.webhook_token, firing)
    if answer.status_code != 202:
        raise OpsError(f"the receiver refused the {incident.alert} alert: {answer.status_code} {answer.text[:200]}")
    result.outcome, healthy_at = _watch(incident, stage, fingerprint, result)
    if healthy_at is not None:
        result.seconds = round(healthy_at - injected, 2)
    if result.outcome == ESCALATED:  # the on-call mends it
        incident.restore(stage)
        with contextlib.suppress(WaitTimedOut):
            wait_until(lambda: incident.healthy(stage), SETTLE_SECONDS, "mended", POLL_SECONDS)
    resolved = notification(labels, "resolved", starts_at, stage.clock.rfc3339())
    stage.post("/v1/alerts", stage.webhook_token, resolved)
    return result


def _watch(incident: Incident, stage: Stage, fingerprint: str, result: Result) -> tuple[str, float | None]:
    """Until the criterion holds, the receiver escalates or gives up, or the bound: the
    outcome, and when the criterion held."""
    deadline, approved = time.monotonic() + RESOLVE_SECONDS, False
    while time.monotonic() < deadline:
        decisions = stage.decisions(fingerprint)
        executed = [line["detail"]["action"]["kind"] for line in decisions if _is(line, "executed", "succeeded")]
        result.actions = executed
        if incident.healthy(stage):
            acted = [kind for kind in executed if kind != "open_incident"]
            return (APPROVED if approved else AUTO if acted else BY_ITSELF), time.monotonic()
        if "open_incident" in executed:
            return ESCALATED, None
        if any(_is(line, "decided", "nothing-done") or _is(line, "matched", "no-action") for line in decisions):
            return UNRESOLVED, None
        held = [line for line in decisions if _is(line, "decided", "pending-approval")]
        if held and not approved and time.time() - _seconds(held[0]) >= APPROVE_AFTER_SECONDS:
            identifier = held[0]["detail"]["id"]
            answer = stage.post(f"/v1/approvals/{identifier}", stage.approval_token)
            stage.healer.record(f"drill/{incident.name}", "approved", id=identifier, status=answer.status_code)
            approved = True
        time.sleep(POLL_SECONDS)
    return UNRESOLVED, None


def _is(line: dict[str, Any], step: str, outcome: str) -> bool:
    return line.get("step") == step and line.get("outcome") == outcome


def _seconds(line: dict[str, Any]) -> float:
    return datetime.datetime.fromisoformat(line["time"]).timestamp()


def settle(stage: Stage) -> None:
    """Every process as the drill started it: both workers serving, no other replica or
    release, both regions up, Redis answering."""
    from ops.chaos.processes import WORKERS
    from ops.heal.stand_ins import REGIONS

    stage.topology.wait_for_lb(set(WORKERS), SETTLE_SECONDS)

    def regions_up() -> bool:
        states = stage.regions.edge.stat("edge")
        return all(states[name]["status"] == "UP" for name in REGIONS)

    wait_until(regions_up, SETTLE_SECONDS, "both regions up on the edge", POLL_SECONDS)
    wait_until(lambda: DependencyOutage().healthy(stage), SETTLE_SECONDS, "Redis in use again", POLL_SECONDS)


# The command.


def register(commands: Any) -> None:
    summary = "inject incidents on local processes and let the receiver resolve them; prints one JSON line"
    command = commands.add_parser("drill", help=summary, description=summary)
    command.add_argument(
        "--only", action="append", type=_incident_name, metavar="NAME", help="play only this incident (repeatable)"
    )
    command.add_argument("--apply", action="store_true", help="run the drill; without it, only print the plan")
    command.set_defaults(run=run)


def _incident_name(value: str) -> str:
    if value not in INCIDENTS:
        raise argparse.ArgumentTypeError(f"unknown incident {value!r}; expected one of: {', '.join(INCIDENTS)}")
    return value


def run(arguments: argparse.Namespace) -> int:
    names = [name for name in INCIDENTS if name in (arguments.only or INCIDENTS)]
    if not arguments.apply:
        for number, name in enumerate(names, 1):
            incident = INCIDENTS[name]
            print(f"{number}. {name} ({incident.alert}, expected {incident.expected}): {incident.summary}")
        print("dry run: nothing was started; add --apply to run the drill")
        print(json.dumps({"dry_run": True, "plan": names}))
        return 0
    from ops.chaos.processes import missing_tools

    missing = missing_tools()
    if missing:
        raise PreconditionFailed(f"the remediation drill needs {', '.join(missing)}; .ci/run installs them")
    with _interruptible():
        results = _apply(names, arguments.audit_log)
    for result in results:
        took = "-" if result.seconds is None else f"{result.seconds:.1f} s"
        print(f"{result.name:20} {result.outcome:24} {took:>8}  actions: {', '.join(result.actions) or '-'}")
    auto = [result for result in results if result.outcome == AUTO]
    mttr = round(statistics.mean(result.seconds for result in auto), 2) if auto else None  # type: ignore[misc]
    print(json.dumps({"incidents": len(results), "auto_resolved": len(auto), "mttr_seconds": mttr}))
    return 0 if all(result.outcome == result.expected for result in results) else 1


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM as Ctrl-C: the processes are stopped on the way out either way."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()  # only it may set a handler
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _apply(names: list[str], audit_path: Path | None) -> list[Result]:
    results: list[Result] = []
    with _stage(audit_path) as stage:
        jump = 2 * stage.healer.catalog.rails.window_seconds
        for name in names:
            incident = INCIDENTS[name]()
            try:
                results.append(play(incident, stage))
            finally:
                incident.restore(stage)
                stage.stop_streams()
            outcome = results[-1].as_json()
            stage.healer.record(f"drill/{name}", outcome.pop("outcome"), **outcome)
            settle(stage)
            stage.clock.offset += jump
    return results


@contextlib.contextmanager
def _stage(audit_path: Path | None) -> Iterator[Stage]:
    from ops.audit import AuditLog
    from ops.chaos import processes
    from ops.heal import catalog
    from ops.heal.credentials import BearerToken
    from ops.heal.executors import by_kind
    from ops.heal.fleet import Fleet
    from ops.heal.healer import Healer
    from ops.heal.local import LocalEdge, LocalWorkload
    from ops.heal.pagerduty import PagerDuty
    from ops.heal.server import HealServer
    from ops.heal.stand_ins import EventsApi, Regions
    from ops.heal.store import Store

    runbooks = catalog.Catalog(rails=catalog.load().rails, runbooks=catalog.load(DRILL_CATALOG).runbooks)
    with contextlib.ExitStack() as cleanup:
        topology = cleanup.enter_context(processes.running())
        folder = topology.folder / "remediation"
        folder.mkdir()
        regions = Regions(folder, topology.ports["lb"])
        cleanup.callback(regions.close)
        regions.start()
        fleet = Fleet(topology)
        cleanup.callback(fleet.close)
        fleet.start()
        events = EventsApi()
        cleanup.enter_context(_serving(events))
        pagerduty = PagerDuty(secrets.token_urlsafe(), url=events.url, timeout_seconds=5.0)
        cleanup.callback(pagerduty.close)
        tokens = {name: secrets.token_urlsafe(32) for name in ("webhook", "approval")}
        for name, token in tokens.items():
            (folder / name).write_text(token + "\n", encoding="utf-8")
        clock = DrillClock()
        audit = AuditLog("heal", dry_run=False, path=audit_path)
        executors = by_kind([LocalWorkload(fleet), LocalEdge(regions.edge), pagerduty])
        healer = Healer(runbooks, executors, Store(folder / "state"), audit, now=clock.now)
        cleanup.callback(healer.store.close)
        heal = HealServer(
            ("127.0.0.1", 0),
            healer,
            BearerToken(folder / "webhook", "webhook token"),
            BearerToken(folder / "approval", "approval token"),
        )
        healer.start()
        cleanup.callback(healer.stop)
        cleanup.enter_context(_serving(heal))
        stage = Stage(
            topology,
            fleet,
            regions,
            events,
            healer,
            f"http://127.0.0.1:{heal.server_address[1]}",
            tokens["webhook"],
            tokens["approval"],
            clock,
            folder,
        )
        cleanup.callback(stage.stop_streams)
        settle(stage)
        yield stage


@contextlib.contextmanager
def _serving(server: Any) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
