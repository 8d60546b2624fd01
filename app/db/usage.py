"""Usage queries: reserving and settling a completion, and aggregating per key. Bound
parameters only.

A completion is reserved before the upstream is called, at the most it can cost, and
settled afterwards with what it did cost (or released if the upstream failed). So a
database that is down is found before an answer is paid for, and one that fails after
the answer leaves the request billed at its reservation: never an answer thrown away,
never a completion unrecorded. Reports count reservations at their estimate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import RESERVED, SETTLED, UsageRecord


async def reserve(db: AsyncSession, key_id: str, model: str, prompt_tokens: int, completion_tokens: int) -> int:
    """A reservation at the estimate given; its id."""
    record = UsageRecord(
        key_id=key_id, model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, state=RESERVED
    )
    db.add(record)
    await db.commit()
    return record.id


async def settle(db: AsyncSession, record_id: int, prompt_tokens: int, completion_tokens: int) -> None:
    await db.execute(
        update(UsageRecord)
        .where(UsageRecord.id == record_id)
        .values(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, state=SETTLED)
    )
    await db.commit()


async def release(db: AsyncSession, record_id: int) -> None:
    """The upstream served nothing: the reservation goes."""
    await db.execute(delete(UsageRecord).where(UsageRecord.id == record_id, UsageRecord.state == RESERVED))
    await db.commit()


async def by_model(db: AsyncSession, key_id: str) -> list[tuple[str, int, int, int]]:
    rows = await db.execute(
        select(
            UsageRecord.model,
            func.count(),
            func.coalesce(func.sum(UsageRecord.prompt_tokens), 0),
            func.coalesce(func.sum(UsageRecord.completion_tokens), 0),
        )
        .where(UsageRecord.key_id == key_id)
        .group_by(UsageRecord.model)
        .order_by(UsageRecord.model)
    )
    return [(model, int(count), int(prompt), int(completion)) for model, count, prompt, completion in rows]


async def window(db: AsyncSession, key_id: str, seconds: int) -> tuple[int, int]:
    since = datetime.now(UTC) - timedelta(seconds=seconds)
    count, tokens = (
        await db.execute(
            select(
                func.count(),
                func.coalesce(func.sum(UsageRecord.prompt_tokens + UsageRecord.completion_tokens), 0),
            ).where(UsageRecord.key_id == key_id, UsageRecord.created_at >= since)
        )
    ).one()
    return int(count), int(tokens)


async def first_and_last(db: AsyncSession, key_id: str) -> tuple[datetime | None, datetime | None]:
    first, last = (
        await db.execute(
            select(func.min(UsageRecord.created_at), func.max(UsageRecord.created_at)).where(
                UsageRecord.key_id == key_id
            )
        )
    ).one()
    return _utc(first), _utc(last)


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without a zone; they were written in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
