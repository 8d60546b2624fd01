"""The OpenAI-compatible upstream, usage records, and the per-key summaries."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.app.conftest import Api

pytestmark = pytest.mark.anyio


def fake_upstream(seen: list[httpx.Request], status: int = 200, body: object = None) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        payload = (
            body
            if body is not None
            else {
                "choices": [{"text": "forty-two", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 1},
            }
        )
        return httpx.Response(status, json=payload)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_completions_are_forwarded_with_the_upstream_token(start) -> None:
    async with start(upstream_url="http://upstream.test", upstream_token="upstream-secret", models="gpt-x") as api:
        seen: list[httpx.Request] = []
        api.services.upstream.client = fake_upstream(seen)
        response = await api.client.post("/v1/completions", json={"model": "gpt-x", "prompt": "the answer?"})
        assert response.status_code == 200
        assert response.json()["choices"][0]["text"] == "forty-two"
        assert response.json()["usage"] == {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}
        (request,) = seen
        assert str(request.url) == "http://upstream.test/v1/completions"
        assert request.headers["authorization"] == "Bearer upstream-secret"
        assert json.loads(request.content) == {
            "model": "gpt-x",
            "prompt": "the answer?",
            "max_tokens": 256,
            "temperature": 1.0,
        }


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (500, {"error": "x"}, "upstream answered 500"),
        # A wrong token or URL is ours to fix, not the client's.
        (401, {"error": "x"}, "upstream answered 401"),
        (404, {"error": "x"}, "upstream answered 404"),
        (429, {"error": "x"}, "upstream answered 429"),
        (200, {"unexpected": True}, "upstream answered with an unexpected body"),
    ],
)
async def test_upstream_failures_are_502s(start, status: int, body: object, detail: str) -> None:
    async with start(upstream_url="http://upstream.test") as api:
        api.services.upstream.client = fake_upstream([], status, body)
        response = await api.complete()
        assert response.status_code == 502 and response.json()["detail"] == detail


@pytest.mark.parametrize("status", [400, 409, 413, 422])
async def test_an_upstream_refusing_the_request_is_a_client_error_of_its_own_type(start, status: int) -> None:
    async with start(upstream_url="http://upstream.test") as api:
        api.services.upstream.client = fake_upstream([], status, {"error": "context too long"})
        response = await api.complete()
        assert response.status_code == 422
        assert response.json() == {
            "type": "https://api.project-ai.dev/problems/upstream-rejected",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": f"the model refused the request ({status})",
            "instance": "/v1/completions",
            "upstream_status": status,
        }
        usage = (await api.client.get("/v1/usage")).json()
        assert usage["requests"] == 0  # the reservation was released: nothing served, nothing billed


async def test_usage_is_recorded_and_aggregated_per_key(api: Api) -> None:
    await api.complete("one two three", max_tokens=2)
    await api.complete("four five", version="v2")
    usage = (await api.client.get("/v1/usage")).json()
    assert usage["requests"] == 2
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (5, 4)
    assert usage["by_model"] == [{"model": "echo-1", "requests": 2, "prompt_tokens": 5, "completion_tokens": 4}]
    summary = (await api.client.get("/v1/metrics/summary")).json()
    assert [w["window_seconds"] for w in summary["windows"]] == [300, 3600, 86400]
    assert summary["windows"][0]["requests"] == 2 and summary["windows"][0]["tokens"] == 9
    assert summary["last_request_at"].endswith(("Z", "+00:00"))


async def test_usage_is_private_to_each_key(api: Api) -> None:
    from app.__main__ import create_key

    await api.complete()
    other = await create_key(api.settings, "other-team")
    usage = (await api.client.get("/v1/usage", headers=api.auth(other))).json()
    assert usage["requests"] == 0
