"""Settling usage reservations, even when the database fails right after an answer.

A settlement that fails waits in a bounded queue and is retried in the background until
the database answers again, and once more at shutdown. If the queue is full, or the pod
dies first, the reservation stays in the database at its estimate: the completion is
still recorded, at the most it could have cost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import usage
from app.db.database import Database, DatabaseUnavailable
from app.logs import log
from app.metrics import USAGE_SETTLEMENTS, USAGE_SETTLEMENTS_PENDING

Settlement = Callable[[AsyncSession], Awaitable[None]]


class Settlements:
    def __init__(self, database: Database, capacity: int = 10_000, retry_seconds: float = 2.0) -> None:
        self.database = database
        self.retry_seconds = retry_seconds
        self._pending: deque[tuple[str, Settlement]] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._pending)

    async def settle(self, record_id: int, prompt_tokens: int, completion_tokens: int) -> None:
        await self._apply("settled", lambda db: usage.settle(db, record_id, prompt_tokens, completion_tokens))

    async def release(self, record_id: int) -> None:
        await self._apply("released", lambda db: usage.release(db, record_id))

    async def _apply(self, outcome: str, settlement: Settlement) -> None:
        """Never raises for the database: the caller has an answer to give."""
        try:
            await self.database.run(settlement, "settlement")
        except DatabaseUnavailable as error:
            if len(self._pending) == self._pending.maxlen:
                USAGE_SETTLEMENTS.labels("dropped").inc()  # the oldest stays at its reservation
            self._pending.append((outcome, settlement))
            USAGE_SETTLEMENTS_PENDING.set(len(self._pending))
            if len(self._pending) == 1:
                log.warning("usage settlement deferred until the database answers", error=str(error))
            return
        USAGE_SETTLEMENTS.labels(outcome).inc()

    async def retry_pending(self) -> int:
        """Apply what waits, oldest first, until the database fails again; how many are left.
        Each is taken off the queue before it is tried, so a deferral arriving meanwhile
        cannot push out the one in flight."""
        while self._pending:
            outcome, settlement = self._pending.popleft()
            try:
                await self.database.run(settlement, "settlement")
            except DatabaseUnavailable:
                self._pending.appendleft((outcome, settlement))
                break
            except Exception:  # noqa: BLE001 - one broken settlement must not block the rest
                USAGE_SETTLEMENTS.labels("failed").inc()  # its reservation stays at the estimate
                log.exception("a deferred usage settlement failed; its reservation stays")
            else:
                USAGE_SETTLEMENTS.labels(f"{outcome}_late").inc()
            finally:
                USAGE_SETTLEMENTS_PENDING.set(len(self._pending))
            if not self._pending:
                log.info("deferred usage settlements applied")
        return len(self._pending)

    async def keep_retrying(self) -> None:
        while True:
            await asyncio.sleep(self.retry_seconds)
            try:
                await self.retry_pending()
            except Exception:  # noqa: BLE001 - a bug in one settlement must not stop the others' retries
                log.exception("retrying usage settlements failed")
