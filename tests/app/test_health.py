"""Probes: liveness is the process, readiness is its dependencies, startup is warm-up."""

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
    assert ready == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "schema": "ok"}}


async def test_readiness_fails_as_soon_as_shutdown_begins(api: Api) -> None:
    api.services.draining = True
    response = await api.client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"status": "draining"}
    assert (await api.client.get("/livez")).status_code == 200  # draining is not dead


async def test_readiness_fails_when_the_schema_is_behind(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    async with running(settings) as api:
        command.downgrade(alembic_config(settings.database_url), "0002")
        response = await api.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["schema"] == "failed"


async def test_readiness_names_an_unreachable_cache(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as api:
        api.services.cache.ping = _refuse  # type: ignore[method-assign]
        response = await api.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": "ok", "cache": "failed: ConnectionError", "schema": "ok"}


async def _refuse() -> bool:
    raise ConnectionError("refused")


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
