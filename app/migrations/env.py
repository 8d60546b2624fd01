"""Alembic environment: the app's own settings and models; safe on a live PostgreSQL.

On PostgreSQL every run holds an advisory lock, so two pods that start a migration at
once take turns instead of racing, and sets lock and statement timeouts, so a migration
that would queue behind a long transaction fails fast instead of blocking all traffic.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from app.db.models import Base
from app.migrations_lock import ADVISORY_LOCK_ID
from app.settings import load_settings


def sync_url(url: str) -> str:
    """Alembic runs synchronously: the same database through a blocking driver."""
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def run_migrations() -> None:
    settings = load_settings()
    url = context.config.get_main_option("sqlalchemy.url") or settings.database_url
    engine = create_engine(sync_url(url))
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as connection:
        if postgres:
            # Wait for another pod's migration first (as long as it takes), then bound
            # every statement of ours, so that one stuck behind traffic fails fast.
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
            connection.execute(
                text("SELECT set_config('lock_timeout', :value, false)"), {"value": settings.migration_lock_timeout}
            )
            connection.execute(
                text("SELECT set_config('statement_timeout', :value, false)"),
                {"value": settings.migration_statement_timeout},
            )
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                compare_type=True,
                # One transaction per migration, so one can step out into an
                # autocommit block (CREATE INDEX CONCURRENTLY) between the others.
                transaction_per_migration=True,
                render_as_batch=not postgres,  # SQLite alters tables by copying them
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if postgres:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `python -m app migrate`")
run_migrations()
