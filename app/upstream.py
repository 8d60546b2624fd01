"""The inference upstream: an OpenAI-compatible HTTP API, or a built-in echo model."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from app.breaker import CircuitBreaker
from app.metrics import UPSTREAM_LATENCY
from app.secret_files import Credentials
from app.settings import Settings


class UpstreamError(Exception):
    """The upstream failed or answered with something we cannot use."""


class UpstreamRejected(UpstreamError):
    """The upstream is up and refused this request (a 4xx about the request itself): the
    client's to fix, and no reason to open the breaker."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the model refused the request ({status})")
        self.status = status


# Upstream answers that are our fault, not the client's: a wrong token or a wrong URL.
OUR_FAULT = frozenset({401, 403, 404, 405, 407})


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def count_tokens(text: str) -> int:
    # A whitespace count: the echo model's unit, and a stand-in when the upstream says none.
    return len(text.split())


class Upstream:
    def __init__(
        self, settings: Settings, client: httpx.AsyncClient, breaker: CircuitBreaker, credentials: Credentials
    ) -> None:
        self.settings = settings
        self.client = client
        self.breaker = breaker
        self.credentials = credentials

    def refuse_if_open(self) -> None:
        """Raises BreakerOpen while the breaker would refuse the call: before work that
        only a call would justify (a usage reservation)."""
        self.breaker.refuse_if_open()

    async def complete(self, model: str, prompt: str, max_tokens: int, temperature: float) -> Completion:
        started = time.perf_counter()
        outcome = "error"
        try:
            completion = await self.breaker.call(lambda: self._request(model, prompt, max_tokens, temperature))
            outcome = "ok"
            return completion  # type: ignore[return-value]
        finally:
            UPSTREAM_LATENCY.labels(outcome).observe(time.perf_counter() - started)

    async def _request(self, model: str, prompt: str, max_tokens: int, temperature: float) -> Completion:
        if self.settings.upstream_url == "echo":
            words = prompt.split()[:max_tokens]
            finish = "length" if len(prompt.split()) > max_tokens else "stop"
            return Completion(" ".join(words), finish, count_tokens(prompt), len(words))
        headers = {}
        if self.credentials.upstream_token is not None:
            headers["Authorization"] = f"Bearer {self.credentials.upstream_token}"
        body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": temperature}
        try:
            # httpx bounds each read; this bounds the whole call, so an upstream that
            # drips its answer still ends before the shutdown grace.
            async with asyncio.timeout(self.settings.upstream_timeout_seconds):
                response = await self.client.post(
                    f"{str(self.settings.upstream_url).rstrip('/')}/v1/completions", json=body, headers=headers
                )
        except TimeoutError as error:
            limit = self.settings.upstream_timeout_seconds
            raise UpstreamError(f"upstream did not answer within {limit:g} s") from error
        except httpx.HTTPError as error:
            raise UpstreamError(f"upstream unreachable: {type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code in {408, 429} | OUR_FAULT:
            raise UpstreamError(f"upstream answered {response.status_code}")
        if response.status_code >= 400:
            raise UpstreamRejected(response.status_code)
        try:
            data = response.json()
            choice = data["choices"][0]
            usage = data.get("usage") or {}
            return Completion(
                text=str(choice["text"]),
                finish_reason=str(choice.get("finish_reason") or "stop"),
                prompt_tokens=int(usage.get("prompt_tokens", count_tokens(prompt))),
                completion_tokens=int(usage.get("completion_tokens", count_tokens(str(choice["text"])))),
            )
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise UpstreamError("upstream answered with an unexpected body") from error


def http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds)
    return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
