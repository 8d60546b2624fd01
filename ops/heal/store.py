"""The healer's state, in one SQLite file in its state directory: which alert firings were
already handled (Alertmanager re-sends a group while it fires), what each action touched
(the rails count it), decisions waiting for a human, and each action's outcome (learning).

One connection, serialised by a lock, in WAL mode with a busy timeout: `ops heal approve`
writes to the same file from another process while the server runs.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.heal.executors import Action
from ops.steps import OpsError

FILE = "heal.sqlite3"
# An approval's states: waiting, released, then carried out (or not), or dropped.
PENDING, APPROVED, EXECUTED, FAILED = "pending", "approved", "executed", "failed"
EXPIRED, OBSOLETE = "expired", "obsolete"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    fingerprint TEXT, starts_at TEXT, status TEXT, received REAL, PRIMARY KEY (fingerprint, starts_at, status));
CREATE TABLE IF NOT EXISTS touches (time REAL, kind TEXT, target TEXT, scope TEXT, units INTEGER);
CREATE INDEX IF NOT EXISTS touches_time ON touches (time);
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, alert TEXT, fingerprint TEXT, starts_at TEXT, started REAL, action TEXT,
    state TEXT, created REAL, expires REAL, updated REAL);
CREATE TABLE IF NOT EXISTS attempts (
    alert TEXT, kind TEXT, fingerprint TEXT, starts_at TEXT, started REAL, acted REAL, resolved REAL);
"""


class StoreError(OpsError):
    """The state directory or its database cannot be used."""


class Unknown(StoreError):
    """No decision has that id."""


@dataclass(frozen=True)
class Pending:
    """A decision waiting for, or released by, a human."""

    id: str
    alert: str
    fingerprint: str
    starts_at: str
    started: float
    action: Action
    state: str
    expires: float


@dataclass(frozen=True)
class Attempt:
    alert: str
    kind: str
    started: float
    acted: float
    resolved: float | None


class Store:
    def __init__(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(folder / FILE, timeout=5.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot use the state directory {folder}: {error}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, *args: Any) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def first_delivery(self, fingerprint: str, starts_at: str, status: str, now: float) -> bool:
        """True once per (alert firing, status): later deliveries of it are duplicates."""
        return bool(
            self._write("INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?)", fingerprint, starts_at, status, now)
        )

    def forget_delivery(self, fingerprint: str, starts_at: str, status: str) -> None:
        forget = "DELETE FROM deliveries WHERE fingerprint = ? AND starts_at = ? AND status = ?"
        self._write(forget, fingerprint, starts_at, status)

    def touch(self, action: Action, scope: str, units: int, now: float) -> None:
        self._write("INSERT INTO touches VALUES (?, ?, ?, ?, ?)", now, action.kind, action.target, scope, units)

    def touched(self, since: float) -> list[tuple[str, str, str, int]]:
        """(kind, target, scope, units) of every action since `since`."""
        rows = self._rows("SELECT kind, target, scope, units FROM touches WHERE time > ?", since)
        return [(kind, target, scope, units) for kind, target, scope, units in rows]

    def hold(self, alert: str, key: tuple[str, str], started: float, action: Action, now: float, ttl: float) -> str:
        identifier = secrets.token_hex(6)
        self._write(
            "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            identifier,
            alert,
            *key,
            started,
            json.dumps({"kind": action.kind, "params": dict(action.params), "approval": action.approval}),
            PENDING,
            now,
            now + ttl,
            now,
        )
        return identifier

    def approve(self, identifier: str, now: float) -> Pending:
        """Releases a pending decision, once: an approval replayed, or given after its
        expiry or after the alert resolved, is refused."""
        if self._write(
            "UPDATE approvals SET state = ?, updated = ? WHERE id = ? AND state = ? AND expires > ?",
            APPROVED,
            now,
            identifier,
            PENDING,
            now,
        ):
            return self.get(identifier)
        found = self.get(identifier)
        if found.state == PENDING:  # expired before anyone looked
            self.settle(identifier, EXPIRED, now)
            found = self.get(identifier)
        raise StoreError(f"decision {identifier} is {found.state}, not pending; nothing approved")

    def get(self, identifier: str) -> Pending:
        rows = self._rows("SELECT * FROM approvals WHERE id = ?", identifier)
        if not rows:
            raise Unknown(f"no decision {identifier[:40]!r} waits for approval")
        return _pending(rows[0])

    def in_state(self, state: str) -> list[Pending]:
        return [_pending(row) for row in self._rows("SELECT * FROM approvals WHERE state = ? ORDER BY created", state)]

    def settle(self, identifier: str, state: str, now: float) -> None:
        self._write("UPDATE approvals SET state = ?, updated = ? WHERE id = ?", state, now, identifier)

    def expire(self, now: float) -> list[Pending]:
        expired = [pending for pending in self.in_state(PENDING) if pending.expires <= now]
        for pending in expired:
            self.settle(pending.id, EXPIRED, now)
        return expired

    def obsolete(self, key: tuple[str, str], now: float) -> list[str]:
        """Pending decisions of an alert firing that has resolved: no human needs to act."""
        identifiers = [
            row[0]
            for row in self._rows(
                "SELECT id FROM approvals WHERE fingerprint = ? AND starts_at = ? AND state IN (?, ?)",
                *key,
                PENDING,
                APPROVED,
            )
        ]
        for identifier in identifiers:
            self.settle(identifier, OBSOLETE, now)
        return identifiers

    def attempted(self, alert: str, key: tuple[str, str], kind: str, started: float, now: float) -> None:
        self._write("INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, NULL)", alert, kind, *key, started, now)

    def resolved(self, key: tuple[str, str], at: float) -> int:
        return self._write(
            "UPDATE attempts SET resolved = ? WHERE fingerprint = ? AND starts_at = ? AND resolved IS NULL", at, *key
        )

    def attempts(self) -> Iterator[Attempt]:
        for row in self._rows("SELECT alert, kind, started, acted, resolved FROM attempts"):
            yield Attempt(*row)


def _pending(row: tuple[Any, ...]) -> Pending:
    identifier, alert, fingerprint, starts_at, started, action, state, _created, expires, _updated = row
    spec = json.loads(action)
    return Pending(
        identifier,
        alert,
        fingerprint,
        starts_at,
        started,
        Action(spec["kind"], spec["params"], spec["approval"]),
        state,
        expires,
    )
