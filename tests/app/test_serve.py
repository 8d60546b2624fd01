"""`python -m app serve` as a real process: HOST and PORT, no banner, graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_serve_honours_host_and_port_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_ENVIRONMENT": "test",
        "APP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
    }
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert "server" not in response.headers
        server.send_signal(signal.SIGTERM)
        # uvicorn finishes its shutdown, then re-raises the signal so the exit status says why.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    output = server.stdout.read().decode()
    assert '"event": "Shutting down"' in output and '"event": "Application shutdown complete."' in output


class SlowUpstream(BaseHTTPRequestHandler):
    """An upstream that takes 2 s to answer: a request still in flight at SIGTERM."""

    received = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        SlowUpstream.received.set()
        time.sleep(2)  # the fault: a slow upstream
        body = json.dumps({"choices": [{"text": "late", "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_sigterm_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), SlowUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_ENVIRONMENT": "test",
        "APP_MODELS": "m",
        "APP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/drain.db",
        "APP_UPSTREAM_URL": f"http://127.0.0.1:{upstream.server_port}",
    }
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True)
    key = (
        subprocess.run(
            [sys.executable, "-m", "app", "keys", "create", "--name", "drain"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/readyz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        answers: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"http://127.0.0.1:{port}/v1/completions",
                    json={"model": "m", "prompt": "hi"},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=10,
                )
            )
        )
        SlowUpstream.received.clear()
        request.start()
        assert SlowUpstream.received.wait(15), "the request never reached the upstream"
        server.send_signal(signal.SIGTERM)  # while the request waits on the upstream
        request.join(timeout=15)
        assert answers and answers[0].status_code == 200 and answers[0].json()["choices"][0]["text"] == "late"
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        upstream.shutdown()
