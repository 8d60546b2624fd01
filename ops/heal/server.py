"""`ops heal serve`: the webhook Alertmanager posts to, and the approval endpoint.

    POST /v1/alerts          Alertmanager's payload (version 4); Bearer: the webhook token
    POST /v1/approvals/ID    releases a decision held for a human; Bearer: the approval token
    GET  /healthz            the kubelet's probe

Both tokens are files (Alertmanager's `http_config.authorization.credentials_file` names
the same file as --token-file), compared in constant time, never accepted in the query
string: a request with one is refused before anything else, so a token sent that way is
never checked, and the sender learns why. The webhook answers 202 once the alerts are
queued (decisions follow on the worker thread), 503 when the queue is full (Alertmanager
retries), and a 4xx that says what is wrong for anything else.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from ops.heal.credentials import BearerToken
from ops.heal.healer import Busy, Healer
from ops.heal.payload import MAX_BYTES, PayloadError, parse
from ops.heal.store import StoreError, Unknown
from ops.web import JsonHandler, JsonServer

ALERTS = "/v1/alerts"
APPROVALS = re.compile(r"^/v1/approvals/([^/]*)$")
APPROVAL_ID = re.compile(r"^[0-9a-f]{12}$")
# A body must arrive within this, however slowly its bytes trickle in.
BODY_SECONDS = 10.0


class HealServer(JsonServer):
    def __init__(
        self, address: tuple[str, int], healer: Healer, webhook: BearerToken, approvals: BearerToken | None
    ) -> None:
        super().__init__(address, Handler)
        self.healer, self.webhook, self.approvals = healer, webhook, approvals


class Handler(JsonHandler):
    server: HealServer
    server_version = "ops-heal"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self.health():
            self.answer(404 if urlsplit(self.path).path != ALERTS else 405, {"error": "POST /v1/alerts"})

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        if url.query:
            return self.answer(400, {"error": "no query string is read; send the token as `Authorization: Bearer`"})
        approval = APPROVALS.match(url.path)
        if url.path == ALERTS:
            token = self.server.webhook
        elif approval and self.server.approvals is not None:
            token = self.server.approvals
        elif approval:
            return self.answer(404, {"error": "approvals over HTTP are off (no --approval-token-file)"})
        else:
            return self.answer(404, {"error": f"no such path {url.path[:100]!r}; try {ALERTS}"})
        if not token.accepts(self.headers.get("Authorization")):
            return self.answer(401, {"error": "a valid `Authorization: Bearer <token>` header is required"})
        if approval:
            return self._approve(approval[1])
        return self._alerts()

    def _alerts(self) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return self.answer(415, {"error": f"Content-Type is {content_type[:60]!r}; expected application/json"})
        if self.headers.get("Transfer-Encoding"):
            return self.answer(411, {"error": "send the body with a Content-Length, not chunked"})
        length_text = self.headers.get("Content-Length") or ""
        if not length_text.isdigit():
            return self.answer(411, {"error": "a Content-Length header (bytes) is required"})
        length = int(length_text)
        if length > MAX_BYTES:
            return self.answer(413, {"error": f"the body is {length} bytes; expected at most {MAX_BYTES}"})
        body = self._read(length)
        if body is None:
            return self.answer(408, {"error": f"the body did not arrive within {BODY_SECONDS:g} s"})
        try:
            notification = parse(body)
        except PayloadError as problem:
            return self.answer(400, {"error": str(problem)})
        try:
            counts = self.server.healer.receive(notification)
        except Busy as busy:
            return self.answer(503, {"error": str(busy)})
        self.answer(202, counts)

    def _read(self, length: int) -> bytes | None:
        deadline, chunks, left = time.monotonic() + BODY_SECONDS, [], length
        while left > 0:
            if time.monotonic() > deadline:
                return None
            try:
                chunk = self.rfile.read1(min(left, 65536))
            except TimeoutError:
                return None
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _approve(self, identifier: str) -> None:
        if not APPROVAL_ID.match(identifier):
            return self.answer(400, {"error": "an approval id is 12 hexadecimal digits, as the audit line gives it"})
        try:
            pending = self.server.healer.approve(identifier, by="http")
        except Unknown as unknown:
            return self.answer(404, {"error": str(unknown)})
        except StoreError as refused:
            return self.answer(409, {"error": str(refused)})
        self.answer(202, {"id": pending.id, "state": pending.state})
