"""Prometheus's HTTP API as ops commands read it: instant queries answered as vectors,
one timeout per call, and errors that say what failed without ever showing a password
the address may carry. The canary judge (ops/canary/) and the chaos steady-state guard
(ops/chaos/guard.py) both read it through this client."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ops.steps import OpsError

# A namespace name, whole: a label value that cannot change the query it sits in.
NAMESPACE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class Prometheus:
    def __init__(self, address: str, timeout_seconds: float = 10.0, transport: Any = None) -> None:
        import httpx

        self.address = address.rstrip("/")
        # What messages show: never a user:password in the address.
        parts = urlsplit(self.address)
        self.shown = urlunsplit(parts._replace(netloc=parts.hostname or "")) if parts.password else self.address
        self.client = httpx.Client(timeout=timeout_seconds, transport=transport)

    def close(self) -> None:
        self.client.close()

    def vector(self, query: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's series (Prometheus's now, or `at`): each a `metric` (its
        labels) and a `value` ([time, "number"])."""
        params = {"query": query, **({"time": f"{at:.3f}"} if at is not None else {})}
        return self._series("query", params, "vector")

    def matrix(self, query: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        """A range query's series: each a `metric` and its `values` ([[time, "number"], ...])."""
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
        return self._series("query_range", params, "matrix")

    def _series(self, endpoint: str, params: dict[str, str], kind: str) -> list[dict[str, Any]]:
        import httpx

        try:
            response = self.client.get(f"{self.address}/api/v1/{endpoint}", params=params)
        except httpx.HTTPError as error:
            raise OpsError(f"Prometheus at {self.shown} did not answer: {type(error).__name__}") from error
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):  # JSON, but not Prometheus's envelope
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            raise OpsError(f"Prometheus refused the query ({response.status_code}): {body.get('error', 'no JSON')}")
        data = body.get("data")
        if not isinstance(data, dict) or data.get("resultType") != kind:
            answered = data.get("resultType") if isinstance(data, dict) else None
            raise OpsError(f"Prometheus answered a {answered!r}, not a {kind}")
        result = data.get("result", [])
        if not isinstance(result, list) or not all(isinstance(item, dict) for item in result):
            raise OpsError(f"Prometheus answered a {kind} that is not a list of series")
        return result
