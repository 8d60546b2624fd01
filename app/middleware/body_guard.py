"""Request bodies: JSON only, bounded in size, screened for injection patterns.

Size and content type are checked before the body is read (Content-Length) and while
it is read (a lying or absent length cannot stream past the limit). The screening is
a second line behind the strict request models; `APP_SCREENING_MODE=log` only logs.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import problems
from app.logs import log
from app.metrics import BLOCKED_REQUESTS
from app.screening import screen, strings_in
from app.settings import Settings

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class BodyGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_body_bytes
        self.mode = settings.screening_mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        texts = [text for pair in parse_qsl(query, keep_blank_values=True) for text in pair]
        body = b""
        if scope["method"] in WITH_BODY:
            headers = dict(scope["headers"])
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media_type != b"application/json":
                await self._refuse(send, 415, "content_type", "expected Content-Type: application/json", path)
                return
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                await self._refuse(send, 413, "body_too_large", f"body over {self.max_bytes} bytes", path)
                return
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await self._refuse(send, 413, "body_too_large", f"body over {self.max_bytes} bytes", path)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            try:
                texts.extend(strings_in(json.loads(body)))
            except (ValueError, UnicodeDecodeError):
                pass  # not JSON: the request model reports it
            except RecursionError:
                await self._refuse(send, 400, "nesting", "the JSON body is nested too deeply", path)
                return
        if self.mode != "off" and (reason := screen(texts)):
            if self.mode == "block":
                await self._refuse(send, 400, reason, f"the request looks like {reason.replace('_', ' ')}", path)
                return
            log.warning("screening flagged a request (log-only mode)", reason=reason, path=path)

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed and scope["method"] in WITH_BODY:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, status: int, reason: str, detail: str, path: str) -> None:
        BLOCKED_REQUESTS.labels(reason).inc()
        await problems.send_problem(send, status, detail, path)
