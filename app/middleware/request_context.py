"""Request id, access log, metrics by route template, and the last line of error handling."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import problems
from app.logs import log
from app.metrics import IN_FLIGHT, LATENCY, REQUESTS

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
UNROUTED = "unrouted"
CLIENT_CLOSED = 499  # nginx's code for a client that closed the connection first


class RequestContext:
    def __init__(self, app: ASGIApp, quiet_paths: frozenset[str]) -> None:
        self.app = app
        # Probes and scrapes: logged at debug, so they do not drown the access log.
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if REQUEST_ID.match(offered) else uuid.uuid4().hex
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        started = time.perf_counter()
        IN_FLIGHT.inc()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
                if not started_response:
                    status = CLIENT_CLOSED  # the client went away before any answer
            except Exception:  # noqa: BLE001 - the last line of defence, logged
                # Nothing below answered: log with the request id, answer 500 (through
                # the security headers, which sit outside this middleware).
                log.exception("unhandled error", path=scope["path"])
                if not started_response:
                    await problems.send_problem(
                        send_with_id, 500, "an unexpected error occurred; it has been logged", scope["path"]
                    )
            finally:
                IN_FLIGHT.dec()
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", UNROUTED)
                REQUESTS.labels(route, scope["method"], str(status)).inc()
                LATENCY.labels(route, scope["method"]).observe(elapsed)
                emit = log.debug if scope["path"] in self.quiet_paths else log.info
                emit("request", method=scope["method"], route=route, status=status, ms=round(elapsed * 1000, 1))
