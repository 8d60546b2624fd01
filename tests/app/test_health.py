"""Probes: liveness is the process, readiness is the database (checked at most once a
second, whoever asks), startup is warm-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from app.db.engine import alembic_config
from tests.app.conftest import Api, running, settings_for

pytestmark = pytest.mark.anyio


async def test_probes_answer_when_everything_is_up(api: Api) -> None:
    for path in ("/livez", "/readyz", "/startupz"):
        response = await api.client.get(path)
        assert response.status_code == 200, path
    ready = (await api.client.get("/readyz")).json()
    assert ready == {"status": "ok", "checks": {"database": "ok", "schema": "ok"}}


async def test_readiness_fails_as_soon_as_shutdown_begins(api: Api) -> None:
    api.services.draining = True
    response = await api.client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"status": "draining"}
    assert (await api.client.get("/livez")).status_code == 200  # draining is not dead


async def test_readiness_fails_when_the_schema_is_behind(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, readiness_cache_seconds=0)
    async with running(settings) as api:
        command.downgrade(alembic_config(settings.database_url), "0002")
        response = await api.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["schema"] == "behind (0002)"


async def test_a_schema_a_newer_release_migrated_keeps_this_release_ready(tmp_path: Path) -> None:
    from sqlalchemy import text

    settings = settings_for(tmp_path, readiness_cache_seconds=0)
    async with running(settings) as api:
        async with api.services.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        response = await api.client.get("/readyz")
        assert response.status_code == 200, response.json()


async def test_readiness_ignores_the_cache_which_degrades_on_its_own(tmp_path: Path) -> None:
    from tests.servers import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with running(settings_for(tmp_path, redis_url=dead)) as api:
        response = await api.client.get("/readyz")
        assert response.status_code == 200 and response.json()["checks"] == {"database": "ok", "schema": "ok"}


async def test_readiness_checks_the_database_once_per_window_however_often_it_is_probed(tmp_path: Path) -> None:
    import asyncio

    async with running(settings_for(tmp_path, readiness_cache_seconds=60)) as api:
        before = api.services.readiness.checks_run
        responses = await asyncio.gather(*(api.client.get("/readyz") for _ in range(50)))
        assert {response.status_code for response in responses} == {200}
        assert api.services.readiness.checks_run - before <= 1


async def test_a_cached_readiness_expires_after_its_window() -> None:
    from app.readiness import Readiness

    class CountingDatabase:
        calls = 0

        async def run(self, operation, what: str) -> str:
            self.calls += 1
            return "0004"

    now = [0.0]
    database = CountingDatabase()
    readiness = Readiness(database, ttl_seconds=1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    for moment in (0.0, 0.5, 0.99, 1.0, 1.5, 2.2):
        now[0] = moment
        assert await readiness.checks() == {"database": "ok", "schema": "ok"}
    assert database.calls == 3  # at 0, 1.0 and 2.2


async def test_startup_is_reported_until_warm(api: Api) -> None:
    api.services.started = False
    assert (await api.client.get("/startupz")).status_code == 503


async def test_probes_are_not_rate_limited(start) -> None:
    async with start(rate_limit_per_ip="1/1") as api:
        statuses = {(await api.client.get("/readyz")).status_code for _ in range(5)}
        assert statuses == {200}


async def test_probes_answer_head_requests(api: Api) -> None:
    for path in ("/livez", "/readyz", "/startupz"):
        assert (await api.client.head(path)).status_code == 200, path


async def test_probes_during_a_slow_check_share_it_instead_of_queueing_their_own() -> None:
    import asyncio

    from app.readiness import Readiness

    class SlowDatabase:
        calls = 0

        async def run(self, operation, what: str) -> str:
            self.calls += 1
            await asyncio.sleep(0.3)  # the fault: a check slower than the window
            return "0004"

    database = SlowDatabase()
    readiness = Readiness(database, ttl_seconds=0.1)  # type: ignore[arg-type]
    results = await asyncio.gather(*(readiness.checks() for _ in range(5)))
    assert all(result == {"database": "ok", "schema": "ok"} for result in results)
    assert database.calls == 1


async def test_a_database_error_that_is_no_outage_still_fails_readiness_without_a_500() -> None:
    from app.readiness import Readiness

    class BrokenDatabase:
        async def run(self, operation, what: str) -> str:
            raise PermissionError("no privilege on alembic_version")

    checks = await Readiness(BrokenDatabase(), ttl_seconds=0).checks()  # type: ignore[arg-type]
    assert checks == {"database": "failed: PermissionError", "schema": "unknown"}


async def test_the_public_health_check_says_only_whether_the_region_serves(tmp_path: Path) -> None:
    from sqlalchemy import text

    async with running(settings_for(tmp_path, readiness_cache_seconds=0)) as api:
        ok = await api.client.get("/v1/health", headers={"authorization": ""})  # no key needed
        assert ok.status_code == 200 and ok.json() == {"status": "ok"}
        async with api.services.engine.begin() as connection:
            await connection.execute(text("DROP TABLE alembic_version"))
        down = await api.client.get("/v1/health")
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert "checks" not in down.json()  # no detail for the outside world
        api.services.draining = True
        assert (await api.client.get("/v1/health")).status_code == 503
