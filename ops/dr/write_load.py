"""The drill's write load, and the ledger of what became of it.

Writers run the API's own write path: the usage reservation a completion makes
(`app.db.usage.reserve`), through the app's database layer (`app.db.routing`, its engine,
pool and deadlines), on a thread with an event loop of its own while the drill breaks
servers under it. Each write is a row the ledger can recognise (`drill-<seq>`) with
values derived from its number, and is *acknowledged* when its commit returned; the
ledger keeps when, which server (`inet_server_port()`) and a checksum of the row.

`verify` then compares the acknowledged writes with a server's rows. The load is bounded
in count and in time whatever the drill does.

The app, SQLAlchemy and psycopg are imported when the load starts, not before: the
drill's dry run needs none of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

PREFIX = "drill-"
# A writer whose write failed tries the next one after this long: pacing against a server
# that is down (a refused connection fails at once), not a wait for anything.
RETRY_SECONDS = 0.02


def row_values(seq: int) -> tuple[str, int, int]:
    """(model, prompt_tokens, completion_tokens) of write number `seq`."""
    return f"{PREFIX}{seq:09d}", seq, (seq * 7919) % 100_003


def row_checksum(key_id: str, model: str, prompt_tokens: int, completion_tokens: int) -> str:
    return hashlib.sha256(f"{key_id}|{model}|{prompt_tokens}|{completion_tokens}".encode()).hexdigest()


@dataclass(frozen=True)
class Ack:
    seq: int
    at: float  # time.monotonic() when the commit returned
    port: int  # the server that committed it
    checksum: str


@dataclass
class WriteLoad:
    url: str
    key_id: str
    writers: int
    max_writes: int
    max_seconds: float
    # Appended by the load's thread only; others read snapshots (`list(...)`).
    acks: list[Ack] = field(default_factory=list)
    attempts: int = 0
    failures: int = 0
    error: BaseException | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        # The app's modules are imported here, in the caller's thread, before the writers'
        # thread needs them: two threads importing one package's modules at once can
        # deadlock on Python's import locks, and a module abandoned half-way (its metrics
        # registered) fails when it is imported again.
        import app.db.database
        import app.db.routing
        import app.db.usage
        import app.settings  # noqa: F401

        self._thread = threading.Thread(target=self._main, name="drill-writes", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def stop(self, seconds: float = 30.0) -> None:
        """Stop the writers (each ends its write in flight, bounded by its deadline)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(seconds)
            if self._thread.is_alive():
                raise RuntimeError(f"the writers did not stop within {seconds:g} s")
        if self.error is not None:
            raise RuntimeError(f"a writer failed: {type(self.error).__name__}: {self.error}") from self.error

    def acked_on(self, port: int, since: float = 0.0) -> list[Ack]:
        return [ack for ack in list(self.acks) if ack.port == port and ack.at >= since]

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:  # noqa: BLE001 - reported by stop(), in the drill's thread
            self.error = error

    async def _run(self) -> None:
        from app.db.routing import open_database
        from app.settings import Settings

        # The app's settings, bounded for a drill: a write waits at most 3 s for a server.
        settings = Settings(
            environment="local",
            database_url=self.url,
            db_pool_size=self.writers,
            db_max_overflow=0,
            db_statement_timeout_seconds=2.0,
            db_connect_timeout_seconds=2,
            db_pool_timeout_seconds=2.0,
        )
        database = open_database(settings)
        sequence = itertools.count(1)
        deadline = time.monotonic() + self.max_seconds
        try:
            await asyncio.gather(*(self._writer(database, sequence, deadline) for _ in range(self.writers)))
        finally:
            await database.dispose(3.0)

    async def _writer(self, database: Any, sequence: itertools.count, deadline: float) -> None:
        from app.db.database import DatabaseUnavailable

        while not self._stopping.is_set() and time.monotonic() < deadline:
            seq = next(sequence)
            if seq > self.max_writes:
                return
            self.attempts += 1
            try:
                port = await database.run(lambda db, seq=seq: self._reserve(db, seq), "drill write")
            except DatabaseUnavailable:
                self.failures += 1  # not acknowledged: it may or may not have committed
                await asyncio.sleep(RETRY_SECONDS)
                continue
            model, prompt_tokens, completion_tokens = row_values(seq)
            checksum = row_checksum(self.key_id, model, prompt_tokens, completion_tokens)
            self.acks.append(Ack(seq, time.monotonic(), port, checksum))

    async def _reserve(self, db: Any, seq: int) -> int:
        from sqlalchemy import text

        from app.db import usage

        # In the write's own transaction, so the port is the server that commits it.
        port = await db.scalar(text("SELECT inet_server_port()"))
        await usage.reserve(db, self.key_id, *row_values(seq))
        return int(port)


# The drill's rows on a server, as (model, key_id, prompt_tokens, completion_tokens).
ROWS_SQL = (
    "SELECT model, key_id, prompt_tokens, completion_tokens FROM usage_records WHERE model LIKE %s ORDER BY model"
)
# One checksum of every drill row on a server, to compare a standby with its primary.
TABLE_CHECKSUM_SQL = (
    "SELECT count(*), md5(coalesce(string_agg(concat_ws(':', model, key_id, prompt_tokens, completion_tokens, state),"
    " ',' ORDER BY model), '')) FROM usage_records WHERE model LIKE %s"
)


@dataclass(frozen=True)
class Verification:
    """Acknowledged writes against one server's rows."""

    acknowledged: int
    missing: tuple[Ack, ...]  # acknowledged, not on the server
    corrupted: tuple[int, ...]  # on the server with other values than acknowledged
    unexpected: tuple[str, ...]  # on the server, never attempted
    unacknowledged_present: int  # attempted, not acknowledged, committed anyway

    @property
    def intact(self) -> bool:
        return not self.corrupted and not self.unexpected


def verify(acks: Sequence[Ack], rows: Sequence[tuple[str, str, int, int]], attempts: int) -> Verification:
    by_seq = {}
    unexpected = []
    for model, key_id, prompt_tokens, completion_tokens in rows:
        seq = int(model.removeprefix(PREFIX)) if model.removeprefix(PREFIX).isdigit() else 0
        if not 1 <= seq <= attempts or model != row_values(seq)[0]:
            unexpected.append(model)
            continue
        by_seq[seq] = row_checksum(key_id, model, prompt_tokens, completion_tokens)
    missing = tuple(ack for ack in acks if ack.seq not in by_seq)
    corrupted = tuple(ack.seq for ack in acks if ack.seq in by_seq and by_seq[ack.seq] != ack.checksum)
    acked = {ack.seq for ack in acks}
    return Verification(
        acknowledged=len(acks),
        missing=missing,
        corrupted=corrupted,
        unexpected=tuple(unexpected),
        unacknowledged_present=len(set(by_seq) - acked),
    )


def rpo_seconds(acks: Sequence[Ack], lost: Sequence[Ack]) -> float:
    """The span of acknowledged writes lost: from the newest write that survived (acked
    no later than the newest lost one) to the newest lost one. 0 when nothing was lost."""
    if not lost:
        return 0.0
    newest_lost = max(ack.at for ack in lost)
    lost_seqs = {ack.seq for ack in lost}
    survived = [ack.at for ack in acks if ack.seq not in lost_seqs and ack.at <= newest_lost]
    oldest_lost = min(ack.at for ack in lost)
    return newest_lost - (max(survived) if survived else oldest_lost)
