"""The providers of the drill's experiments (ops/chaos/experiments/*.json): Chaos Toolkit
calls these functions by name, with the arguments an experiment gives, as its actions,
probes and tolerances.

They act on the topology the drill started (ops/chaos/processes.py) and share one
experiment's state, its `Run`: its key and writes, its traffic, when its fault began and
when it was repaired. The drill attaches a run before Chaos Toolkit plays an experiment
and detaches it after. A probe whose condition does not hold raises, saying what it
found: Chaos Toolkit records the activity as failed, and the drill fails the experiment.

Faults (kill, freeze, fail_link, upstream_answers, apply_pressure, deploy_release) mark
when the fault began; repairs (restart, thaw, heal_link, fail_over_database, ...) when
it was repaired. `recovered` measures from one or the other.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ops.chaos import traffic as load
from ops.chaos.processes import NEW_RELEASE, WORKERS, Pressure, ServerState, Topology
from ops.steps import OpsError, wait_until

POLL_SECONDS = 0.05
# Faults begun within this of the first are one fault, applied together (Chaos Toolkit
# starts background activities a few milliseconds apart).
TOGETHER_SECONDS = 0.25
# A direct call made by a probe; the app bounds everything it does well below this.
PROBE_TIMEOUT_SECONDS = 5.0


class ProbeFailed(AssertionError):
    """A probe's condition did not hold (Chaos Toolkit records the activity as failed)."""


@dataclass
class Run:
    topology: Topology
    name: str
    ledger: load.Ledger
    traffic: dict[str, load.Traffic] = field(default_factory=dict)
    fault_at: float | None = None
    # When the fault was fully applied (a killed process reaped; for faults applied
    # together, the last of them): a request sent before then was in flight at the fault.
    applied_at: float | None = None
    repair_at: float | None = None
    pids: dict[str, int] = field(default_factory=dict)
    release_selected: int = 0  # how often HAProxy had chosen the new release's slot before it was deployed
    # What tolerances found, for the drill's report; and each stopped stream's figures,
    # kept here too because a probe that raises leaves no output in the journal.
    problems: list[str] = field(default_factory=list)
    during: dict[str, dict] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self) -> float:
        """At the start of a fault action: the fault began (if none had); returns now."""
        with self._lock:
            now = time.monotonic()
            if self.fault_at is None:
                self.fault_at = now
            return now

    def applied(self, began: float) -> None:
        """At the end of a fault action begun at `began`. Faults begun together with the
        first (in parallel) extend the window until the last is applied; a later one,
        a change of fault, does not."""
        with self._lock:
            assert self.fault_at is not None
            if began - self.fault_at <= TOGETHER_SECONDS:
                self.applied_at = max(self.applied_at or 0.0, time.monotonic())

    def repaired(self) -> None:
        with self._lock:
            self.repair_at = time.monotonic()

    def since_fault(self) -> float:
        return round(time.monotonic() - (self.fault_at or time.monotonic()), 3)


_current: Run | None = None


def attach(run: Run) -> None:
    global _current
    run.pids = {name: worker.process.pid for name, worker in run.topology.workers.items() if worker.process}
    _current = run


def detach() -> Run | None:
    global _current
    run, _current = _current, None
    if run is not None:
        for stream in run.traffic.values():
            stream.stop()
    return run


def _run() -> Run:
    if _current is None:
        raise RuntimeError("no experiment is attached: these activities run under `python -m ops chaos drill`")
    return _current


def _base_url(via: str) -> str:
    topology = _run().topology
    return topology.lb_url if via == "lb" else topology.worker_url(via)


# Steady state.


def burst(requests: int = 60, concurrency: int = 6, mix: dict[str, int] | None = None, via: str = "lb") -> dict:
    """`requests` requests through the load balancer (or straight to a worker); their figures."""
    run = _run()
    return load.figures(load.burst(_base_url(via), run.ledger, requests, concurrency, mix))


def meets(expect: dict[str, dict[str, Any]], value: dict | None = None) -> bool:
    """A tolerance: whether a probe's figures (`value`) meet `expect`."""
    missed = load.problems(value or {"requests": 0, "byKind": {}}, expect)
    _run().problems.extend(missed)
    return not missed


def writes_kept(rpo_goal_seconds: float = 0.0) -> dict:
    """Every write acknowledged in this experiment has its row on the primary. A failover
    may lose what the standby had not received: with `rpo_goal_seconds`, a loss spanning
    at most that long is measured (`lost`, `rpoSeconds`) and not counted against it."""
    from ops.dr.write_load import Ack, rpo_seconds

    run = _run()
    assert run.topology.pair is not None
    rows = run.topology.pair.primary.query(
        "SELECT completion_tokens FROM usage_records WHERE key_id = %s", (run.ledger.key_id,)
    )
    present = {row[0] for row in rows}
    acks = dict(run.ledger.acks)
    lost = {seq: at for seq, at in acks.items() if seq not in present}
    as_acks = [Ack(seq, at, 0, "") for seq, at in acks.items()]
    rpo = rpo_seconds(as_acks, [ack for ack in as_acks if ack.seq in lost])
    # With a goal, what was lost counts against it only if it spans more than the goal
    # (the DR drill's measure: from the newest write kept to the newest lost).
    beyond = len(lost) if not rpo_goal_seconds or rpo > rpo_goal_seconds else 0
    return {"acknowledged": len(acks), "lost": len(lost), "lostBeyondGoal": beyond, "rpoSeconds": round(rpo, 3)}


# Traffic during the method.


def start_traffic(
    name: str = "main",
    via: str = "lb",
    concurrency: int = 8,
    mix: dict[str, int] | None = None,
    max_requests: int = 6000,
    max_seconds: float = 45.0,
) -> dict:
    run = _run()
    if name in run.traffic:
        raise ProbeFailed(f"traffic {name!r} is already running")
    stream = load.Traffic(
        _base_url(via),
        run.ledger,
        mix=dict(mix or load.DEFAULT_MIX),
        concurrency=concurrency,
        max_requests=max_requests,
        max_seconds=max_seconds,
    )
    run.traffic[name] = stream.start()
    return {"traffic": name, "via": via, "concurrency": concurrency}


def wait_for_traffic(answered: int, within_seconds: float, name: str = "main", since: str = "fault") -> dict:
    """Until `answered` requests of the stream were answered since the fault began (before
    any fault: since the stream started), or with `since` "now", from this probe on."""
    run = _run()
    stream = run.traffic[name]
    started = time.monotonic()
    if since not in ("fault", "now"):
        raise ValueError(f"since is 'fault' or 'now', not {since!r}")
    mark = started if since == "now" else run.fault_at or 0.0

    def enough() -> int | None:
        if stream.finished:
            stream.wait()
            raise ProbeFailed(f"traffic {name!r} ended (its bound in requests or seconds) before {answered} answers")
        count = stream.answered_since(mark)
        return count if count >= answered else None

    count = wait_until(enough, within_seconds, f"{answered} requests answered", POLL_SECONDS)
    return {"answered": count, "seconds": _since(started)}


def stop_traffic(name: str = "main", expect: dict[str, dict[str, Any]] | None = None) -> dict:
    """Stop a stream; the figures of the requests sent once the fault was applied (all
    of them if there was none), which must meet `expect`. Requests in flight at the
    fault (sent before it was applied and answered after it began) may fail whatever
    the platform does: a killed worker's are lost with it, and so is one the balancer
    sends down a pooled connection to a worker dying at that moment. They are counted
    apart, as `inFlightAtFault` and how many of those failed."""
    run = _run()
    outcomes = run.traffic.pop(name).stop()
    fault_at, applied_at = run.fault_at, run.applied_at or run.fault_at
    after = [o for o in outcomes if applied_at is None or o.started >= applied_at]
    in_flight = [o for o in outcomes if applied_at is not None and o.started < applied_at and o.ended >= fault_at]
    found = load.figures(after)
    found["inFlightAtFault"] = len(in_flight)
    found["inFlightFailed"] = sum(1 for outcome in in_flight if not outcome.ok)
    if fault_at is not None:
        # RTO of writes: from the fault to the first write sent after it and acknowledged.
        writes = [o.ended for o in after if o.kind == "complete" and o.ok]
        found["writeRtoSeconds"] = round(min(writes) - fault_at, 3) if writes else None
    run.during[name] = found
    missed = load.problems(found, expect or {})
    if missed:
        raise ProbeFailed(f"traffic {name!r} sent during the fault: " + "; ".join(missed))
    return found


# Faults and repairs.


def kill(targets: list[str]) -> dict:
    """SIGKILL every process of each target, as a crash: nothing closes cleanly."""
    _fault_each(targets, lambda process: process.kill())
    return {"killed": targets}


def freeze(targets: list[str]) -> dict:
    """SIGSTOP: the process holds its connections, and the kernel still accepts new ones,
    but nothing answers, as with a hung host."""
    _fault_each(targets, lambda process: process.freeze())
    return {"frozen": targets}


def _fault_each(targets: list[str], fault: Callable[[Any], None]) -> None:
    """One fault on every target's process at once, timed as one fault."""
    run = _run()
    processes = [run.topology.process(target) for target in targets]
    began = run.fault()
    for process in processes:
        fault(process)
    run.applied(began)


def thaw(targets: list[str]) -> dict:
    run = _run()
    for target in targets:
        run.topology.process(target).thaw()
    run.repaired()
    return {"thawed": targets}


def restart(targets: list[str]) -> dict:
    """Start each target again where it is not running (as the kubelet restarts a
    container); returns once each listens."""
    run = _run()
    started = []
    for target in targets:
        process = run.topology.process(target)
        if not process.running:
            process.start()
            started.append(target)
    if started:
        run.repaired()
    return {"restarted": started}


def fail_link(links: list[str], fault: str, seconds: float = 0.0) -> dict:
    """Put a fault on links of the fault proxy (ops/chaos/fault_proxy.py)."""
    from ops.chaos.fault_proxy import Fault

    run = _run()
    chosen = Fault(fault, seconds)
    began = run.fault()
    assert run.topology.links is not None
    for link in links:
        run.topology.links.set(link, chosen)
    run.applied(began)
    return {"links": links, "fault": fault, "seconds": seconds}


def heal_link(links: list[str]) -> dict:
    run = _run()
    assert run.topology.links is not None
    for link in links:
        run.topology.links.heal(link)
    run.repaired()
    return {"healed": links}


def upstream_answers(status: int) -> dict:
    """Make the upstream stub answer every completion with `status` (200 mends it)."""
    import httpx

    run = _run()
    began = run.fault() if status != 200 else 0.0
    response = httpx.put(
        f"http://127.0.0.1:{run.topology.ports['upstream']}/stub/status",
        json={"status": status},
        timeout=PROBE_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    if status == 200:
        run.repaired()
    else:
        run.applied(began)
    return {"upstreamStatus": status}


def fail_over_database(confirm_seconds: float = 0.5, within_seconds: float = 15.0) -> dict:
    """Once the primary has failed every check for `confirm_seconds`, promote the
    standby (ops/dr/local_postgres.py). The workers' URL names both servers, so they
    follow by themselves."""
    run = _run()
    pair = run.topology.pair
    assert pair is not None
    down_for = pair.confirm_primary_down(confirm_seconds, within_seconds)
    pair.promote_standby(within_seconds)
    run.repaired()
    return {"confirmedDownSeconds": round(down_for, 3), "promotedAfterSeconds": run.since_fault()}


def rejoin_database(within_seconds: float = 60.0) -> dict:
    """The failed primary comes back as the new primary's standby, so the next experiment
    has a pair again: rebuilt from a fresh base backup of the new primary, as an operator
    replaces a failed node. Nothing to do if the standby runs.

    (Not pg_rewind: after a SIGKILL, pg_rewind first recovers the target in single-user
    mode, without the pair's settings, and that recovery may remove the WAL segment
    holding the last checkpoint both servers share, which pg_rewind then needs.)"""
    pair = _run().topology.pair
    assert pair is not None
    standby = pair.standby
    if standby.running:
        return {"rejoined": False}
    started = time.monotonic()
    shutil.rmtree(standby.data)
    standby.base_backup(pair.primary)
    standby.follow(pair.primary)
    standby.start(within_seconds)
    pair.wait_for_replication(within_seconds)
    return {"rejoined": True, "primary": pair.primary.name, "standby": standby.name, "seconds": _since(started)}


def apply_pressure(kind: str, seconds: float, workers: int = 2, megabytes: int = 256) -> dict:
    """stress-ng on this machine's cores (`cpu`: `workers` stressors, 0 for one per core)
    or memory (`memory`: `workers` stressors holding `megabytes` between them, and
    writing it over and over), bounded by its own timeout."""
    if kind not in ("cpu", "memory"):
        raise ValueError(f"pressure is cpu or memory, not {kind!r}")
    run = _run()
    began = run.fault()
    run.topology.pressure.append(Pressure.start(kind, seconds, workers, megabytes))
    run.applied(began)
    return {"pressure": kind, "workers": workers, "megabytes": megabytes if kind == "memory" else None}


def pressure_applied(min_megabytes: float = 0.0, min_cpu_seconds: float = 0.0, within_seconds: float = 10.0) -> dict:
    """Until the stressors really hold what they were asked to: `min_megabytes` resident,
    `min_cpu_seconds` of CPU used."""
    pressure = _run().topology.pressure
    if not pressure:
        raise ProbeFailed("no pressure is applied")
    last: dict[str, Any] = {}

    def holding() -> dict[str, Any] | None:
        usage = pressure[-1].usage()
        last.update(processes=usage["processes"], megabytes=round(usage["rssBytes"] / 2**20))
        last["cpuSeconds"] = usage["cpuSeconds"]
        return dict(last) if last["megabytes"] >= min_megabytes and last["cpuSeconds"] >= min_cpu_seconds else None

    try:
        return wait_until(holding, within_seconds, "the pressure applied", POLL_SECONDS)
    except OpsError:
        raise ProbeFailed(
            f"stress-ng holds {last.get('megabytes')} MiB and used {last.get('cpuSeconds')} CPU s; expected at "
            f"least {min_megabytes:g} MiB and {min_cpu_seconds:g} s within {within_seconds:g} s"
        ) from None


def release_pressure() -> dict:
    run = _run()
    while run.topology.pressure:
        run.topology.pressure.pop().stop()
    run.repaired()
    return {"released": True}


def deploy_release() -> dict:
    """Start the new release in its slot (worker-3): a broken one, whose database
    credentials are stale, so its readiness fails."""
    run = _run()
    run.release_selected = run.topology.lb_servers()[NEW_RELEASE].selected
    release = run.topology.workers[NEW_RELEASE]
    began = run.fault()
    release.launch()  # it exists from now on: whatever it answers counts
    run.applied(began)
    release.wait_listening()
    return {"deployed": NEW_RELEASE}


def release_kept_out() -> dict:
    """The new release was never chosen by the balancer and is not in rotation."""
    run = _run()
    state = run.topology.lb_servers()[NEW_RELEASE]
    chosen = state.selected - run.release_selected
    if chosen or state.up:
        raise ProbeFailed(f"HAProxy sent the broken release {chosen} requests (it is {state.status})")
    readiness = _get(run.topology.worker_url(NEW_RELEASE) + "/readyz")
    return {"selected": chosen, "status": state.status, "readiness": readiness.status_code}


def withdraw_release() -> dict:
    run = _run()
    release = run.topology.workers[NEW_RELEASE]
    if release.running:
        release.kill()
    run.repaired()
    return {"withdrawn": NEW_RELEASE}


# What the platform says.


def lb_marks(servers: list[str], state: str, within_seconds: float) -> dict:
    """Until HAProxy reports each server `state` (UP or DOWN); seconds since the fault."""
    run = _run()
    wanted = state.upper()
    unknown = sorted(set(servers) - set(run.topology.lb_servers()))
    if unknown or wanted not in ("UP", "DOWN"):
        raise ValueError(
            f"HAProxy has no server {', '.join(unknown)}" if unknown else f"state is UP or DOWN, not {state!r}"
        )

    def marked() -> dict[str, ServerState] | None:
        found = run.topology.lb_servers()
        return found if all(found[name].up == (wanted == "UP") for name in servers) else None

    wait_until(marked, within_seconds, f"HAProxy marking {', '.join(servers)} {wanted}", POLL_SECONDS)
    return {"servers": servers, "state": wanted, "secondsSinceFault": run.since_fault()}


def readiness_reports(workers: list[str], within_seconds: float) -> dict:
    """Until each worker's /readyz answers 503 naming the database."""
    run = _run()

    def reporting() -> dict[str, str] | None:
        import httpx

        found = {}
        for worker in workers:
            try:
                response = _get(run.topology.worker_url(worker) + "/readyz")
                check = response.json().get("checks", {}).get("database", "") if response.status_code == 503 else ""
            except (httpx.HTTPError, ValueError):  # not answering yet: not reporting yet
                return None
            if not check.startswith("failed"):
                return None
            found[worker] = check
        return found

    found = wait_until(reporting, within_seconds, "readiness reporting the database", POLL_SECONDS)
    return {"readiness": found, "secondsSinceFault": run.since_fault()}


BREAKER = {"closed": 0, "half-open": 1, "open": 2}


def breaker_is(state: str, within_seconds: float) -> dict:
    """Until the upstream's circuit breaker is `state` on every worker (the traffic of
    the experiment drives it)."""
    run = _run()
    wanted = BREAKER[state]

    def reached() -> bool:
        return all(_metric(run, worker, "circuit_breaker_state", upstream="inference") == wanted for worker in WORKERS)

    wait_until(reached, within_seconds, f"the upstream's breaker {state} on every worker", POLL_SECONDS)
    return {"breaker": state, "secondsSinceFault": run.since_fault()}


def workers_survived() -> dict:
    """Every worker is the process it was when the experiment began (none was killed)."""
    run = _run()
    now = {name: worker.process.pid for name, worker in run.topology.workers.items() if worker.running}
    lost = [name for name in WORKERS if now.get(name) != run.pids.get(name)]
    if lost:
        raise ProbeFailed(f"{', '.join(lost)} did not survive (pids {run.pids} then {now})")
    return {"survived": list(WORKERS)}


def recovered(since: str = "repair", within_seconds: float = 20.0) -> dict:
    """Until the steady state is back: every worker in rotation, each answering a read
    and a write itself, using Redis again (not its per-process fallback) with its
    upstream breaker closed, and the public health check through the balancer. Seconds
    since the repair (or the fault) began."""
    import httpx

    run = _run()
    if since not in ("repair", "fault"):
        raise ValueError(f"since is 'repair' or 'fault', not {since!r}")
    mark = (run.repair_at if since == "repair" else run.fault_at) or time.monotonic()
    topology = run.topology
    client = httpx.Client(headers={"Authorization": f"Bearer {run.ledger.key}"}, timeout=PROBE_TIMEOUT_SECONDS)

    def back() -> bool:
        servers = topology.lb_servers()
        if not all(servers[name].up for name in WORKERS):
            return False
        for worker in WORKERS:
            base = topology.worker_url(worker)
            try:
                if client.get(base + "/v1/models").status_code != 200 or not _write(client, base, run.ledger):
                    return False
            except httpx.HTTPError:
                return False
            if _metric(run, worker, "rate_limiter_fallback") != 0:
                return False
            if _metric(run, worker, "circuit_breaker_state", upstream="inference") != 0:
                return False
        try:
            return client.get(topology.lb_url + "/v1/health").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(back, within_seconds, "the steady state back", POLL_SECONDS)
    finally:
        client.close()
    return {"recoverySeconds": round(time.monotonic() - mark, 3), "since": since}


# Helpers.


def _since(moment: float) -> float:
    return round(time.monotonic() - moment, 3)


def _get(url: str) -> Any:
    import httpx

    return httpx.get(url, timeout=PROBE_TIMEOUT_SECONDS)


def _write(client: Any, base: str, ledger: load.Ledger) -> bool:
    seq = ledger.next_seq()
    response = client.post(
        base + "/v1/completions", json={"model": load.MODEL, "prompt": f"chaos drill write {seq}", "max_tokens": seq}
    )
    if response.status_code == 200:
        ledger.ack(seq, time.monotonic())
    return response.status_code == 200


def _metric(run: Run, worker: str, name: str, **labels: str) -> float | None:
    """One sample of a worker's /metrics (None if it does not answer or lacks it)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(run.topology.worker_url(worker) + "/metrics", timeout=PROBE_TIMEOUT_SECONDS).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None
