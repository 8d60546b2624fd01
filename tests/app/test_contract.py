"""The HTTP contract at its edges: methods, unknown paths, redirects, malformed and
loosely typed bodies, the body limit against the schema, and settings that cannot work."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from app.api.schemas import MAX_BODY_BYTES, CompletionRequest, max_json_bytes
from app.settings import Settings
from tests.app.conftest import Api

pytestmark = pytest.mark.anyio


async def test_head_answers_every_get_route_with_headers_and_no_body(api: Api) -> None:
    for path in ("/v1/models", "/v2/models", "/v1/usage", "/openapi.json"):
        get, head = await api.client.get(path), await api.client.head(path)
        assert head.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/models"), ("DELETE", "/v1/completions"), ("PUT", "/v1/usage")]
)
async def test_a_wrong_method_is_405_even_with_a_body_of_any_type(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path, content=b"x=1", headers={"content-type": "text/plain"})
    assert response.status_code == 405 and response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/nope", "/admin", "/.env", "/v1", "/completions/x"])
async def test_an_unversioned_unknown_path_is_404(api: Api, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 404 and response.json()["status"] == 404


async def test_an_unversioned_known_path_without_a_version_is_still_400(api: Api) -> None:
    response = await api.client.get("/models")
    assert response.status_code == 400 and response.json()["detail"].startswith("no API version")


async def test_a_trailing_slash_is_404_and_never_a_redirect_built_from_host(api: Api) -> None:
    response = await api.client.get("/v1/models/", headers={"host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers


@pytest.mark.parametrize("body", [b"{", b'{"model": "echo-1", "prompt": "x",}', b"\xff\xfe", b'{"a":1}{"b":2}'])
async def test_malformed_json_is_400_not_422(api: Api, body: bytes) -> None:
    response = await api.client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["detail"] == "the body is not valid JSON"


@pytest.mark.parametrize(
    "extra",
    [{"max_tokens": "10"}, {"max_tokens": True}, {"max_tokens": 10.5}, {"temperature": True}, {"temperature": "1"}],
)
async def test_loosely_typed_values_are_refused(api: Api, extra: dict) -> None:
    assert (await api.complete(**extra)).status_code == 422


async def test_a_whole_number_written_as_a_float_is_an_integer_as_json_schema_says(api: Api) -> None:
    response = await api.complete("a b c d", max_tokens=2.0)
    assert response.status_code == 200 and response.json()["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize("character", ["\U0001f600", "\u0000", "\u001f", "é"])
async def test_the_longest_valid_prompt_in_the_widest_characters_is_never_413(api: Api, character: str) -> None:
    prompt = character * 32_000
    body = json.dumps({"model": "echo-1", "prompt": prompt, "max_tokens": 4096, "temperature": 0.1})
    assert len(body) > 60_000  # near or past the old fixed limit of 64 KiB
    response = await api.client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code != 413


# Characters JSON writes at their widest: a surrogate pair, a control escape, escapes.
WIDE = ["\U0001f600", "\u0001", "a", '"', "\\", "é"]


@settings(max_examples=50, deadline=None)
@given(
    prompt=st.text(
        alphabet=st.sampled_from(["\U0001f600", "\u0001", "a", '"', "\\", "é"]), min_size=1, max_size=32_000
    ),
    model=st.from_regex(r"^[A-Za-z0-9._:/-]{1,100}$", fullmatch=True),
    max_tokens=st.integers(min_value=1, max_value=4096),
    temperature=st.floats(min_value=0, max_value=2),
)
def test_every_schema_valid_request_fits_the_body_limit(prompt, model, max_tokens, temperature) -> None:
    request = CompletionRequest(model=model, prompt=prompt, max_tokens=max_tokens, temperature=temperature)
    assert len(json.dumps(request.model_dump()).encode()) <= MAX_BODY_BYTES
    assert len(request.model_dump_json().encode()) <= MAX_BODY_BYTES


def test_a_request_field_without_a_length_bound_cannot_get_a_body_limit() -> None:
    class Unbounded(BaseModel):
        note: str = Field(min_length=1)

    with pytest.raises(TypeError, match=r"Unbounded\.note has no max_length"):
        max_json_bytes(Unbounded)


def test_an_upstream_timeout_that_outlasts_the_shutdown_grace_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"APP_UPSTREAM_TIMEOUT_SECONDS \(30\) must be below APP_SHUTDOWN_GRACE"):
        Settings(upstream_timeout_seconds=30, shutdown_grace_seconds=20)
    assert Settings(upstream_timeout_seconds=19, shutdown_grace_seconds=20).upstream_timeout_seconds == 19


async def test_an_upstream_that_drips_its_answer_is_cut_off_at_the_whole_call_timeout(start) -> None:
    import asyncio

    import httpx

    async def drip(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)  # the fault: an upstream far slower than the timeout
        return httpx.Response(200, json={})

    async with start(upstream_url="http://upstream.test", upstream_timeout_seconds=0.3) as api:
        api.services.upstream.client = httpx.AsyncClient(transport=httpx.MockTransport(drip))
        response = await asyncio.wait_for(api.complete(), 10)
        assert response.status_code == 502 and response.json()["detail"] == "upstream did not answer within 0.3 s"


async def test_a_lone_surrogate_escape_is_a_client_error_not_a_500(api: Api) -> None:
    body = b'{"model": "echo-1", "prompt": "hi \\ud800 there"}'
    response = await api.client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422) or response.status_code == 200, response.text
    assert response.status_code < 500


async def test_thirty_thousand_unknown_fields_get_a_short_422_before_validation(api: Api) -> None:
    fields = {f"f{index}": 0 for index in range(30_000)}
    body = json.dumps({"model": "echo-1", "prompt": "x", **fields})
    assert len(body) <= MAX_BODY_BYTES
    response = await api.client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and len(response.content) < 4096
    assert response.json()["errors"][:2] == [
        {"location": "body.f0", "message": "Extra inputs are not permitted"},
        {"location": "body.f1", "message": "Extra inputs are not permitted"},
    ]
    assert len(response.json()["errors"]) == 10


async def test_head_requests_are_counted_under_their_route(api: Api) -> None:
    await api.client.head("/v1/models")
    metrics = (await api.client.get("/metrics")).text
    assert 'http_requests_total{method="HEAD",route="/v1/models",status="200"}' in metrics
