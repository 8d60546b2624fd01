"""The remediation drill's workload: the chaos topology's API workers (ops/chaos/processes.py)
as a Deployment's pods are, behind HAProxy as behind a Service.

A supervisor thread stands in for the kubelet: a worker whose process exits is started
again after a back-off that doubles with each crash in a row (CrashLoopBackOff, scaled
down), so a worker that keeps crashing spends longer and longer down. What the receiver's
local executors (ops/heal/local.py) do is what the cluster's API does: restart a worker at
once with its back-off cleared (a pod deleted and replaced), add replicas (HAProxy's
runtime API adds them as servers, health-checked like the others), withdraw a release.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ops.chaos.processes import WORKERS, Service, Topology
from ops.steps import OpsError, wait_until

POLL_SECONDS = 0.05
BACKOFF_SECONDS = 2.0  # after the first crash; doubled after each next one (the kubelet's: 10 s)
BACKOFF_CAP_SECONDS = 60.0
# A worker that ran this long without crashing is not crash-looping any more.
STEADY_SECONDS = 10.0
START_SECONDS = 30.0


class FleetError(OpsError):
    """A worker could not be started, added or removed."""


@dataclass
class _Replica:
    service: Service
    crashes: list[float] = field(default_factory=list)  # when its process was found exited
    next_start: float = 0.0
    started: float = 0.0


class Fleet:
    def __init__(self, topology: Topology, name: str = "project-ai-api") -> None:
        assert topology.lb is not None
        self.topology, self.name, self.lb = topology, name, topology.lb
        self.replicas = {worker: _Replica(topology.workers[worker], started=time.monotonic()) for worker in WORKERS}
        self.release: str | None = None
        self.maxconn = 0
        self._added = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="drill-kubelet", daemon=True)

    # The kubelet.

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _supervise(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                for replica in list(self.replicas.values()):
                    _tend(replica, time.monotonic())

    def crashes(self, worker: str, within_seconds: float) -> int:
        with self._lock:
            replica = self.replicas.get(worker)
            since = time.monotonic() - within_seconds
            return 0 if replica is None else sum(1 for moment in replica.crashes if moment >= since)

    def process_started(self, worker: str) -> float:
        with self._lock:
            return self.replicas[worker].started

    def crash(self, worker: str) -> None:
        """SIGKILL the worker's process, as a crash (the supervisor sees it exit)."""
        with self._lock:
            self.replicas[worker].service.kill(10)

    # What the executors do.

    def restart(self, worker: str) -> int:
        """Replace the worker's process now, its back-off cleared; returns the new pid."""
        with self._lock:
            replica = self.replicas.get(worker)
            if replica is None:
                raise FleetError(f"no worker {worker!r}; the workload has {', '.join(sorted(self.replicas))}")
            replica.service.kill(10)  # thaws a frozen one first
            replica.crashes.clear()
            replica.service.launch()
            replica.started = replica.next_start = time.monotonic()
        self._listening(replica.service)
        assert replica.service.process is not None
        return replica.service.process.pid

    def serving(self) -> list[str]:
        """The workload's replicas HAProxy has in rotation (a release's aside)."""
        states = self.lb.stat()
        return sorted(name for name in self.replicas if name != self.release and _up(states.get(name)))

    def scale_out(self, count: int) -> list[str]:
        """`count` new replicas, started and added to HAProxy (health-checked before any
        request reaches them)."""
        names = []
        for _ in range(count):
            self._added += 1
            names.append(self._add(f"replica-{self._added}"))
        return names

    def scale_in(self) -> list[str]:
        """The drill's reset: back to the workers it started with."""
        removed = [name for name in self.replicas if name not in WORKERS and name != self.release]
        for name in removed:
            self._remove(name)
        return removed

    def deploy(self, name: str, secrets_dir: Path) -> None:
        """A new release's first replica, in rotation once its health checks pass."""
        self.release = self._add(name, secrets_dir)

    def withdraw_release(self) -> str | None:
        """Out of rotation, then stopped: what aborting a rollout does to its new pods."""
        name, self.release = self.release, None
        if name is not None:
            self._remove(name)
        return name

    def set_maxconn(self, requests: int) -> None:
        """How many requests each replica serves at once (0: no limit), as a pod's
        concurrency; queued in HAProxy beyond it."""
        for name in self.replicas:
            self._runtime(f"set maxconn server workers/{name} {requests}")
        self.maxconn = requests

    def queued(self) -> int:
        return int(self.lb.stat()["BACKEND"].get("qcur") or 0)

    def _add(self, name: str, secrets_dir: Path | None = None) -> str:
        service = self.topology.add_worker(name, secrets_dir)
        service.launch()
        self._listening(service)
        server = f"workers/{name}"
        limit = f" maxconn {self.maxconn}" if self.maxconn else ""
        self._runtime(f"add server {server} 127.0.0.1:{self.topology.ports[name]} check{limit}")
        self._runtime(f"enable health {server}")
        self._runtime(f"enable server {server}")
        with self._lock:
            self.replicas[name] = _Replica(service, started=time.monotonic())
        return name

    def _remove(self, name: str) -> None:
        with self._lock:
            replica = self.replicas.pop(name)
        server = f"workers/{name}"
        self._runtime(f"disable server {server}")
        self._runtime(f"shutdown sessions server {server}")
        replica.service.kill(10)
        self.topology.workers.pop(name, None)
        # HAProxy deletes a server only once nothing uses it: its last connections closing.
        wait_until(lambda: self._deleted(server), 10.0, f"HAProxy deleting {server}", POLL_SECONDS)

    def _deleted(self, server: str) -> bool:
        answer = self.lb.runtime(f"del server {server}")
        return "Server deleted" in answer or "No such server" in answer

    def _runtime(self, command: str) -> str:
        answer = self.lb.runtime(command).strip()
        if answer and not answer.startswith("New server registered"):
            raise FleetError(f"HAProxy refused `{command}`: {answer[:200]}")
        return answer

    def _listening(self, service: Service) -> None:
        try:
            service.wait_listening(START_SECONDS)
        except OpsError as error:
            raise FleetError(str(error)) from None

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OpsError, OSError):
            self.withdraw_release()


def _tend(replica: _Replica, now: float) -> None:
    """The kubelet's pass over one replica: a crash seen, a back-off, a start."""
    if replica.service.running:
        if replica.crashes and now - replica.started > STEADY_SECONDS:
            replica.crashes.clear()
        return
    if replica.next_start <= replica.started:  # its exit not seen yet: a crash
        replica.crashes.append(now)
        backoff = BACKOFF_SECONDS * 2 ** (len(replica.crashes) - 1)
        replica.next_start = now + min(backoff, BACKOFF_CAP_SECONDS)
    if now >= replica.next_start:
        replica.service.launch()
        replica.started = now


def _up(row: dict[str, str] | None) -> bool:
    status = (row or {}).get("status", "")
    return status == "UP" or status.startswith("UP ")
