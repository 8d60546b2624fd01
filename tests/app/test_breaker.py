"""The circuit breaker: opens on repeated failures, probes half-open, closes on success."""

from __future__ import annotations

import pytest

from app.breaker import BreakerOpen, CircuitBreaker, State
from app.metrics import BREAKER_STATE
from tests.servers import free_port

pytestmark = pytest.mark.anyio


async def fail() -> None:
    raise ConnectionError("down")


async def succeed() -> str:
    return "ok"


async def test_opens_after_the_threshold_then_fails_fast() -> None:
    now = [100.0]
    breaker = CircuitBreaker("test-open", failure_threshold=3, reset_seconds=30, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    assert breaker.state == State.OPEN
    assert BREAKER_STATE.labels("test-open")._value.get() == State.OPEN
    now[0] += 10
    with pytest.raises(BreakerOpen) as caught:
        await breaker.call(succeed)
    assert caught.value.retry_after == pytest.approx(20)


async def test_half_open_probe_closes_on_success_and_reopens_on_failure() -> None:
    now = [0.0]
    breaker = CircuitBreaker("test-probe", failure_threshold=1, reset_seconds=5, clock=lambda: now[0])
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    now[0] = 6
    with pytest.raises(ConnectionError):
        await breaker.call(fail)  # the probe fails: open again, with a fresh timer
    assert breaker.state == State.OPEN and breaker.opened_at == 6
    now[0] = 12
    assert await breaker.call(succeed) == "ok"
    assert breaker.state == State.CLOSED and breaker.failures == 0


async def test_successes_reset_the_failure_count() -> None:
    breaker = CircuitBreaker("test-reset", failure_threshold=2, reset_seconds=5)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    await breaker.call(succeed)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    assert breaker.state == State.CLOSED


async def test_the_api_answers_502_then_503_with_retry_after_while_open(start) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with start(upstream_url=dead, breaker_failure_threshold=2, breaker_reset_seconds=60) as api:
        first = [await api.complete() for _ in range(2)]
        assert [r.status_code for r in first] == [502, 502]
        assert first[0].json()["detail"] == "upstream unreachable: ConnectError"
        fast = await api.complete()
        assert fast.status_code == 503
        assert 55 <= int(fast.headers["retry-after"]) <= 60
        assert fast.json()["detail"] == "the inference upstream is unavailable; retry later"


async def test_an_upstream_that_refuses_a_request_is_not_down(start) -> None:
    import httpx

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "bad prompt"})

    async with start(upstream_url="http://upstream.test", breaker_failure_threshold=2) as api:
        api.services.upstream.client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
        responses = [await api.complete() for _ in range(4)]
        # The client's to fix: a 422 of its own type, not a 502 against the SLO.
        assert [response.status_code for response in responses] == [422, 422, 422, 422]
        assert {response.json()["type"] for response in responses} == {
            "https://api.project-ai.dev/problems/upstream-rejected"
        }
        assert api.services.upstream.breaker.state == State.CLOSED


async def test_refusing_early_changes_nothing() -> None:
    now = [0.0]
    breaker = CircuitBreaker("test-refuse", failure_threshold=1, reset_seconds=5, clock=lambda: now[0])
    breaker.refuse_if_open()  # closed: nothing to refuse
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    with pytest.raises(BreakerOpen):
        breaker.refuse_if_open()
    now[0] = 5
    # Due a probe: not refused, but the probe is the call's to make, so still open.
    breaker.refuse_if_open()
    assert breaker.state == State.OPEN


async def test_an_open_breaker_refuses_before_a_usage_row_is_written(start, monkeypatch) -> None:
    from app.db import usage

    reserved: list[object] = []
    reserve = usage.reserve

    async def counted(*args: object, **kwargs: object) -> object:
        reserved.append(args)
        return await reserve(*args, **kwargs)

    monkeypatch.setattr(usage, "reserve", counted)
    dead = f"http://127.0.0.1:{free_port()}"
    async with start(upstream_url=dead, breaker_failure_threshold=2, breaker_reset_seconds=60) as api:
        assert [(await api.complete()).status_code for _ in range(2)] == [502, 502]
        assert len(reserved) == 2
        refused = await api.complete()
        # Refused as before (503, Retry-After), and the database never asked.
        assert refused.status_code == 503 and "retry-after" in refused.headers
        assert len(reserved) == 2
