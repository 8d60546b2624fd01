"""Where each database call goes: the writer, or the region's reader endpoint.

Writes, and reads that must see a write just made, go to the writer (`Database.run`).
Reads that tolerate replication lag (`Database.read`) go to the reader when
APP_DATABASE_READ_URL is set:

- usage reports (`/v1/usage`, `/v1/metrics/summary`): they may trail the writer by the
  replica's lag (milliseconds, normally), so a completion may show a moment late;
- the API-key lookup on a cache miss, and the key warm-up at start: a key the reader
  lacks may be one created a moment ago, so a miss is asked of the writer (`accept`). A
  key revoked a moment ago may pass for the lag, as it does for the key cache's TTL.

Never on the reader: readiness (the pod cannot serve without the writer, and a replica
down must not empty the Service), usage reservations and settlements, a key's re-hash.

A reader that fails or misses its deadline (the same deadline as every call) does not
fail the read: the writer answers it, counted in `db_read_fallbacks_total{reason}`. One
failure opens the reader's breaker, so for APP_DB_READER_RESET_SECONDS reads go straight
to the writer and a frozen replica costs one request its deadline, not every request;
then one read probes the reader.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.breaker import BreakerOpen, CircuitBreaker
from app.db.database import Database, DatabaseUnavailable
from app.db.engine import create_engine
from app.metrics import DB_READ_FALLBACKS, DB_READER_BREAKER, DB_READS
from app.settings import Settings

T = TypeVar("T")


def open_database(settings: Settings) -> Database:
    """The app's database: the writer, and the reader when one is configured."""
    # The server's statement timeout ends a query first; the client's deadline is for a
    # server that cannot even say so.
    deadline_seconds = settings.db_statement_timeout_seconds + 1.0
    writer = create_engine(settings)
    if settings.database_read_url is None:
        return Database(writer, deadline_seconds)
    reader = create_engine(settings, reader=True)
    return ReplicatedDatabase(writer, reader, deadline_seconds, settings.db_reader_reset_seconds)


class ReplicatedDatabase(Database):
    def __init__(
        self,
        writer: AsyncEngine,
        reader: AsyncEngine,
        deadline_seconds: float,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(writer, deadline_seconds)
        # The reader's failures are no outage (the writer answers), so not db_unavailable_total.
        self.reader = Database(reader, deadline_seconds, unavailable=None)
        self.breaker = CircuitBreaker(
            "reader", failure_threshold=1, reset_seconds=reset_seconds, clock=clock, gauge=DB_READER_BREAKER
        )

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        return (self.engine, self.reader.engine)

    async def read(
        self,
        operation: Callable[[AsyncSession], Awaitable[T]],
        what: str = "query",
        accept: Callable[[T], bool] | None = None,
    ) -> T:
        """On the reader; on the writer if the reader fails, is skipped, or its answer is
        not accepted. A query that is wrong (not a failure to answer) raises as it is."""
        try:
            result = cast(T, await self.breaker.call(lambda: self.reader.run(operation, what)))
        except BreakerOpen:
            reason = "skipped"
        except DatabaseUnavailable as error:
            reason = error.reason
        else:
            if accept is None or accept(result):
                DB_READS.labels("reader").inc()
                return result
            reason = "missing"
        DB_READ_FALLBACKS.labels(reason).inc()
        return await super().read(operation, what)

    async def dispose(self, timeout_seconds: float) -> None:
        await asyncio.gather(super().dispose(timeout_seconds), self.reader.dispose(timeout_seconds))
