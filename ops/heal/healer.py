"""The decisions: for each alert firing, the runbook's candidate actions in the order
learning gives them, and the first that the rails allow is taken (or held for a human, or
only reported in a dry run). Every step is one audit line.

Alerts are received on the HTTP server's threads (checked, deduplicated, queued: the
webhook answers at once) and decided one at a time on one worker thread, so the rails
count every action before the next is weighed, and a dependency that hangs delays
decisions by its timeout, never the webhook.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ops.audit import AuditLog
from ops.heal import learning, rails
from ops.heal.catalog import Catalog
from ops.heal.executors import Action, CannotHelp, Executor
from ops.heal.payload import Alert, Notification
from ops.heal.store import APPROVED, EXECUTED, FAILED, Pending, Store, StoreError
from ops.steps import OpsError

QUEUE_SIZE = 100
TICK_SECONDS = 1.0


class Busy(OpsError):
    """The decision queue is full: Alertmanager should retry later (a 503)."""


@dataclass(frozen=True)
class Firing:
    """One firing of one alert, as decisions and audit lines name it."""

    alert: str
    fingerprint: str
    starts_at: str
    started: float

    @classmethod
    def of(cls, alert: Alert) -> Firing:
        return cls(alert.name, alert.fingerprint, alert.key[1], alert.starts_at.timestamp())

    @property
    def key(self) -> tuple[str, str]:
        return self.fingerprint, self.starts_at


@dataclass
class Healer:
    catalog: Catalog
    executors: Mapping[str, Executor]
    store: Store
    audit: AuditLog
    now: Callable[[], float] = time.time
    _queue: queue.Queue[list[Alert]] = field(default_factory=lambda: queue.Queue(QUEUE_SIZE))
    _audit_lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _worker: threading.Thread | None = None

    @property
    def apply(self) -> bool:
        return not self.audit.dry_run

    def record(self, step: str, outcome: str, firing: Firing | None = None, **detail: Any) -> None:
        if firing is not None:
            detail = {"alert": firing.alert, "fingerprint": firing.fingerprint, "starts_at": firing.starts_at, **detail}
        with self._audit_lock:
            self.audit.record(step, outcome, **detail)

    # Receiving (HTTP threads).

    def receive(self, notification: Notification) -> dict[str, int]:
        fresh, now = [], self.now()
        for alert in notification.alerts:
            if self.store.first_delivery(*alert.key, alert.status, now):
                fresh.append(alert)
            else:
                self.record("received", "duplicate", Firing.of(alert), status=alert.status)
        if fresh:
            try:
                self._queue.put_nowait(fresh)
            except queue.Full:
                for alert in fresh:  # not taken: Alertmanager's retry must not count as a duplicate
                    self.store.forget_delivery(*alert.key, alert.status)
                raise Busy(f"{QUEUE_SIZE} notifications wait for a decision; try again") from None
        return {"accepted": len(fresh), "duplicates": len(notification.alerts) - len(fresh)}

    def start(self) -> None:
        self._worker = threading.Thread(target=self._work, name="heal-decisions", daemon=True)
        self._worker.start()

    def stop(self, seconds: float = 15.0) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait([])  # wakes the worker now rather than at its next tick
        if self._worker is not None:
            self._worker.join(seconds)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                alerts = self._queue.get(timeout=TICK_SECONDS)
            except queue.Empty:
                alerts = []
            for alert in alerts:
                self.handle(alert)
            self.tick()

    # Deciding (the worker thread; tests call these directly).

    def handle(self, alert: Alert) -> None:
        firing = Firing.of(alert)
        self.record("received", alert.status, firing, labels=dict(alert.labels))
        if alert.status == "resolved":
            return self._resolved(alert, firing)
        candidates = self.catalog.candidates(alert.labels)
        actions = [candidate for candidate in candidates if isinstance(candidate, Action)]
        for reason in (candidate for candidate in candidates if not isinstance(candidate, Action)):
            self.record("matched", "not-applicable", firing, reason=str(reason))
        if not actions:
            return self.record("matched", "no-action", firing)
        table = learning.records(self.store.attempts(), self.catalog.rails.outcome_seconds, self.now())
        ordered = learning.order(firing.alert, actions, table)
        self.record("matched", "candidates", firing, order=[action.kind for action in ordered])
        if not any(self._attempt(firing, action) for action in ordered):
            self.record("decided", "nothing-done", firing, reason="every candidate was refused or failed")

    def _resolved(self, alert: Alert, firing: Firing) -> None:
        at = (alert.resolved_at.timestamp() if alert.resolved_at else None) or self.now()
        learned = self.store.resolved(firing.key, at)
        dropped = self.store.obsolete(firing.key, self.now())
        self.record("resolved", "recorded", firing, outcomes=learned, approvals_dropped=dropped)

    def _attempt(self, firing: Firing, action: Action, approved: str | None = None) -> bool:
        """True when the action settled the decision: done, held, reported or executed."""
        described = action.describe() | ({"approved": approved} if approved else {})
        executor = self.executors.get(action.kind)
        if executor is None:
            self.record("refused", "not-configured", firing, action=described, rail="executor")
            return False
        try:
            impact = executor.assess(action)
        except CannotHelp as reason:
            self.record("refused", "cannot-help", firing, action=described, reason=str(reason))
            return False
        except Exception as failed:  # noqa: BLE001 - an SDK's own error too: audited, the next candidate tried
            self.record("assessed", "failed", firing, action=described, reason=_reason(failed))
            return False
        if impact.done:
            self.record("decided", "already-done", firing, action=described)
            return True
        now = self.now()
        refusal = rails.refusal(
            self.catalog.rails, action, impact, self.store.touched(now - self.catalog.rails.window_seconds)
        )
        if refusal is not None:
            self.record("refused", "rail", firing, action=described, rail=refusal.split(":")[0], reason=refusal)
            return False
        if action.approval and approved is None:
            ttl = self.catalog.rails.approval_seconds
            identifier = self.store.hold(firing.alert, firing.key, firing.started, action, now, ttl)
            self.record("decided", "pending-approval", firing, action=described, id=identifier, expires_in=ttl)
            return True
        self.store.touch(action, impact.scope, impact.units, now)
        if not self.apply:
            self.record("decided", "dry-run", firing, action=described, impact=impact.facts, scope=impact.scope)
            return True
        self.record("decided", "executing", firing, action=described, scope=impact.scope)
        try:
            result = executor.execute(action)
        except Exception as failed:  # noqa: BLE001 - idem
            self.record("executed", "failed", firing, action=described, reason=_reason(failed))
            return False
        self.store.attempted(firing.alert, firing.key, action.kind, firing.started, self.now())
        self.record("executed", "succeeded", firing, action=described, result=dict(result))
        return True

    def tick(self) -> None:
        """Expires what waited too long; carries out what a human approved (the rails are
        weighed again: the world may have changed while the decision waited)."""
        now = self.now()
        for pending in self.store.expire(now):
            self.record("approval", "expired", _firing(pending), id=pending.id)
        for pending in self.store.in_state(APPROVED):
            done = self._attempt(_firing(pending), pending.action, approved=pending.id)
            self.store.settle(pending.id, EXECUTED if done else FAILED, self.now())

    def approve(self, identifier: str, by: str) -> Pending:
        try:
            pending = self.store.approve(identifier, self.now())
        except StoreError as refused:  # replayed, expired, unknown: said, and audited
            self.record("approval", "refused", id=identifier[:40], by=by, reason=str(refused))
            raise
        self.record("approval", "approved", _firing(pending), id=identifier, by=by)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait([])  # carried out at once, not at the next tick
        return pending


def _firing(pending: Pending) -> Firing:
    return Firing(pending.alert, pending.fingerprint, pending.starts_at, pending.started)


def _reason(failed: BaseException) -> str:
    return str(failed) if isinstance(failed, OpsError) else f"{type(failed).__name__}: {str(failed)[:200]}"
