"""Schemathesis against the app's own OpenAPI schema, served by a real uvicorn on
127.0.0.1, as its CLI runs it with `--checks all`: no 5xx; status, content type, headers
and body as documented; schema-valid requests accepted and invalid ones refused; auth
declared and enforced; unsupported methods refused."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from alembic import command

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


SCHEMATHESIS = Path(sys.executable).parent / "st"
# A fixed seed: the same cases on every run, so CI does not depend on luck.
EXAMPLES, SEED = 100, 20261130
SCHEMA = create_app(settings_for(Path("/unused"))).openapi()


def test_schemathesis_with_every_check_finds_nothing(served, tmp_path: Path) -> None:
    base, key = served
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{base}/openapi.json",
        *("--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED)),
        *("--header", f"Authorization: Bearer {key}"),
    ]
    # Its working folder gets the CLI's own cache: a temporary one, not the repository.
    environment = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated and generated.group(1) == generated.group(2), result.stdout[-2000:]
    assert int(generated.group(1)) >= 6 * EXAMPLES  # every operation, in earnest


def test_the_schema_declares_how_to_authenticate_and_which_models_exist() -> None:
    assert set(SCHEMA["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    for path, methods in SCHEMA["paths"].items():
        for operation in methods.values():
            # Every route takes a key, but the edge's health check.
            expected = None if path == "/v1/health" else [{"HTTPBearer": []}, {"APIKeyHeader": []}]
            assert operation.get("security") == expected, path
    assert SCHEMA["components"]["schemas"]["CompletionRequest"]["properties"]["model"]["enum"] == ["echo-1"]


def test_the_schema_documents_every_error_as_problem_json() -> None:
    for path in ("/v1/completions", "/v2/completions"):
        responses = SCHEMA["paths"][path]["post"]["responses"]
        assert {"400", "401", "413", "415", "422", "429", "502", "503"} <= set(responses)
        assert "application/problem+json" in responses["429"]["content"]
