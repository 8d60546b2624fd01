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
import re
from dataclasses import dataclass

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import problems
from app.logs import log
from app.metrics import BLOCKED_REQUESTS
from app.problems import MAX_ERRORS
from app.screening import screen, strings_in
from app.settings import Settings

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# Inputs above this size are parsed and screened off the event loop.
OFFLOAD_ABOVE_BYTES = 16 * 1024


# A field name in an error, at most this long.
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # the blocked_requests_total label
    detail: str
    errors: list[dict[str, str]] | None = None
    # Found by screening: refused only in block mode, logged in log mode.
    screened: bool = False


TOO_DEEP = Refusal(400, "nesting", "the JSON body is nested too deeply")


def query_text(query: bytes) -> str:
    """The query decoded, a parameter a line, twice: once whole (`a=x' OR '1'='1`), once
    with every `=` a line break too, so a value starts a line as `^` expects (`cmd=rm
    -rf /`).

    All in C, whatever the query holds: parse_qsl and unquote loop in Python per pair and
    per escape, 100 times slower on a query of nothing but `&` or `%ZZ`. Percent-escapes
    are decoded as quoted-printable (`%27` is written `=27`, a literal `=` as `=3D`, and a
    `%` that starts no escape as `=25`, so it cannot join two lines as a soft break)."""
    lines = query.replace(b"&", b"\n").replace(b"+", b" ")
    both = lines + b"\n" + lines.replace(b"=", b"\n")
    quoted = _LONE_PERCENT.sub(b"=25", both.replace(b"=", b"=3D")).replace(b"%", b"=")
    return binascii.a2b_qp(quoted).decode("utf-8", "replace")


# A `%` not followed by two hex digits. Linear: one fixed-width look-ahead per `%`.
_LONE_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _unknown_fields(document: object, fields: frozenset[str]) -> Refusal | None:
    """Fields the request model refuses, named before the model sees them: validating
    tens of thousands of unknown keys would hold the event loop for a third of a second."""
    if not isinstance(document, dict):
        return None
    unknown = [key for key in document if key not in fields]
    if not unknown:
        return None
    errors = [
        {"location": f"body.{key[:MAX_NAME_CHARS]}", "message": "Extra inputs are not permitted"}
        for key in unknown[:MAX_ERRORS]
    ]
    return Refusal(422, "unknown_fields", "the request does not match the schema", errors)


def inspect(query: bytes, body: bytes | None, fields: frozenset[str] | None, screening: bool) -> Refusal | None:
    """Why a request is refused before it is routed, or None. One parse of the body
    serves the field check and the screening."""
    document: object = None
    if body is not None:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            document = None  # not JSON: the route answers 400
        except RecursionError:
            return TOO_DEEP
    if fields is not None and (refusal := _unknown_fields(document, fields)):
        return refusal
    if not screening:
        return None
    try:
        reason = screen([query_text(query), *strings_in(document)])
    except RecursionError:
        return TOO_DEEP
    if reason is None:
        return None
    return Refusal(400, reason, f"the request looks like {reason.replace('_', ' ')}", screened=True)


class BodyGuard:
    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        body_routes: dict[tuple[str, str], frozenset[str] | None],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.max_bytes = max_body_bytes
        self.mode = settings.screening_mode
        # (method, path) of the routes that read a JSON body, with the fields their
        # request model allows (None: any).
        self.body_routes = body_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        raw_query = scope.get("query_string", b"")
        route = (scope["method"], path)
        body: bytes | None = None
        if route in self.body_routes:
            body = await self._read_body(scope, receive, send, path)
            if body is None:
                return  # refused, or the client went away
        screening = self.mode != "off" and bool(raw_query or body)
        if body is not None or screening:
            arguments = (raw_query, body, self.body_routes.get(route), screening)
            if len(raw_query) + len(body or b"") > OFFLOAD_ABOVE_BYTES:
                refusal = await anyio.to_thread.run_sync(inspect, *arguments)
            else:
                refusal = inspect(*arguments)
            if refusal is not None and (not refusal.screened or self.mode == "block"):
                await self._refuse(send, refusal, path)
                return
            if refusal is not None:
                log.warning("screening flagged a request (log-only mode)", reason=refusal.reason, path=path)

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
            await self._refuse(send, Refusal(415, "content_type", "expected Content-Type: application/json"), path)
            return None
        too_large = Refusal(413, "body_too_large", f"body over {self.max_bytes} bytes")
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, too_large, path)
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, too_large, path)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(send: Send, refusal: Refusal, path: str) -> None:
        BLOCKED_REQUESTS.labels(refusal.reason).inc()
        extra = {"errors": refusal.errors} if refusal.errors else {}
        await problems.send_problem(send, refusal.status, refusal.detail, path, **extra)
