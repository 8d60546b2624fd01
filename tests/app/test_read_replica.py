"""Reads from the reader endpoint, on a real PostgreSQL primary and a real streaming
replica: lag-tolerant reads go to the replica, writes and read-your-writes to the
primary, and a replica that is stopped or frozen costs at most one deadline, never a
request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.__main__ import create_key
from app.__main__ import main as app_main
from app.db.database import Database, DatabaseUnavailable
from app.db.engine import alembic_config
from app.db.routing import ReplicatedDatabase
from app.metrics import DB_READ_FALLBACKS, DB_UNAVAILABLE
from app.settings import Settings, load_settings
from ops.dr.local_postgres import Pair
from tests.app.conftest import Api, running, settings_for

pytestmark = pytest.mark.anyio

# Short bounds, so each fault shows within a second or two: a call's deadline is 1.5 s.
FAST = {
    "db_statement_timeout_seconds": 0.5,
    "db_connect_timeout_seconds": 1,
    "db_pool_timeout_seconds": 0.5,
    "db_reader_reset_seconds": 0.5,
}
DEADLINE_SECONDS = 1.5
# No test may wait on the app longer than this: a hang fails the test instead of the run.
BOUND_SECONDS = 30


@pytest.fixture(scope="module")
def replicated() -> Iterator[Pair]:
    with Pair.running() as pair:
        command.upgrade(alembic_config(pair.primary.url), "head")
        pair.wait_for_replication()
        yield pair


@pytest.fixture
def pair(replicated: Pair) -> Iterator[Pair]:
    """The pair, left replicating, thawed and caught up for the next test."""
    yield replicated
    standby = replicated.standby
    standby.thaw()
    if not standby.running:
        standby.start()
    standby.query("SELECT pg_wal_replay_resume()")
    replicated.wait_for_replication()


def app_on(pair: Pair, **overrides: object):
    values = {"database_url": pair.primary.url, "database_read_url": pair.standby.url, **FAST, **overrides}
    return running(settings_for(Path("/unused"), **values))


async def server_port(session: AsyncSession) -> int:
    return await session.scalar(text("SELECT inet_server_port()"))


def fallbacks(reason: str) -> float:
    return DB_READ_FALLBACKS.labels(reason)._value.get()


async def requests_reported(api: Api) -> int:
    response = await api.client.get("/v1/usage")
    assert response.status_code == 200, response.text
    return response.json()["requests"]


async def test_reads_go_to_the_replica_and_writes_to_the_primary(pair: Pair) -> None:
    async with app_on(pair) as api:
        database = api.services.database
        assert isinstance(database, ReplicatedDatabase)
        assert await database.read(server_port) == pair.standby.port
        assert await database.run(server_port) == pair.primary.port
        pair.wait_for_replication()
        reported = await requests_reported(api)
        # With the replica's replay paused, what it reports stands still while the
        # primary takes the completion: the report came from the replica.
        pair.standby.query("SELECT pg_wal_replay_pause()")
        assert (await api.complete()).status_code == 200
        key_id = api.key.split("_")[1]
        on_primary = pair.primary.value("SELECT count(*) FROM usage_records WHERE key_id = %s", (key_id,))
        assert on_primary == reported + 1
        assert await requests_reported(api) == reported
        assert (await api.client.get("/v1/metrics/summary")).json()["windows"][0]["requests"] == reported
        pair.standby.query("SELECT pg_wal_replay_resume()")
        pair.wait_for_replication()
        assert await requests_reported(api) == reported + 1


async def test_a_key_the_replica_lacks_yet_is_looked_up_on_the_writer(pair: Pair) -> None:
    async with app_on(pair) as api:
        pair.standby.query("SELECT pg_wal_replay_pause()")
        new_key = await create_key(api.settings, "created-a-moment-ago")
        missing = fallbacks("missing")
        response = await api.client.get("/v1/models", headers=api.auth(new_key))
        assert response.status_code == 200, response.text
        assert fallbacks("missing") == missing + 1
        # A key that exists nowhere is still refused (the writer lacks it too).
        unknown = "pai_0123456789abcdef_" + "x" * 43
        assert (await api.client.get("/v1/models", headers=api.auth(unknown))).status_code == 401


async def test_with_the_replica_stopped_reads_are_served_by_the_writer(pair: Pair) -> None:
    async with app_on(pair) as api:
        reported = await requests_reported(api)  # the key is cached from here on
        errors, skipped, unavailable = fallbacks("error"), fallbacks("skipped"), DB_UNAVAILABLE.labels("error")
        outages = unavailable._value.get()
        pair.standby.stop()
        assert await requests_reported(api) == reported
        assert fallbacks("error") == errors + 1
        # The breaker is open now: reads skip the reader without trying it.
        assert await requests_reported(api) == reported
        assert fallbacks("skipped") == skipped + 1
        assert unavailable._value.get() == outages  # no database outage: the writer served
        assert (await api.client.get("/readyz")).status_code == 200  # readiness asks the writer
        pair.standby.start()
        database = api.services.database
        for _ in range(200):  # bounded: the breaker probes once its window has passed
            if await database.read(server_port) == pair.standby.port:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("reads never returned to the replica after it came back")


async def test_with_the_replica_frozen_a_read_falls_back_within_the_deadline(pair: Pair) -> None:
    async with app_on(pair) as api:
        await requests_reported(api)  # the key cached, a reader connection in the pool
        timeouts, skipped = fallbacks("timeout"), fallbacks("skipped")
        pair.standby.freeze()
        started = time.monotonic()
        response = await asyncio.wait_for(api.client.get("/v1/usage"), BOUND_SECONDS)
        waited = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert fallbacks("timeout") == timeouts + 1
        # One deadline on the reader, then the writer's answer.
        assert DEADLINE_SECONDS <= waited < DEADLINE_SECONDS + 1.0, waited
        # Then the breaker keeps reads off the frozen replica: no deadline to wait.
        started = time.monotonic()
        assert (await api.client.get("/v1/usage")).status_code == 200
        assert time.monotonic() - started < 0.5
        assert fallbacks("skipped") == skipped + 1


async def test_the_reader_never_writes_even_where_its_endpoint_is_the_writer(pair: Pair) -> None:
    # Aurora's reader endpoint routes to the writer while a cluster has no replica.
    async with app_on(pair, database_read_url=pair.primary.url) as api:
        reader = api.services.database.reader  # type: ignore[attr-defined]
        with pytest.raises(DatabaseUnavailable):
            await reader.run(lambda db: db.execute(text("CREATE TABLE written_by_the_reader (id int)")))
        assert not pair.primary.value("SELECT to_regclass('written_by_the_reader') IS NOT NULL")


async def test_without_a_read_url_the_writer_serves_reads(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as api:
        database = api.services.database
        assert type(database) is Database and database.engines == (api.services.engine,)
        assert await database.read(lambda db: db.scalar(text("SELECT 1"))) == 1


def test_the_read_url_comes_from_a_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "APP_DATABASE_URL").write_text("postgresql+psycopg://app:pw@writer:5432/app\n")
    (secrets / "APP_DATABASE_READ_URL").write_text("postgresql+psycopg://app:pw@reader:5432/app\n")
    monkeypatch.setenv("APP_SECRETS_DIR", str(secrets))
    assert load_settings().database_read_url == "postgresql+psycopg://app:pw@reader:5432/app"
    (secrets / "APP_DATABASE_READ_URL").write_text("")
    assert load_settings().database_read_url is None  # an empty file: no reader


@pytest.mark.parametrize(
    ("writer", "reader", "message"),
    [
        (
            "postgresql+psycopg://app:pw@writer/app",
            "reader.internal:5432",
            "is not a database URL; expected postgresql+psycopg://",
        ),
        (
            "sqlite+aiosqlite:///./app.db",
            "postgresql+psycopg://app:hunter2@reader/app",
            "APP_DATABASE_READ_URL needs a PostgreSQL APP_DATABASE_URL",
        ),
        (
            "postgresql+psycopg://app:pw@writer/app",
            "postgresql://app:hunter2@reader/app",
            "APP_DATABASE_READ_URL uses the driver 'postgresql' but APP_DATABASE_URL uses 'postgresql+psycopg'",
        ),
    ],
)
def test_a_bad_read_url_is_refused_with_a_clear_message_that_never_shows_its_password(
    writer: str, reader: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=writer, database_read_url=reader)
    assert message in str(refused.value) and "hunter2" not in str(refused.value)
    monkeypatch.setenv("APP_DATABASE_URL", writer)
    monkeypatch.setenv("APP_DATABASE_READ_URL", reader)
    assert app_main(["migrate"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("invalid setting") and message in error and "Value error" not in error
    assert "hunter2" not in error and "Traceback" not in error
