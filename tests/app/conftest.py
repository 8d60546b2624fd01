"""Fixtures for the API: an app per test on its own SQLite file, real servers per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi import FastAPI

from app.__main__ import create_key
from app.db.engine import alembic_config
from app.main import create_app
from app.services import Services
from app.settings import Settings
from tests import servers


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    key: str

    @property
    def services(self) -> Services:
        return self.app.state.services

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def complete(self, prompt: str = "hello world", version: str = "v1", **extra: Any) -> httpx.Response:
        body = {"model": "echo-1", "prompt": prompt, **extra}
        return await self.client.post(f"/{version}/completions", json=body, headers=self.auth())


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values = {"environment": "test", "database_url": f"sqlite+aiosqlite:///{tmp_path}/app.db", **overrides}
    return Settings(**values)


@asynccontextmanager
async def running(settings: Settings, migrate: bool = True, client_ip: str = "127.0.0.1") -> AsyncIterator[Api]:
    if migrate:
        command.upgrade(alembic_config(settings.database_url), "head")
    key = await create_key(settings, "tests")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with app.router.lifespan_context(app):
        # Every request carries the key unless a test overrides the header.
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=headers) as client:
            yield Api(app, client, settings, key)


@pytest.fixture
def start(tmp_path: Path) -> Callable[..., Any]:
    """`async with start(**settings) as api:` runs the app on a fresh database."""
    return lambda **overrides: running(settings_for(tmp_path, **overrides))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running(settings_for(tmp_path)) as running_api:
        yield running_api


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with servers.postgres() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with servers.redis() as url:
        yield url


# Servers of one test module's own, for tests that stop and freeze them.
@pytest.fixture(scope="module")
def own_postgres() -> Iterator[tuple[servers.Server, str]]:
    with servers.postgres_server() as server_and_url:
        yield server_and_url


@pytest.fixture(scope="module")
def own_redis() -> Iterator[tuple[servers.Server, str]]:
    with servers.redis_server() as server_and_url:
        yield server_and_url


def healed(server: servers.Server) -> Iterator[servers.Server]:
    """Yields the server, then leaves it running and thawed for the next test."""
    yield server
    server.thaw()
    if server.process is None:
        server.start()
