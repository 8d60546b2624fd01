"""The small HTTP servers of the ops image (`ops canary serve`, `ops chaos guard`): JSON
answers, `/healthz` for the kubelet's probes, no request log (query strings stay out of
the logs), and connections that send nothing closed after a while (no slow-loris threads)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEALTH_PATH = "/healthz"


class JsonServer(ThreadingHTTPServer):
    daemon_threads = True


class JsonHandler(BaseHTTPRequestHandler):
    sys_version = ""
    # A connection that sends nothing for this long is closed.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass  # what a server decides is in its caller's records, not in a request log

    def answer(self, status: int, body: dict[str, Any]) -> None:
        encoded = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def health(self) -> bool:
        """Answers the kubelet's probe if that is what was asked: the process serves,
        whatever its upstreams do."""
        if self.path.split("?", 1)[0] != HEALTH_PATH:
            return False
        self.answer(200, {"status": "ok"})
        return True
