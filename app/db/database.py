"""Every database call the API makes, bounded in time, and a clear error when it fails.

Each call runs in a session of its own on a task of its own, and the request waits for
it at most `deadline_seconds`. A server that is down fails at once (connection
refused); one that is frozen, or a query stuck behind a lock, gives up at the deadline
(the server's own `statement_timeout` ends the query on its side). A call that misses
its deadline is cancelled and left to clean up in the background, so that the driver's
cancel request to a frozen server cannot hold the request too. Either way the caller
gets `DatabaseUnavailable`, which the app answers with 503 and `Retry-After`.

`run` is for writes and for reads that must see the latest writes; `read` is for reads
that tolerate replication lag, which app/db/routing.py may send to a replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from prometheus_client import Counter
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.engine import session_factory
from app.metrics import DB_READS, DB_UNAVAILABLE

T = TypeVar("T")

# The server could not be reached, did not answer, or cannot serve right now (a read-only
# transaction during a failover is an InternalError): not a bug in the query.
UNREACHABLE = (exc.OperationalError, exc.InterfaceError, exc.InternalError, exc.TimeoutError, OSError)


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, UNREACHABLE) or (isinstance(error, exc.DBAPIError) and error.connection_invalidated)


class DatabaseUnavailable(Exception):
    """The database failed to answer; the request may be retried later."""

    def __init__(self, message: str, reason: Literal["error", "timeout"] = "error") -> None:
        super().__init__(message)
        self.reason = reason


class Database:
    def __init__(
        self, engine: AsyncEngine, deadline_seconds: float, unavailable: Counter | None = DB_UNAVAILABLE
    ) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.deadline_seconds = deadline_seconds
        # Where failures are counted (None: the caller counts them, as for a replica
        # whose failures the writer absorbs).
        self._unavailable = unavailable
        self._abandoned: set[asyncio.Task] = set()

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        return (self.engine,)

    async def read(
        self,
        operation: Callable[[AsyncSession], Awaitable[T]],
        what: str = "query",
        accept: Callable[[T], bool] | None = None,
    ) -> T:
        """A read that tolerates replication lag. With one server, that server answers;
        `accept` matters only where a replica may answer (app/db/routing.py)."""
        result = await self.run(operation, what)
        DB_READS.labels("writer").inc()
        return result

    async def run(self, operation: Callable[[AsyncSession], Awaitable[T]], what: str = "query") -> T:
        """`operation(session)` within the deadline, or DatabaseUnavailable."""

        async def in_session() -> T:
            async with self.sessions() as session:
                return await operation(session)

        task = asyncio.create_task(in_session())
        try:
            done, _ = await asyncio.wait({task}, timeout=self.deadline_seconds)
        except asyncio.CancelledError:
            self._abandon(task)  # the request itself went away
            raise
        if not done:
            self._abandon(task)
            self._count("timeout")
            raise DatabaseUnavailable(
                f"the database did not answer the {what} within {self.deadline_seconds:g} s", "timeout"
            )
        error = task.exception()
        if error is None:
            return task.result()
        if _unreachable(error):
            self._count("error")
            raise DatabaseUnavailable(f"the database failed the {what}: {type(error).__name__}") from error
        raise error

    def _count(self, reason: str) -> None:
        if self._unavailable is not None:
            self._unavailable.labels(reason).inc()

    def _abandon(self, task: asyncio.Task) -> None:
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(_forget(self._abandoned))

    async def dispose(self, timeout_seconds: float) -> None:
        """Close the pool; a frozen server gets `timeout_seconds`, not forever."""
        try:
            async with asyncio.timeout(timeout_seconds):
                await self.engine.dispose()
        except TimeoutError:
            await self.engine.dispose(close=False)


def _forget(tasks: set[asyncio.Task]) -> Callable[[asyncio.Task], None]:
    def done(task: asyncio.Task) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned call's failure is already answered

    return done
