"""API versions from the URL, the API-Version header or the api-version query."""

from __future__ import annotations

import pytest

from tests.app.conftest import Api

pytestmark = pytest.mark.anyio


async def test_url_prefix_selects_the_version(api: Api) -> None:
    v1 = await api.client.get("/v1/models")
    v2 = await api.client.get("/v2/models")
    assert v1.json() == {"object": "list", "data": [{"id": "echo-1", "object": "model"}]}
    assert v2.json() == {"models": ["echo-1"]}
    assert v1.headers["api-version"] == "v1" and "api-version-status" not in v1.headers
    assert v2.headers["api-version-status"] == "beta"


@pytest.mark.parametrize(("headers", "query"), [({"API-Version": "v2"}, ""), ({}, "?api-version=v2")])
async def test_header_or_query_routes_an_unprefixed_path(api: Api, headers: dict, query: str) -> None:
    response = await api.client.get(f"/models{query}", headers=headers)
    assert response.status_code == 200 and response.json() == {"models": ["echo-1"]}


async def test_the_same_version_twice_is_fine(api: Api) -> None:
    response = await api.client.get("/v1/models?api-version=v1", headers={"API-Version": "v1"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "headers", "detail"),
    [
        ("/v1/models", {"API-Version": "v2"}, "conflicting API versions: v1, v2"),
        ("/v2/models?api-version=v1", {}, "conflicting API versions: v1, v2"),
        ("/v9/models", {}, "unknown API version 'v9'; known versions: v1, v2"),
        ("/models", {"API-Version": "2024-01-01"}, "unknown API version '2024-01-01'"),
        ("/models", {}, "no API version: use a /v1/ prefix"),
        ("/models?api-version=v1&api-version=v2", {}, "conflicting API versions: v1, v2"),
    ],
)
async def test_bad_versions_are_problem_400s(api: Api, path: str, headers: dict, detail: str) -> None:
    response = await api.client.get(path, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert problem["detail"].startswith(detail)


async def test_deprecated_versions_carry_deprecation_sunset_and_link(start) -> None:
    async with start(
        deprecated_versions="v1",
        beta_versions="",
        deprecation_date="@1798761600",
        sunset_date="Sat, 01 Jan 2028 00:00:00 GMT",
        deprecation_link="https://docs.project-ai.dev/migrate-to-v2",
    ) as api:
        response = await api.client.get("/v1/models")
        assert response.headers["deprecation"] == "@1798761600"
        assert response.headers["sunset"] == "Sat, 01 Jan 2028 00:00:00 GMT"
        assert (
            response.headers["link"]
            == '<https://docs.project-ai.dev/migrate-to-v2>; rel="deprecation"; type="text/html"'
        )
        assert response.headers["api-version-status"] == "deprecated"
        assert "deprecation" not in (await api.client.get("/v2/models")).headers


async def test_v2_completion_has_its_own_shape(api: Api) -> None:
    v1 = (await api.complete("one two three", max_tokens=2)).json()
    v2 = (await api.complete("one two three", version="v2", max_tokens=2)).json()
    assert v1["choices"] == [{"index": 0, "text": "one two", "finish_reason": "length"}]
    assert v1["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert v2["output"] == {"text": "one two", "finish_reason": "length"}
    assert v2["usage"] == {"input_tokens": 3, "output_tokens": 2}
    assert "choices" not in v2


async def test_two_version_headers_that_disagree_are_a_conflict(api: Api) -> None:
    response = await api.client.get("/models", headers=[("API-Version", "v1"), ("API-Version", "v2")])
    assert response.status_code == 400


def test_a_deprecated_version_needs_a_deprecation_date() -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="APP_DEPRECATED_VERSIONS needs APP_DEPRECATION_DATE"):
        Settings(environment="test", deprecated_versions="v1")
