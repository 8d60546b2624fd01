"""The database engine, its pool tuned from settings, and the schema-at-head check."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_engine(settings: Settings, reader: bool = False) -> AsyncEngine:
    """The writer's engine, or with `reader` the reader endpoint's (APP_DATABASE_READ_URL)."""
    url = settings.database_read_url if reader else settings.database_url
    if url is None:
        raise ValueError("APP_DATABASE_READ_URL is not set")
    if settings.is_sqlite:
        # SQLite has no server to lose connections to; its pool is the driver's.
        return create_async_engine(url)
    # The server ends any statement of ours that runs longer than this. On the reader, no
    # transaction may write, even if its endpoint routes to the writer (as Aurora's reader
    # endpoint does while a cluster has no replica).
    options = f"-c statement_timeout={round(settings.db_statement_timeout_seconds * 1000)}"
    if reader:
        options += " -c default_transaction_read_only=on"
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_timeout=settings.db_pool_timeout_seconds,
        # A connection the server or a proxy dropped is replaced, not handed out.
        pool_pre_ping=True,
        # Errors name the statement, never its values (a key's hash, a user's prompt).
        hide_parameters=True,
        connect_args={"connect_timeout": settings.db_connect_timeout_seconds, "options": options},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


@functools.cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(
        revision.revision for revision in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    )


def schema_serves_this_release(current: str | None) -> bool:
    """At this release's head, or at a revision this release does not know: a newer
    release migrated (expand/contract keeps the schema compatible), so old pods stay
    ready through a rollout."""
    return current == head_revision() or (current is not None and current not in known_revisions())
