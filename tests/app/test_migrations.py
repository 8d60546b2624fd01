"""Alembic on SQLite and on a real PostgreSQL: up, down, up again; models never drift;
the expand/contract pair under live writes; concurrent upgrades take turns."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, inspect, text

from app.db.engine import alembic_config, head_revision
from app.settings import Settings


def plain_url(url: str) -> str:
    """psycopg's own connection string for a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def postgres_db(postgres_url: str) -> str:
    """A fresh database per test on the session's server."""
    name = f"t{time.monotonic_ns()}"
    with psycopg.connect(plain_url(postgres_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def columns(url: str, table: str) -> set[str]:
    engine = create_engine(url.replace("+aiosqlite", ""))
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def round_trip(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.check(config)  # the models match the migrations
    command.downgrade(config, "base")
    assert "usage_records" not in inspect(create_engine(url.replace("+aiosqlite", ""))).get_table_names()
    command.upgrade(config, "head")
    assert columns(url, "usage_records") >= {"prompt_tokens", "completion_tokens"}
    assert "tokens" not in columns(url, "usage_records")


def test_sqlite_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    round_trip(f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")


def test_postgres_upgrades_downgrades_and_upgrades_again(postgres_db: str) -> None:
    round_trip(postgres_db)


def test_every_migration_has_a_working_downgrade(postgres_db: str) -> None:
    config = alembic_config(postgres_db)
    for revision in ("0001", "0002", "0003", "0004"):
        command.upgrade(config, revision)
    for revision in ("0003", "0002", "0001", "base"):
        command.downgrade(config, revision)
    assert head_revision() == "0004"


def test_a_drift_between_models_and_migrations_is_caught(postgres_db: str) -> None:
    config = alembic_config(postgres_db)
    command.upgrade(config, "0003")  # the models are at 0004
    command.stamp(config, "head")
    with pytest.raises(CommandError, match="New upgrade operations detected"):
        command.check(config)


def test_expand_and_contract_run_while_writers_keep_inserting(postgres_db: str) -> None:
    config = alembic_config(postgres_db)
    command.upgrade(config, "0001")
    with psycopg.connect(plain_url(postgres_db), autocommit=True) as db:
        db.execute("INSERT INTO api_keys (id, name, secret_hash) VALUES ('k1', 'writer', 'x')")
    old_release = "INSERT INTO usage_records (key_id, model, tokens) VALUES ('k1', 'm', 3)"
    new_release = "INSERT INTO usage_records (key_id, model, prompt_tokens, completion_tokens) VALUES ('k1', 'm', 2, 1)"
    failures: list[str] = []
    written = [0]

    def writer(statement: str, stop: threading.Event) -> None:
        with psycopg.connect(plain_url(postgres_db), autocommit=True) as db:
            while not stop.is_set():
                try:
                    db.execute(statement)
                    written[0] += 1
                except psycopg.Error as error:
                    failures.append(str(error))
                time.sleep(0.001)

    def rows_written(more: int) -> None:
        """Wait (bounded) until the writers have inserted `more` rows."""
        target, deadline = written[0] + more, time.monotonic() + 30
        while written[0] < target:
            assert time.monotonic() < deadline, "the writers stopped writing"
            time.sleep(0.01)

    def migrate_while(statement: str, revision: str) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(statement, stop))
        thread.start()
        rows_written(25)  # before the migration
        command.upgrade(config, revision)
        rows_written(25)  # and after it, with the same writer
        stop.set()
        thread.join()

    migrate_while(old_release, "0002")  # expand: the old release keeps writing `tokens`
    migrate_while(new_release, "0003")  # contract: only the new release is left
    assert failures == []
    with psycopg.connect(plain_url(postgres_db)) as db:
        rows, missing = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE prompt_tokens IS NULL OR completion_tokens IS NULL) "
            "FROM usage_records"
        ).fetchone()
    assert rows == written[0] and rows > 50 and missing == 0
    index = "ix_usage_records_key_id_created_at"
    with psycopg.connect(plain_url(postgres_db)) as db:
        assert db.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (index,)).fetchone() == (
            True,
        )


def test_concurrent_upgrades_take_turns_on_the_advisory_lock(postgres_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hold the migration lock as another pod would, longer than the lock timeout: the
    # upgrade waits for its turn (the timeout bounds our statements, not that wait).
    from app.migrations_lock import ADVISORY_LOCK_ID

    monkeypatch.setenv("APP_MIGRATION_LOCK_TIMEOUT", "200ms")
    holder = psycopg.connect(plain_url(postgres_db), autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
    done = threading.Event()
    thread = threading.Thread(target=lambda: (command.upgrade(alembic_config(postgres_db), "head"), done.set()))
    thread.start()
    # The upgrade's session shows up waiting on the advisory lock: it takes its turn.
    deadline = time.monotonic() + 30
    while not holder.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
    ).fetchone()[0]:
        assert time.monotonic() < deadline, "the upgrade never waited for the lock"
        time.sleep(0.05)
    assert not done.is_set(), "the upgrade ran while another held the migration lock"
    holder.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_ID,))
    holder.close()
    thread.join(timeout=60)
    assert done.is_set()


def test_migrations_set_lock_and_statement_timeouts(postgres_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_MIGRATION_LOCK_TIMEOUT", "200ms")
    command.upgrade(alembic_config(postgres_db), "0002")
    # A long transaction holds a lock on the table the contract step must alter.
    blocker = psycopg.connect(plain_url(postgres_db))
    blocker.execute("SELECT * FROM usage_records")  # keeps ACCESS SHARE until rollback
    started = time.monotonic()
    with pytest.raises(Exception, match="lock timeout"):
        command.upgrade(alembic_config(postgres_db), "head")
    assert time.monotonic() - started < 10
    blocker.rollback()
    blocker.close()
    command.upgrade(alembic_config(postgres_db), "head")  # and it succeeds once the lock is free
    assert Settings(environment="test").migration_statement_timeout == "60s"


def test_the_app_reads_and_writes_on_postgres(postgres_db: str) -> None:
    import asyncio

    from tests.app.conftest import running, settings_for

    async def exercise() -> None:
        async with running(settings_for(Path("/unused"), database_url=postgres_db)) as api:
            assert (await api.complete("one two three")).status_code == 200
            usage = (await api.client.get("/v1/usage")).json()
            assert usage["requests"] == 1 and usage["prompt_tokens"] == 3
            assert (await api.client.get("/readyz")).json()["checks"]["schema"] == "ok"

    asyncio.run(exercise())
    with psycopg.connect(plain_url(postgres_db)) as db:
        assert db.execute(text("SELECT 1").text).fetchone() == (1,)
