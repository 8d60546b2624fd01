"""Security headers on every response, errors included, and no server banner."""

from __future__ import annotations

import pytest

from app.middleware.security_headers import HEADERS
from tests.app.conftest import Api

pytestmark = pytest.mark.anyio
EXPECTED = {name.decode(): value.decode() for name, value in HEADERS}


def assert_secured(headers) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, name
    assert "server" not in headers


async def test_success_and_every_kind_of_error_carry_the_headers(start) -> None:
    async with start(rate_limits="GET /v1/models=0.1/1") as api:

        async def boom() -> None:
            raise RuntimeError("a bug")

        api.app.add_api_route("/v1/boom", boom)
        responses = {
            200: await api.client.get("/v1/models"),
            429: await api.client.get("/v1/models"),
            400: await api.client.get("/models"),
            401: await api.client.get("/v1/usage", headers={"Authorization": ""}),
            404: await api.client.get("/v1/nothing-here"),
            415: await api.client.post("/v1/completions", content=b"x", headers={"content-type": "text/plain"}),
            500: await api.client.get("/v1/boom"),
        }
        for status, response in responses.items():
            assert response.status_code == status
            assert_secured(response.headers)
        crash = responses[500].json()
        assert crash["detail"] == "an unexpected error occurred; it has been logged"
        assert "a bug" not in responses[500].text  # no internals leak to the client


async def test_probes_and_metrics_are_secured_too(api: Api) -> None:
    for path in ("/livez", "/readyz", "/metrics"):
        assert_secured((await api.client.get(path)).headers)


async def test_every_response_names_its_request(api: Api) -> None:
    response = await api.client.get("/v1/models", headers={"X-Request-ID": "trace-me-123456"})
    assert response.headers["x-request-id"] == "trace-me-123456"
    generated = (await api.client.get("/v1/models", headers={"X-Request-ID": "bad id!"})).headers["x-request-id"]
    assert len(generated) == 32 and generated != "bad id!"
