"""schemathesis against the app's own OpenAPI schema, served by a real uvicorn on
127.0.0.1: no 5xx, and every response conforms to the schema (status, content type, body)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from alembic import command
from hypothesis import HealthCheck, given, settings

from app.__main__ import create_key
from app.db.engine import alembic_config
from app.main import create_app
from tests.app.conftest import settings_for
from tests.servers import free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    # Generous limits, so generated requests explore the API instead of hitting 429s.
    app_settings = settings_for(
        tmp_path_factory.mktemp("schema"),
        rate_limit_default="1000/1000",
        rate_limit_per_ip="1000/1000",
        rate_limits="POST /v1/completions=1000/1000;POST /v2/completions=1000/1000",
    )
    command.upgrade(alembic_config(app_settings.database_url), "head")
    key = asyncio.run(create_key(app_settings, "schemathesis"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/startupz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base, key
    server.should_exit = True
    thread.join(timeout=20)


# The schema as the app publishes it; cases are sent to the running server.
SCHEMA = schemathesis.openapi.from_dict(create_app(settings_for(Path("/unused"))).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_the_api_honours_its_own_schema(operation, served) -> None:
    base, key = served

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def exercise(case) -> None:
        case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

    exercise()


def test_the_schema_documents_every_error_as_problem_json() -> None:
    raw = SCHEMA.raw_schema
    for path in ("/v1/completions", "/v2/completions"):
        responses = raw["paths"][path]["post"]["responses"]
        assert {"400", "401", "413", "415", "422", "429", "502", "503"} <= set(responses)
        assert "application/problem+json" in responses["429"]["content"]
