"""What a client may send before anything parses its request: a query of at most 8 KiB
(414) and, per client address, the per-IP rate limit (429). First after versioning, so a
client over its limit costs no body read, no JSON parse and no key check."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app import problems
from app.client_address import client_address
from app.metrics import BLOCKED_REQUESTS
from app.ratelimit import refusal_headers

# A query string longer than this is refused before anything reads it.
MAX_QUERY_BYTES = 8 * 1024


class ClientLimits:
    def __init__(self, app: ASGIApp, exempt: frozenset[str]) -> None:
        self.app = app
        # Probes, metrics and the schema: in-cluster only, never limited.
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            BLOCKED_REQUESTS.labels("query_too_long").inc()
            await problems.send_problem(send, 414, f"query string over {MAX_QUERY_BYTES} bytes", path)
            return
        services = scope["app"].state.services
        settings = services.settings
        peer = scope["client"][0] if scope.get("client") else None
        forwarded = Headers(scope=scope).get("x-forwarded-for")
        address = client_address(peer, forwarded, settings.trusted_proxies)
        decision = await services.limiter.check("ip", address, "*", settings.rate_limit_per_ip)
        if not decision.allowed:
            detail = f"rate limit of {decision.limit} requests exceeded for this ip"
            await problems.send_problem(send, 429, detail, path, headers=refusal_headers(decision))
            return
        await self.app(scope, receive, send)
