"""Request bodies and query strings: JSON only, bounded in size, screened for injection.

Only routes that take a body have one read: a POST to a GET route goes on to the router
and gets its 405. Size and content type are checked before the body is read
(Content-Length) and while it is read (a lying or absent length cannot stream past the
limit). The body limit comes from the request schema (`MAX_BODY_BYTES`), so a request
the schema accepts is never a 413. Screening is a second line behind the strict request
models; `APP_SCREENING_MODE=log` only logs. Large inputs are parsed and screened on a
worker thread, so one request cannot hold the event loop (and /livez) for its length.
"""

from __future__ import annotations

import binascii
import json

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import problems
from app.logs import log
from app.metrics import BLOCKED_REQUESTS
from app.screening import screen, strings_in
from app.settings import Settings

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# A query string longer than this is refused (414) before anything reads it.
MAX_QUERY_BYTES = 8 * 1024
# Inputs above this size are parsed and screened off the event loop.
OFFLOAD_ABOVE_BYTES = 16 * 1024


class TooDeep(Exception):
    """The JSON body nests deeper than the parser's recursion allows."""


def query_text(query: bytes) -> str:
    """The query decoded, a parameter a line, twice: once whole (`a=x' OR '1'='1`), once
    with every `=` a line break too, so a value starts a line as `^` expects (`cmd=rm
    -rf /`).

    All in C, whatever the query holds: parse_qsl and unquote loop in Python per pair and
    per escape, 100 times slower on a query of nothing but `&` or `%ZZ`. Percent-escapes
    are decoded as quoted-printable (`%27` is written `=27`, a literal `=` as `=3D`);
    they differ only on malformed escapes, which stay in the text as `=ZZ`."""
    lines = query.replace(b"&", b"\n").replace(b"+", b" ")
    both = lines + b"\n" + lines.replace(b"=", b"\n")
    return binascii.a2b_qp(both.replace(b"=", b"=3D").replace(b"%", b"=")).decode("utf-8", "replace")


def texts_of(query: bytes, body: bytes | None) -> list[str]:
    """Every string a request carries: query names and values, JSON keys and values."""
    texts = [query_text(query)]
    if body is not None:
        try:
            texts.extend(strings_in(json.loads(body)))
        except (ValueError, UnicodeDecodeError):
            pass  # not JSON: the request model reports it
        except RecursionError as error:
            raise TooDeep from error
    return texts


def inspect(query: bytes, body: bytes | None) -> str | None:
    """The injection a request looks like, or None."""
    return screen(texts_of(query, body))


class BodyGuard:
    def __init__(
        self, app: ASGIApp, settings: Settings, body_routes: frozenset[tuple[str, str]], max_body_bytes: int
    ) -> None:
        self.app = app
        self.max_bytes = max_body_bytes
        self.mode = settings.screening_mode
        # (method, path) of the routes that read a JSON body.
        self.body_routes = body_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        raw_query = scope.get("query_string", b"")
        if len(raw_query) > MAX_QUERY_BYTES:
            await self._refuse(send, 414, "query_too_long", f"query string over {MAX_QUERY_BYTES} bytes", path)
            return
        body: bytes | None = None
        if (scope["method"], path) in self.body_routes:
            body = await self._read_body(scope, receive, send, path)
            if body is None:
                return  # refused, or the client went away
        if self.mode != "off" and (raw_query or body):
            size = len(raw_query) + len(body or b"")
            try:
                if size > OFFLOAD_ABOVE_BYTES:
                    reason = await anyio.to_thread.run_sync(inspect, raw_query, body)
                else:
                    reason = inspect(raw_query, body)
            except TooDeep:
                await self._refuse(send, 400, "nesting", "the JSON body is nested too deeply", path)
                return
            if reason:
                if self.mode == "block":
                    await self._refuse(send, 400, reason, f"the request looks like {reason.replace('_', ' ')}", path)
                    return
                log.warning("screening flagged a request (log-only mode)", reason=reason, path=path)

        if body is None:
            await self.app(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send, path: str) -> bytes | None:
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type != b"application/json":
            await self._refuse(send, 415, "content_type", "expected Content-Type: application/json", path)
            return None
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, "body_too_large", f"body over {self.max_bytes} bytes", path)
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, "body_too_large", f"body over {self.max_bytes} bytes", path)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(send: Send, status: int, reason: str, detail: str, path: str) -> None:
        BLOCKED_REQUESTS.labels(reason).inc()
        await problems.send_problem(send, status, detail, path)
