"""The drill's inference upstream: a small OpenAI-compatible server on 127.0.0.1 that the
API's `APP_UPSTREAM_URL` points at (through a fault proxy link).

`POST /v1/completions` answers as a model that writes until its `max_tokens` limit:
`max_tokens` words, `finish_reason` "length", and the usage it reports says so. The
drill's writes use that: each one asks for its sequence number in `max_tokens`, so its
usage row carries that number whether it was settled or is still reserved.
`GET /v1/models` lists the one model. A request without the bearer token it was given
is a 401, as a real upstream's would be.

The drill makes it fail on purpose: `PUT /stub/status` with `{"status": 500}` makes every
completion answer that status, `{"status": 200}` mends it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "stub-1"
CONTROL_PATH = "/stub/status"


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, token: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.token = token
        self.status = 200
        self.lock = threading.Lock()
        self.completions = 0


class _Handler(BaseHTTPRequestHandler):
    server: Upstream
    protocol_version = "HTTP/1.1"  # keep-alive, as the API's client expects

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._answer(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._answer(404, {"error": {"message": "not found"}})

    def do_PUT(self) -> None:
        body = self._body()
        if self.path != CONTROL_PATH or not isinstance(body.get("status"), int) or not 200 <= body["status"] <= 599:
            self._answer(400, {"error": {"message": f"PUT {CONTROL_PATH} with {{'status': 200..599}}"}})
            return
        with self.server.lock:
            self.server.status = body["status"]
        self._answer(200, {"status": body["status"]})

    def do_POST(self) -> None:
        body = self._body()
        if self.path != "/v1/completions":
            self._answer(404, {"error": {"message": "not found"}})
            return
        if self.headers.get("authorization") != f"Bearer {self.server.token}":
            self._answer(401, {"error": {"message": "invalid token"}})
            return
        with self.server.lock:
            status = self.server.status
            self.server.completions += 1
        if status != 200:
            self._answer(status, {"error": {"message": f"the stub answers {status}, as the drill asked"}})
            return
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096:
            self._answer(400, {"error": {"message": "max_tokens must be 1 to 4096"}})
            return
        prompt_tokens = len(str(body.get("prompt", "")).split())
        self._answer(
            200,
            {
                "object": "text_completion",
                "model": body.get("model", MODEL),
                "choices": [{"index": 0, "text": " ".join(["token"] * max_tokens), "finish_reason": "length"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": max_tokens,
                    "total_tokens": prompt_tokens + max_tokens,
                },
            },
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.chaos.upstream_stub", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-file", required=True, help="the bearer token callers must present")
    arguments = parser.parse_args(argv)
    with open(arguments.token_file, encoding="utf-8") as file:
        token = file.read().strip()
    server = Upstream(arguments.port, token)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
