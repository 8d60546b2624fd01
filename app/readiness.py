"""Readiness: can this pod serve? Only the database decides; the cache and the rate
limiter's Redis degrade without it (a Redis outage must not empty every Service at once).

One check (a connection and one query for the schema revision) serves every probe for
`ttl_seconds`, and concurrent probes share the check in flight: probing harder cannot
load the database harder.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.database import Database, DatabaseUnavailable
from app.db.engine import schema_serves_this_release

Checks = dict[str, str]


async def _schema_revision(session: AsyncSession) -> str | None:
    return await session.scalar(text("SELECT version_num FROM alembic_version"))


class Readiness:
    def __init__(self, database: Database, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.database = database
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.checks_run = 0
        self._result: tuple[float, Checks] | None = None
        self._lock = asyncio.Lock()

    async def checks(self) -> Checks:
        # Probes queue on the lock while one check runs, then all take its result: it is
        # stamped when it ends, so a check slower than the window still serves them.
        async with self._lock:
            if self._result is None or self.clock() - self._result[0] >= self.ttl_seconds:
                checks = await self._check()
                self._result = (self.clock(), checks)
            return self._result[1]

    async def _check(self) -> Checks:
        self.checks_run += 1
        try:
            revision = await self.database.run(_schema_revision, "readiness check")
        except DatabaseUnavailable as error:
            return {"database": f"failed: {error}", "schema": "unknown"}
        except Exception as error:  # noqa: BLE001 - a missing table or privilege: not ready, named
            return {"database": f"failed: {type(error).__name__}", "schema": "unknown"}
        return {"database": "ok", "schema": "ok" if schema_serves_this_release(revision) else f"behind ({revision})"}


def ready(checks: Checks) -> bool:
    return all(result == "ok" for result in checks.values())
