"""PostgreSQL stopped, frozen (SIGSTOP) and restarted under the API: 503 with Retry-After
instead of a hang or a 500, the upstream never paid for when usage cannot be recorded,
and an answer the upstream gave never thrown away."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.metrics import DB_UNAVAILABLE
from app.upstream import Completion
from tests.app.conftest import Api, healed, running, settings_for
from tests.servers import Server

pytestmark = pytest.mark.anyio

# Short bounds, so each fault shows within a second or two.
FAST = {"db_statement_timeout_seconds": 0.5, "db_connect_timeout_seconds": 1, "db_pool_timeout_seconds": 0.5}
# No test may wait on the app longer than this: a hang fails the test instead of the run.
BOUND_SECONDS = 30


@pytest.fixture
def server(own_postgres: tuple[Server, str]) -> Iterator[Server]:
    yield from healed(own_postgres[0])


def app_on(own_postgres: tuple[Server, str], **overrides: object):
    return running(settings_for(Path("/unused"), database_url=own_postgres[1], **FAST, **overrides))


class GatedUpstream:
    """An upstream that answers when the test says so, and counts its calls."""

    def __init__(self) -> None:
        self.called = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    def refuse_if_open(self) -> None:
        """Never open: these tests are about the database."""

    async def complete(self, model: str, prompt: str, max_tokens: int, temperature: float) -> Completion:
        self.calls += 1
        self.called.set()
        await self.release.wait()
        return Completion("the paid-for answer", "stop", prompt_tokens=7, completion_tokens=3)


def usage_rows(url: str) -> list[tuple[str, int, int]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT state, prompt_tokens, completion_tokens FROM usage_records")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def clear_usage(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM usage_records"))
    engine.dispose()


async def settle_when_back(api: Api) -> None:
    """Retry the deferred settlements until the database takes them (bounded)."""
    for _ in range(100):
        if await api.services.settlements.retry_pending() == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the settlement never reached the database")


def assert_database_503(response, retry_after: str = "5") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == retry_after
    assert response.json()["type"] == "https://api.project-ai.dev/problems/database-unavailable"


@pytest.mark.parametrize("fault", ["stop", "freeze"])
async def test_a_database_failing_mid_request_keeps_the_answer_and_settles_it_later(
    own_postgres: tuple[Server, str], server: Server, fault: str
) -> None:
    async with app_on(own_postgres) as api:
        clear_usage(own_postgres[1])
        upstream = GatedUpstream()
        api.services.upstream = upstream  # type: ignore[assignment]
        request = asyncio.create_task(api.complete("one two three"))
        await asyncio.wait_for(upstream.called.wait(), BOUND_SECONDS)
        getattr(server, fault)()  # the reservation is in; now the database goes
        upstream.release.set()
        response = await asyncio.wait_for(request, BOUND_SECONDS)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["text"] == "the paid-for answer"
        assert len(api.services.settlements) == 1
        server.thaw() if fault == "freeze" else server.start()
        await settle_when_back(api)
    assert usage_rows(own_postgres[1]) == [("settled", 7, 3)]


async def test_a_settlement_that_never_lands_leaves_the_reservation_at_its_estimate(
    own_postgres: tuple[Server, str], server: Server
) -> None:
    async with app_on(own_postgres) as api:
        clear_usage(own_postgres[1])
        upstream = GatedUpstream()
        api.services.upstream = upstream  # type: ignore[assignment]
        request = asyncio.create_task(api.complete("one two three", max_tokens=50))
        await asyncio.wait_for(upstream.called.wait(), BOUND_SECONDS)
        server.stop()
        upstream.release.set()
        assert (await asyncio.wait_for(request, BOUND_SECONDS)).status_code == 200
        api.services.settlements._pending.clear()  # the pod died before it could retry
    server.start()
    # Billed at the most it could have cost: three prompt words, fifty completion tokens.
    assert usage_rows(own_postgres[1]) == [("reserved", 3, 50)]


async def test_with_the_database_stopped_requests_get_503_and_the_upstream_is_not_called(
    own_postgres: tuple[Server, str], server: Server
) -> None:
    async with app_on(own_postgres) as api:
        upstream = GatedUpstream()
        api.services.upstream = upstream  # type: ignore[assignment]
        server.stop()
        assert_database_503(await api.client.get("/v1/usage"))
        assert_database_503(await api.complete())
        assert upstream.calls == 0  # nothing paid for that could not be recorded
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("failed")
        assert (await api.client.get("/livez")).status_code == 200  # not dead: no restart


async def test_with_the_database_frozen_requests_get_503_at_the_deadline_not_a_hang(
    own_postgres: tuple[Server, str], server: Server
) -> None:
    async with app_on(own_postgres, db_retry_after_seconds=9) as api:
        timeouts = DB_UNAVAILABLE.labels("timeout")._value.get()
        server.freeze()
        response = await asyncio.wait_for(api.client.get("/v1/metrics/summary"), BOUND_SECONDS)
        assert_database_503(response, retry_after="9")
        assert DB_UNAVAILABLE.labels("timeout")._value.get() == timeouts + 1
        ready = await asyncio.wait_for(api.client.get("/readyz"), BOUND_SECONDS)
        assert ready.status_code == 503
        server.thaw()
        # Back: the pool replaces what the freeze left broken, and requests succeed.
        for _ in range(100):
            if (await api.client.get("/v1/usage")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("requests did not recover after the database came back")


async def test_a_query_stuck_behind_a_lock_is_ended_by_the_server_statement_timeout(
    own_postgres: tuple[Server, str], server: Server
) -> None:
    async with app_on(own_postgres) as api:
        errors = DB_UNAVAILABLE.labels("error")._value.get()
        holder = create_engine(own_postgres[1])
        with holder.connect() as connection:
            connection.execute(text("LOCK TABLE usage_records IN ACCESS EXCLUSIVE MODE"))
            response = await asyncio.wait_for(api.client.get("/v1/usage"), BOUND_SECONDS)
            connection.rollback()
        holder.dispose()
        assert_database_503(response)
        # The server cancelled it (statement_timeout), before the client's own deadline.
        assert DB_UNAVAILABLE.labels("error")._value.get() == errors + 1
