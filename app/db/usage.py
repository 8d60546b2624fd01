"""Usage queries: recording a completion and aggregating per key. Bound parameters only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import UsageRecord


async def record(db: AsyncSession, key_id: str, model: str, prompt_tokens: int, completion_tokens: int) -> None:
    db.add(UsageRecord(key_id=key_id, model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))
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
